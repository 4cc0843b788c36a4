"""Benchmark the operational store on SQLite and PostgreSQL: decisions, audit appends, verification.

Usage:  .venv/bin/python benchmarks/bench_store.py [--records 1000000] [--audit 1000000]
                                                  [--engines sqlite,postgresql] [--pg-url URL]

For each engine, in a fresh store (an SQLite file in a temporary folder; a new schema in the
PostgreSQL database, dropped afterwards):

1. Bulk-loads ``--records`` consent records with their hash-chained events (COPY on PostgreSQL, one
   executemany transaction on SQLite); a fifth of the subjects have an older, withdrawn record too.
2. Audit appends: ``--audit`` entries through ``SqlAuditLog.append_many`` in batches of
   ``--batch`` (sustained rate), and the naive way — one transaction per entry — for a few seconds.
3. ``verify_chain`` (the domain's) over the whole log through the repository's paged iterator,
   with the floor beside it: the same rows fetched raw from the driver, unconverted.
4. Decisions: for random subjects, load their records (``SqlConsentStore.for_subject``) and call the
   domain's ``decide``; p50/p95/p99/max. Also with the periodic-use count from the audit log, which
   the daycare-fee purpose needs, and the floor: the bare SQL of the lookup.

Targets (issue 3): decision p99 <= 2 ms, appends >= 5 000/s sustained, verify of 1 000 000 <= 10 s.
Figures are printed as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from ennakoiva.adapters.stores import SqlAuditLog, SqlConsentStore, create_engine, sqlite_url, upgrade
from ennakoiva.adapters.stores.database import reader
from ennakoiva.domain.consent.audit import AuditRecord, verify_chain
from ennakoiva.domain.consent.decision import AccessRequest, Actor, ConsentHistory, decide, period_start
from ennakoiva.domain.consent.purposes import default_purposes
from ennakoiva.domain.consent.records import GENESIS_HASH, SCHEMA_VERSION, Party, event_hash, new_record
from ennakoiva.platform.audit_verification import verify_audit
from ennakoiva.platform.settings import Settings

PURPOSE_ID = "daycare-fee-income-check"
T0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
FIRST_SUBJECT = 10_000_000
ACTOR = Actor(id="caseworker-17", role="fee-officer", service="early-childhood-education")
RECORD_COLUMNS = ("record_id", "schema_version", "subject_id", "covered_subjects", "purpose_id", "purpose_version",
                  "notice_version", "notice_sha256", "language", "controller_id", "legal_basis", "data_categories",
                  "required_parties", "withdrawal_method", "jurisdiction", "created_at", "valid_until", "active_key")
FLOOR_SQL = ("SELECT seq, at, actor_id, role, service, purpose_id, subject_id, categories, decision, reason, "
             "policy_version, consent_record_id, request_id, prev_hash, hash FROM audit_entry ORDER BY seq")
EVENT_COLUMNS = ("record_id", "seq", "state", "party_id", "party_role", "auth_method", "channel", "at", "valid_until",
                 "prev_hash", "hash")


# -- synthetic consents ---------------------------------------------------------------------------

def consent_rows(n: int, seed: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
    """``n`` record rows and their event rows (Python values), and how many subjects they cover.

    Subjects ``FIRST_SUBJECT + k``; for the first fifth of them an older record, withdrawn, comes
    first. Event hashes are the domain's (``event_hash`` over the same payload ``ConsentEvent`` uses).
    """
    purpose = default_purposes()[PURPOSE_ID]
    rng = random.Random(seed)
    twice = n // 6  # subjects with an old, withdrawn record as well: n = subjects + twice
    subjects = n - twice
    validity = timedelta(days=purpose.consent_validity_days or 365)
    common = (SCHEMA_VERSION, purpose.version, purpose.notice.version, purpose.notice.sha256, "fi",
              purpose.controller.id, purpose.legal_basis.value, json.dumps(list(purpose.data_categories)))
    method = (purpose.withdrawal_method or {})["fi"]
    records: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []

    def add(subject: int, created: datetime, withdrawn_at: datetime | None) -> None:
        record_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        party = {"person_id": subject, "role": "self", "auth_method": "suomi.fi-strong", "channel": "web"}
        until = created + validity
        active_key = None if withdrawn_at else f"{subject}|{PURPOSE_ID}"
        records.append((record_id, common[0], subject, "[]", PURPOSE_ID, *common[1:7], common[7],
                        json.dumps([subject]), method, "FI", created, until, active_key))
        payload = {"record_id": record_id, "seq": 1, "state": "given", "party": party, "at": created.isoformat(),
                   "valid_until": until.isoformat()}
        h1 = event_hash(GENESIS_HASH, payload)
        events.append((record_id, 1, "given", subject, "self", "suomi.fi-strong", "web", created, until,
                       GENESIS_HASH, h1))
        if withdrawn_at:
            payload = {"record_id": record_id, "seq": 2, "state": "withdrawn", "party": party,
                       "at": withdrawn_at.isoformat(), "valid_until": None}
            events.append((record_id, 2, "withdrawn", subject, "self", "suomi.fi-strong", "web", withdrawn_at, None,
                           h1, event_hash(h1, payload)))

    for k in range(subjects):
        subject = FIRST_SUBJECT + k
        created = T0 + timedelta(seconds=rng.randrange(86_400 * 30))
        if k < twice:
            add(subject, created - timedelta(days=60), created - timedelta(days=30))
        add(subject, created, None)
    return records, events, subjects


def _sqlite_text(value: Any) -> Any:
    # The text SQLAlchemy's SQLite DateTime stores (UTC wall time; see schema.UtcDateTime).
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def bulk_load(engine: Engine, records: list[tuple[Any, ...]], events: list[tuple[Any, ...]]) -> None:
    record_sql = f"({', '.join(RECORD_COLUMNS)})"
    event_sql = f"({', '.join(EVENT_COLUMNS)})"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")
            cursor.executemany(f"INSERT INTO consent_record {record_sql} VALUES ({', '.join('?' * 18)})",
                               ([_sqlite_text(v) for v in row] for row in records))
            cursor.executemany(f"INSERT INTO consent_event {event_sql} VALUES ({', '.join('?' * 11)})",
                               ([_sqlite_text(v) for v in row] for row in events))
            cursor.execute("COMMIT")
            cursor.execute("ANALYZE")
        else:
            with cursor.copy(f"COPY consent_record {record_sql} FROM STDIN") as copy:
                for row in records:
                    copy.write_row(row)
            with cursor.copy(f"COPY consent_event {event_sql} FROM STDIN") as copy:
                for row in events:
                    copy.write_row(row)
            raw.commit()
            cursor.execute("ANALYZE consent_record")
            cursor.execute("ANALYZE consent_event")
            raw.commit()
        cursor.close()
    finally:
        raw.close()


# -- measurements ---------------------------------------------------------------------------------

def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50_ms": round(q[49], 3), "p95_ms": round(q[94], 3), "p99_ms": round(q[98], 3),
            "max_ms": round(ms[-1], 3), "n": len(ms)}


def audit_pool(size: int, subjects: int, seed: int) -> list[AuditRecord]:
    rng = random.Random(seed)
    return [AuditRecord(at=T0 + timedelta(days=40, milliseconds=i), actor_id=f"caseworker-{i % 40}",
                        role="fee-officer", service="early-childhood-education", purpose_id=PURPOSE_ID,
                        subject_id=FIRST_SUBJECT + rng.randrange(subjects), categories=("income", "family"),
                        decision="permit" if i % 4 else "deny", reason="consent_active" if i % 4 else "no_consent",
                        policy_version="access-policy/1", request_id=f"req-{i}") for i in range(size)]


def bench_appends(log: SqlAuditLog, total: int, batch: int, pool: list[AuditRecord]) -> dict[str, Any]:
    started = time.perf_counter()
    done = 0
    while done < total:
        size = min(batch, total - done)
        start = done % len(pool)
        chunk = pool[start:start + size]
        if len(chunk) < size:
            chunk = chunk + pool[:size - len(chunk)]
        log.append_many(chunk)
        done += size
    batched = time.perf_counter() - started
    single, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 3.0:
        log.append(pool[single % len(pool)])
        single += 1
    single_s = time.perf_counter() - t0
    return {"entries": total, "batch": batch, "batched_per_s": round(total / batched),
            "batched_seconds": round(batched, 2), "single_per_s": round(single / single_s),
            "single_is": "one append() per entry, one transaction each (the naive way)"}


def raw_fetch_seconds(engine: Engine, url: str) -> float:
    """The floor of a verification walk: every audit row fetched by the bare driver, unconverted."""
    started = time.perf_counter()
    if engine.dialect.name == "sqlite":
        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        cursor = con.execute(FLOOR_SQL)
        while cursor.fetchmany(50_000):
            pass
        con.close()
    else:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor(name="floor")  # server-side cursor
            cursor.execute(FLOOR_SQL.replace("categories", "categories::text"))
            while cursor.fetchmany(50_000):
                pass
            cursor.close()
            raw.rollback()
        finally:
            raw.close()
    return time.perf_counter() - started


def bench_verify(log: SqlAuditLog, key: bytes, engine: Engine, url: str, work: Path) -> dict[str, Any]:
    log.checkpoint(datetime.now(UTC))
    started = time.perf_counter()
    report = verify_chain(log.entries(), log.checkpoints(), key)
    seconds = time.perf_counter() - started
    # what `ennakoiva audit verify` does: the same walk in parallel ranges, one process per core
    key_file = work / f"{engine.dialect.name}-audit.key"
    key_file.write_text(key.hex())
    key_file.chmod(0o600)
    settings = Settings(db_url=url, audit_key_file=key_file,
                        audit_checkpoint_file=log.checkpoint_file or work / "none.jsonl")
    started = time.perf_counter()
    parallel = verify_audit(settings)
    parallel_seconds = time.perf_counter() - started
    started = time.perf_counter()
    walked = sum(1 for _ in log.entries())
    walk = time.perf_counter() - started
    floor = raw_fetch_seconds(engine, url)
    return {"entries": report.entries, "ok": report.ok, "seconds": round(seconds, 2),
            "parallel_seconds": round(parallel_seconds, 2), "parallel_ok": parallel.ok,
            "parallel_workers": os.cpu_count(),
            "iterator_only_seconds": round(walk, 2), "walked": walked, "floor_raw_fetch_seconds": round(floor, 2),
            "ratio_to_floor": round(seconds / floor, 1)}


def bench_decisions(engine: Engine, store: SqlConsentStore, log: SqlAuditLog, subjects: int, lookups: int,
                    seed: int) -> dict[str, Any]:
    purposes = default_purposes()
    purpose = purposes[PURPOSE_ID]
    rng = random.Random(seed + 1)  # not the audit pool's sequence of subjects
    at = T0 + timedelta(days=45)
    since = period_start(purpose, at)

    def one(subject: int, with_uses: bool) -> str:
        found = store.for_subject(subject, PURPOSE_ID)
        uses = log.count_permits(subject, PURPOSE_ID, since) if with_uses and since is not None else 0
        histories = [ConsentHistory(record=r, events=tuple(e), uses_in_period=uses) for r, e in found]
        request = AccessRequest(actor=ACTOR, purpose_id=PURPOSE_ID, subject_id=subject, categories=("income",),
                                at=at)
        return decide(request, purposes, histories).reason

    def timed(fn: Callable[[int], Any]) -> list[float]:
        for _ in range(200):  # warm the statement caches and the pool
            fn(FIRST_SUBJECT + rng.randrange(subjects))
        out = []
        for _ in range(lookups):
            subject = FIRST_SUBJECT + rng.randrange(subjects)
            t0 = time.perf_counter()
            fn(subject)
            out.append(time.perf_counter() - t0)
        return out

    reasons: dict[str, int] = {}
    for _ in range(200):
        reason = one(FIRST_SUBJECT + rng.randrange(subjects), with_uses=True)
        reasons[reason] = reasons.get(reason, 0) + 1
    floor_sql = text("SELECT r.record_id, e.seq FROM consent_record r JOIN consent_event e "
                     "ON e.record_id = r.record_id WHERE r.subject_id = :s AND r.purpose_id = :p")

    def bare(subject: int) -> None:
        with reader(engine).connect() as conn:
            conn.execute(floor_sql, {"s": subject, "p": PURPOSE_ID}).all()

    return {
        "load_and_decide": percentiles(timed(lambda s: one(s, with_uses=False))),
        "load_count_uses_and_decide": percentiles(timed(lambda s: one(s, with_uses=True))),
        "floor_bare_sql_lookup": percentiles(timed(bare)),
        "sample_reasons": reasons,
    }


def settle(engine: Engine) -> None:
    """Let the database finish the bulk work (statistics, WAL) so lookups are measured in steady state."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("VACUUM ANALYZE")
            conn.exec_driver_sql("CHECKPOINT")


