"""Data engines: the only package that imports duckdb (and, later, pyspark)."""

from ennakoiva.adapters.engine.arrow_schema import arrow_schema
from ennakoiva.adapters.engine.duckdb_engine import DuckDBEngine

__all__ = ["DuckDBEngine", "arrow_schema"]
