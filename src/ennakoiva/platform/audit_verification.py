"""Verify the whole audit log, in parallel ranges when it is long.

Each worker process opens its own connection, walks one range of sequence numbers from the stored
hash of the entry before it, and recomputes every hash in the range; the last range also checks the
signed checkpoints for truncation. Together the ranges prove the whole chain (see
``verify_chain``), and the report names the first bad entry across all of them.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import takewhile

from ennakoiva.adapters.stores import SqlAuditLog, create_engine, read_checkpoint_file
from ennakoiva.domain.consent.audit import GENESIS, Checkpoint, VerifyReport, verify_chain
from ennakoiva.platform.settings import Settings

__all__ = ["verify_audit"]

MIN_ENTRIES_PER_WORKER = 100_000


def _checkpoints(settings: Settings, audit: SqlAuditLog) -> list[Checkpoint]:
    found = {cp.seq: cp for cp in audit.checkpoints()}
    if settings.audit_checkpoint_file.exists():
        # the external copy wins: a database that lost its tail also lost its own checkpoints
        found.update({cp.seq: cp for cp in read_checkpoint_file(settings.audit_checkpoint_file)})
    return list(found.values())


def _verify_range(db_url: str, first: int, last: int, start_hash: str, checkpoints: Sequence[Checkpoint],
                  key: bytes | None, final: bool) -> VerifyReport:
    engine = create_engine(db_url)
    try:
        audit = SqlAuditLog(engine)
        entries = takewhile(lambda e: e.seq <= last, audit.entries(from_seq=first))
        report = verify_chain(entries, checkpoints, key, start_seq=first, start_hash=start_hash, final=final)
    finally:
        engine.dispose()
    walked_to = first + report.entries - 1
    if report.ok and walked_to != last:
        return VerifyReport(ok=False, entries=report.entries, first_bad_seq=walked_to + 1,
                            problem="entry missing or reordered", last_hash=report.last_hash)
    return report


def verify_audit(settings: Settings, *, workers: int | None = None) -> VerifyReport:
    """Verify every entry up to the current head against the signed checkpoints."""
    key = settings.audit_key(create=False) if settings.audit_key_file.exists() else None
    engine = create_engine(settings.db_url)
    try:
        audit = SqlAuditLog(engine)
        checkpoints = _checkpoints(settings, audit)
        head, _ = audit.last()
        n = max(1, min(workers or os.cpu_count() or 1, head // MIN_ENTRIES_PER_WORKER))
        bounds = [(1 + head * i // n, head * (i + 1) // n) for i in range(n)]
        starts = [GENESIS]
        for first, _last in bounds[1:]:
            before = next(audit.entries(from_seq=first - 1), None)
            starts.append(before.hash if before is not None and before.seq == first - 1 else GENESIS)
    finally:
        engine.dispose()
    if head == 0:
        return verify_chain([], checkpoints, key)
    jobs = [(settings.db_url, first, last, start, checkpoints, key, i == n - 1)
            for i, ((first, last), start) in enumerate(zip(bounds, starts, strict=True))]
    if n == 1:
        reports = [_verify_range(*jobs[0])]
    else:
        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
            reports = list(pool.map(_verify_range, *zip(*jobs, strict=True)))
    done = 0
    for report in reports:
        if not report.ok:
            return report.model_copy(update={"entries": done + report.entries})
        done += report.entries
    return VerifyReport(ok=True, entries=done, last_hash=reports[-1].last_hash)
