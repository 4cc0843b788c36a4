"""``python -m ennakoiva`` runs the CLI."""

from ennakoiva.interfaces.cli.main import run

run()
