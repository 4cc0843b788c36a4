"""Errors print one clear line and exit non-zero: no tracebacks for people at a terminal."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

__all__ = ["clean_errors"]

F = TypeVar("F", bound=Callable[..., Any])
_err = Console(stderr=True)


def clean_errors(func: F) -> F:
    """Turn any unexpected exception into ``error: <message>`` and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            _err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
            if "ENNAKOIVA_DEBUG" in __import__("os").environ:
                raise
            sys.stderr.flush()
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]