def check_loaded_hashes(store: SqlConsentStore, subjects: int) -> bool:
    """The bulk-loaded events carry the hashes the domain computes (spot check)."""
    for subject in (FIRST_SUBJECT, FIRST_SUBJECT + subjects - 1):
        for _, events in store.for_subject(subject):
            for e in events:
                if event_hash(e.prev_hash, e.payload()) != e.hash:
                    return False
    return True


@contextlib.contextmanager
def fresh_store(kind: str, pg_url: str, work: Path) -> Iterator[str]:
    if kind == "sqlite":
        path = work / "bench-store.sqlite3"
        yield sqlite_url(path)
        for p in work.glob("bench-store.sqlite3*"):
            p.unlink()
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{pg_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def run_engine(kind: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with fresh_store(kind, args.pg_url, work) as url:
        upgrade(url)
        engine = create_engine(url, pool_size=2) if kind == "postgresql" else create_engine(url)
        try:
            t0 = time.perf_counter()
            records, events, subjects = consent_rows(args.records, args.seed)
            t1 = time.perf_counter()
            bulk_load(engine, records, events)
            t2 = time.perf_counter()
            del records, events
            store = SqlConsentStore(engine)
            out["consents"] = {"records": store.count(), "subjects": subjects, "generate_seconds": round(t1 - t0, 1),
                               "bulk_load_seconds": round(t2 - t1, 1),
                               "hashes_match_domain": check_loaded_hashes(store, subjects)}
            key = os.urandom(32)
            log = SqlAuditLog(engine, key=key, checkpoint_file=work / f"{kind}-checkpoints.jsonl")
            out["audit_appends"] = bench_appends(log, args.audit, args.batch, audit_pool(20_000, subjects, args.seed))
            out["audit_verify"] = bench_verify(log, key, engine, url, work)
            settle(engine)
            out["decisions"] = bench_decisions(engine, store, log, subjects, args.lookups, args.seed)
        finally:
            engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--audit", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=1_000)
    ap.add_argument("--lookups", type=int, default=5_000)
    ap.add_argument("--engines", default="sqlite,postgresql")
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@localhost/test")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="work folder (default: a temporary one, removed)")
    args = ap.parse_args()
    # sanity: the synthetic rows are what the domain itself would build
    new_record(default_purposes()[PURPOSE_ID], FIRST_SUBJECT, Party(person_id=FIRST_SUBJECT, role="self",
               auth_method="suomi.fi-strong"), at=T0, language="fi")
    work = args.keep or Path(tempfile.mkdtemp(prefix="ennakoiva-bench-store-"))
    work.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform()},
        "targets": {"decision_p99_ms": 2.0, "appends_per_s": 5_000, "verify_1m_seconds": 10.0},
    }
    try:
        for kind in args.engines.split(","):
            figures[kind] = run_engine(kind.strip(), args, work)
            print(f"{kind}: {json.dumps(figures[kind])}", file=sys.stderr)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
