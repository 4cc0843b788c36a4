"""Helpers for service-definition tests: a writable copy of a shipped definition, line lookup."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ennakoiva.domain.services import SERVICES_DIR

__all__ = ["Edit", "copy_edited", "line_of"]

Edit = Callable[[str, Callable[[str], str]], Path]


def copy_edited(folder: Path, service_id: str, change: Callable[[str], str]) -> Path:
    """The shipped ``service_id`` file passed through ``change``, written alone into ``folder``."""
    text = (SERVICES_DIR / f"{service_id}.yaml").read_text(encoding="utf-8")
    path = folder / f"{service_id}.yaml"
    path.write_text(change(text), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")
