"""The one exception the loader raises: a problem that rejects a whole file (or the whole load)."""

from __future__ import annotations

__all__ = ["LoadError"]


class LoadError(ValueError):
    """A file (or the folder) cannot be loaded at all.

    The message names the file and, where it helps, the line and column; ``line`` and ``column``
    carry the same for the rejects file. Row-level problems never raise: they become rejects.
    """

    def __init__(self, message: str, *, line: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
