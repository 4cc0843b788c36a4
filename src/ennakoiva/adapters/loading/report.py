"""What a load did, file by file: the accounting ``read = loaded + rejected`` made visible."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FileReport", "LoadReport"]


@dataclass
class FileReport:
    """One source file: how many data rows were read, loaded (new or replaced) and rejected.

    ``problems`` counts rows in the rejects file (a row can have several problems); ``error`` is
    set when the whole file was rejected, in which case every row it has counts as rejected.
    """

    table: str
    file: str
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    replaced: int = 0
    problems: int = 0
    error: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def inserted(self) -> int:
        return self.loaded - self.replaced

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table, "file": self.file, "read": self.read, "loaded": self.loaded,
            "rejected": self.rejected, "replaced": self.replaced, "inserted": self.inserted,
            "problems": self.problems, "error": self.error, "encoding": self.encoding,
            "delimiter": self.delimiter, "warnings": list(self.warnings),
        }


@dataclass
class LoadReport:
    """Every file of one load, with totals and the verdict against the rejected-share threshold."""

    source_dir: Path
    rejects_path: Path
    max_reject_share: float
    files: list[FileReport] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def read(self) -> int:
        return sum(f.read for f in self.files)

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def replaced(self) -> int:
        return sum(f.replaced for f in self.files)

    @property
    def problems(self) -> int:
        return sum(f.problems for f in self.files)

    @property
    def failed_files(self) -> list[FileReport]:
        """Files rejected as a whole (missing columns, undecodable, unreadable Parquet, …)."""
        return [f for f in self.files if f.error is not None]

    @property
    def rejected_share(self) -> float:
        return self.rejected / self.read if self.read else 0.0

    @property
    def ok(self) -> bool:
        """Whether the load is acceptable: few enough rejected rows and no file rejected as a whole.

        A wholly rejected file fails the load even when it had no rows to count, so that an
        unreadable file can never pass unnoticed.
        """
        return self.rejected_share <= self.max_reject_share and not self.failed_files

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_dir": str(self.source_dir), "rejects_path": str(self.rejects_path),
            "files": [f.as_dict() for f in self.files], "skipped": list(self.skipped),
            "read": self.read, "loaded": self.loaded, "rejected": self.rejected,
            "replaced": self.replaced, "problems": self.problems,
            "rejected_share": self.rejected_share, "max_reject_share": self.max_reject_share,
            "ok": self.ok,
        }
