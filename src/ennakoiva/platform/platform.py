"""The composition root of the web service: ``build_platform(settings) -> Platform``.

Nothing is built at import time. ``build_platform`` opens (and migrates) the operational store,
refreshes the precomputed overview when the city database changed, and picks the demo residents
from the city. The city database is opened read-only, one connection per request
(:meth:`Platform.city`): DuckDB shares one database instance within a process, so a connection is
cheap, and no connection is shared between threads.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.domain.consent.audit import AuditEntry, AuditRecord
from ennakoiva.domain.registry import Registry, default_registry
from ennakoiva.platform.campaign_console import CampaignConsole
from ennakoiva.platform.demo_users import DemoUser, demo_residents, demo_users, seed_demo_consents
from ennakoiva.platform.operational import Operational, open_operational
from ennakoiva.platform.overview import Overview, refresh_overview
from ennakoiva.platform.settings import Settings

__all__ = ["CityUnavailableError", "Platform", "SerializedAuditLog", "build_platform"]


class _Pending:
    __slots__ = ("done", "entry", "error", "record")

    def __init__(self, record: AuditRecord) -> None:
        self.record = record
        self.done = False
        self.entry: AuditEntry | None = None
        self.error: BaseException | None = None


class SerializedAuditLog:
    """The audit log with in-process group commit: concurrent appends share one transaction.

    Appends are serial by nature — each entry's hash covers the previous one, and the store locks
    the chain head — and SQLite has one writer. Without this, a server's worker threads would all
    wait in SQLite's busy handler, which sleeps in growing steps (up to 100 ms). Here the first
    caller becomes the leader and appends everything queued so far with one ``append_many`` (one
    commit); the others wait on a condition and get their own entry back. Nothing changes for a
    caller: ``append`` returns only after its entry is committed, and raises if the commit failed —
    no log, no read.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._cv = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False

    def append(self, record: AuditRecord) -> AuditEntry:
        return self._submit([_Pending(record)])[0]

    def append_many(self, records: list[AuditRecord]) -> list[AuditEntry]:
        """Several entries in one group commit (they are queued together, so one batch takes them all)."""
        return self._submit([_Pending(r) for r in records]) if records else []

    def _submit(self, mine: list[_Pending]) -> list[AuditEntry]:
        last = mine[-1]
        with self._cv:
            self._queue.extend(mine)
            while self._leading and not last.done:
                self._cv.wait()
            lead = not last.done
            if lead:
                self._leading = True
                batch, self._queue = self._queue, []
        if lead:
            try:
                entries = self._inner.append_many([p.record for p in batch])
                error = None
            except BaseException as exc:   # every waiter in the batch must learn that its entry failed
                entries, error = [], exc
            with self._cv:
                for i, pending in enumerate(batch):
                    pending.entry = entries[i] if error is None else None
                    pending.error, pending.done = error, True
                self._leading = False
                self._cv.notify_all()
        for pending in mine:
            if pending.error is not None:
                raise pending.error
        return [p.entry for p in mine if p.entry is not None]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CityUnavailableError(RuntimeError):
    """The service runs without a city database (only the operational side is available)."""


@dataclass
class Platform:
    """Everything the interfaces need, wired once per process."""

    settings: Settings
    operational: Operational
    registry: Registry
    city_path: Path | None
    overview: Overview
    users: list[DemoUser] = field(default_factory=list)
    demo_family: tuple[int, int, int] | None = None
    session_secret: bytes = b""
    demo_password: str = ""
    _anchor: DuckDBEngine | None = None   # keeps DuckDB's database instance open between requests
    _campaigns: CampaignConsole | None = None

    @contextmanager
    def city(self) -> Iterator[DuckDBEngine]:
        """A read-only connection to the city database for one request."""
        if self.city_path is None:
            raise CityUnavailableError("this service was started without a city database")
        engine = DuckDBEngine(self.city_path, self.registry, read_only=True)
        try:
            yield engine
        finally:
            engine.close()

    def refresh_overview(self) -> Overview:
        """Recompute what the overview file lacks (after a run or a load) and serve the new figures."""
        if self.city_path is not None:
            self.overview = refresh_overview(self.city_path, self.aggregates_path)
        return self.overview

    @property
    def aggregates_path(self) -> Path:
        if self.settings.aggregates_file is not None:
            return self.settings.aggregates_file
        assert self.city_path is not None
        return self.city_path.with_name(self.city_path.name + ".overview.json")

    @property
    def campaigns(self) -> CampaignConsole:
        """The campaign console (its messaging side is built on first use)."""
        if self._campaigns is None:
            self._campaigns = CampaignConsole(self.settings)
        return self._campaigns

    def close(self) -> None:
        if self._campaigns is not None:
            self._campaigns.close()
        if self._anchor is not None:
            self._anchor.close()
            self._anchor = None
        self.operational.close()


def build_platform(settings: Settings, *, city: Path | None = None, seed_demo: bool | None = None) -> Platform:
    """Wire the platform for ``city`` (default ``settings.db``; None and missing = no city).

    ``seed_demo`` (default: in demo authentication mode) gives the demo family's consent so that
    "My data" has something to show and withdraw.
    """
    path = city if city is not None else settings.db
    city_path = path if path is not None and Path(path).exists() else None
    registry = default_registry()
    operational = open_operational(settings)
    operational.audit = operational.gate.audit = SerializedAuditLog(operational.audit)  # type: ignore[assignment]
    secret = settings.session_secret.get_secret_value().encode() if settings.session_secret else \
        secrets.token_bytes(32)
    password = settings.demo_password.get_secret_value() if settings.demo_password else secrets.token_urlsafe(9)
    platform = Platform(settings=settings, operational=operational, registry=registry, city_path=city_path,
                        overview=Overview(as_of=None), session_secret=secret, demo_password=password)
    if city_path is None:
        return platform
    platform.refresh_overview()
    platform._anchor = DuckDBEngine(city_path, registry, read_only=True)
    demo = settings.auth_mode == "demo" if seed_demo is None else seed_demo
    with platform.city() as engine:
        family = demo_residents(engine)
        if demo and family is not None:
            seed_demo_consents(engine, operational.consents, operational.gate, family)
    platform.demo_family = family
    platform.users = demo_users(family) if settings.auth_mode == "demo" else []
    return platform
