"""The same seed gives byte-identical tables; another seed gives another city."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.platform.inspection import database_info, export_database
from ennakoiva.platform.synthesis import synthesise_city


def _build(root: Path, seed: int) -> Path:
    db = root / f"city-{seed}.duckdb"
    synthesise_city(db, root / f"truth-{seed}.duckdb", residents=4_000, seed=seed)
    return db


def _exported_hashes(db: Path, out: Path) -> dict[str, str]:
    return {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in export_database(db, out, "parquet")}


def test_same_seed_gives_byte_identical_tables(tmp_path: Path) -> None:
    a, b = _build(tmp_path / "a", 11), _build(tmp_path / "b", 11)
    info_a, info_b = database_info(a), database_info(b)
    assert [t["fingerprint"] for t in info_a["tables"]] == [t["fingerprint"] for t in info_b["tables"]]
    assert info_a["total_rows"] > 4_000
    hashes_a = _exported_hashes(a, tmp_path / "export-a")
    assert hashes_a == _exported_hashes(b, tmp_path / "export-b")
    with DuckDBEngine(a, read_only=True) as ea, DuckDBEngine(b, read_only=True) as eb:
        for name in ea.table_names():
            assert ea.read(name).equals(eb.read(name)), name


def test_another_seed_gives_another_city(tmp_path: Path) -> None:
    a, b = _build(tmp_path / "a", 11), _build(tmp_path / "b", 12)
    fa = {t["name"]: t["fingerprint"] for t in database_info(a)["tables"]}
    fb = {t["name"]: t["fingerprint"] for t in database_info(b)["tables"]}
    assert fa["person"] != fb["person"]


def test_truth_is_a_separate_file_and_never_in_the_city(tmp_path: Path) -> None:
    db = _build(tmp_path, 3)
    with DuckDBEngine(db, read_only=True) as engine:
        assert not [t for t in engine.table_names() if t.startswith("truth")]
    with DuckDBEngine(tmp_path / "truth-3.duckdb", read_only=True) as truth:
        assert "truth_parameters" in truth.table_names()
