"""Loading a city's own data: a folder of CSV or Parquet files, one per registry table.

Every row is checked against the registry (types, NOT NULL, code systems, ranges, primary and
foreign keys); good rows are upserted through the engine, the rest go to a rejects file with the
file, line, column and reason. ``ennakoiva load`` is the command-line face of ``load_folder``.
This package never imports duckdb: it talks to the database only through the engine passed in.
"""

from ennakoiva.adapters.loading.errors import LoadError
from ennakoiva.adapters.loading.folder import SourceFormat, find_source_files, load_folder
from ennakoiva.adapters.loading.rejects import REJECT_COLUMNS
from ennakoiva.adapters.loading.report import FileReport, LoadReport
from ennakoiva.adapters.loading.staged import (
    Rejection,
    StagedFileReport,
    StagedLoadReport,
    StagedRows,
    load_staged,
)

__all__ = ["REJECT_COLUMNS", "FileReport", "LoadError", "LoadReport", "Rejection", "SourceFormat",
           "StagedFileReport", "StagedLoadReport", "StagedRows", "find_source_files", "load_folder", "load_staged"]
