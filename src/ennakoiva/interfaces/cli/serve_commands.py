"""``ennakoiva serve``: the web service (API and pages) on the city database, with uvicorn.

This is the one CLI module allowed to import the API (an import-linter contract says so): the CLI
starts the server; it never calls routes, and the API never imports the CLI.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ennakoiva.interfaces.cli.errors import clean_errors
from ennakoiva.platform.platform import Platform, build_platform
from ennakoiva.platform.settings import Settings

__all__ = ["print_logins", "serve", "serve_demo", "serve_platform"]

console = Console()


def print_logins(platform: Platform, host: str, port: int) -> None:
    """The address and how to log in (demo users and the per-run password, or the OIDC issuer)."""
    console.print(f"[bold]Ennakoiva is running at http://{host}:{port}/[/]  (API docs: http://{host}:{port}/docs)")
    if platform.settings.auth_mode == "oidc":
        console.print(f"Log in through {platform.settings.oidc_issuer} (OpenID Connect).")
        return
    table = Table(title="Demo users (password for all: " + platform.demo_password + ")")
    for col in ("user", "role", "name", "person id"):
        table.add_column(col)
    for user in platform.users:
        table.add_row(user.username, user.role, user.display_name, str(user.person_id or ""))
    console.print(table)
    console.print("API: POST /api/session {\"username\": …, \"password\": …} → send the token as "
                  "'Authorization: Bearer <token>'. Stop with Ctrl+C.")


def serve_platform(platform: Platform, host: str, port: int) -> None:
    """Run uvicorn on ``platform`` until interrupted; the access log is the app's own (no ids)."""
    import uvicorn  # noqa: PLC0415 - only the serve command needs the server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from ennakoiva.interfaces.api import create_app  # noqa: PLC0415 - FastAPI loads only when serving

    app = create_app(platform)
    print_logins(platform, host, port)
    try:
        uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
    finally:
        platform.close()


@clean_errors
def serve(db: Annotated[Path, typer.Option("--db", help="DuckDB file of the city.")] = Path("ennakoiva.duckdb"),
          host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000) -> None:
    """Serve the API and the pages (fi/sv/en) on the city database."""
    if not db.exists():
        raise FileNotFoundError(f"no city database at {db} (create one with `ennakoiva synth`)")
    serve_platform(build_platform(Settings(), city=db), host, port)


def serve_demo(settings: Settings, db: Path, port: int) -> None:
    """The end of ``make demo``: serve the synthetic city with its own store in the demo folder.

    The web store is separate from the consent story's (which starts afresh each run) so that what
    a demo user did in the browser survives a restart of the server, not of the demo.
    """
    folder = settings.demo_dir
    web = settings.model_copy(update={"db_url": f"sqlite:///{folder / 'web-store.sqlite3'}",
                                      "audit_key_file": folder / "audit.key",
                                      "audit_checkpoint_file": folder / "web-checkpoints.jsonl",
                                      "sms_simulator_file": folder / "web-sms-simulator.sqlite3",
                                      "employment_models": folder / "employment-models"})
    # Employment service 2.0 answers from a promoted model: the first demo start trains one (~15 s)
    from ennakoiva.platform.employment_models import ensure_promoted_model  # noqa: PLC0415 - scikit-learn

    with console.status("training the employment-service model on the city's job seekers…"):
        version, trained = ensure_promoted_model(web, db)
    console.print(f"Employment service 2.0: model version {version} {'trained and ' if trained else ''}promoted.")
    serve_platform(build_platform(web, city=db), "127.0.0.1", port)
