"""A local SMS centre: the embedded default gateway, for the demo, the tests and the benchmarks.

It keeps everything in its own SQLite file (stdlib ``sqlite3``; the channels never touch the
operational store), so separate processes — a sender, a test that kills it, the demo — see one
provider:

- ``mt``: every message handed over, UNIQUE on the client reference (a resend returns the first
  provider id and sends nothing — the provider-side idempotency the outbox relies on);
- ``submit_log``: every submission, resends included, so a test can see what the dedup absorbed;
- ``event``: delivery reports and inbound (mobile-originated) messages waiting to be polled and
  acknowledged (at-least-once, like a real provider's webhooks);
- ``family``: what each simulated family decided, so that a family answers each question once.

Simulated families answer with configurable behaviour (:class:`FamilyBehaviour`), drawn from a
seeded generator: whether they answer at all, accept or decline, how long they take (log-normal
delay), whether they first ask for another language, whether they mistype, whether a second guardian
also answers and whether they disagree. No result is fixed in advance.
"""

from __future__ import annotations

import hashlib
import math
import random
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ennakoiva.adapters.channels.gateway import (
    DELIVERED,
    DeliveryReport,
    GatewayError,
    InboundSms,
    OutgoingSms,
    SendResult,
)

__all__ = ["FamilyBehaviour", "Question", "SmsSimulator"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS mt (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    client_ref TEXT NOT NULL UNIQUE,
    to_phone TEXT NOT NULL,
    text TEXT NOT NULL,
    encoding TEXT NOT NULL,
    segments INTEGER NOT NULL,
    submitted_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mt_to_phone ON mt (to_phone);
CREATE TABLE IF NOT EXISTS submit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    client_ref TEXT NOT NULL,
    duplicate INTEGER NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS event (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('dlr', 'mo')),
    provider_id TEXT NOT NULL,
    phone TEXT,
    body TEXT,
    status TEXT,
    client_ref TEXT,
    at TEXT NOT NULL,
    acked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS event_pending ON event (acked, at);
CREATE TABLE IF NOT EXISTS answer (
    question TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    phone TEXT NOT NULL,
    body TEXT,
    planned_at TEXT,
    released INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS family (
    family TEXT PRIMARY KEY,
    choice TEXT,
    switched INTEGER NOT NULL DEFAULT 0
);
"""

# Ways people really type a one-letter answer, all of which a tolerant reader should accept
# (case, spaces, punctuation, full-width letters, a trailing word), and ways it cannot read.
_TOLERATED = ("{c}", "{l}", " {c} ", "{c}.", "{c}!", "{fw}", "{c} kiitos", "{l} tack", "{c} thanks")
_UNCLEAR = ("{c}{o}", "{c} tai {o}", "?", "Voiko paikkaa vaihtaa?", "👍")


@dataclass(frozen=True)
class FamilyBehaviour:
    """How the simulated families answer; every rate is a probability in [0, 1].

    Defaults are in the range Helsinki's pilot reported (93 % replied; 880 of ~980 repliers accepted),
    but nothing downstream assumes them.
    """

    answer_rate: float = 0.93
    accept_rate: float = 0.9
    median_delay_minutes: float = 45.0
    delay_sigma: float = 1.2
    language_switch_rate: float = 0.03
    typo_rate: float = 0.05
    unclear_rate: float = 0.02
    second_guardian_rate: float = 0.25
    disagree_rate: float = 0.05
    failure_rate: float = 0.0
    duplicate_report_rate: float = 0.0
    report_delay_seconds: float = 2.0
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("answer_rate", "accept_rate", "language_switch_rate", "typo_rate", "unclear_rate",
                     "second_guardian_rate", "disagree_rate", "failure_rate", "duplicate_report_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        if self.median_delay_minutes <= 0 or self.delay_sigma < 0:
            raise ValueError("median_delay_minutes must be positive and delay_sigma non-negative")


@dataclass(frozen=True)
class Question:
    """A sent message that asks for an answer: its provider id, its family (e.g. the offer) and the
    guardian's rank in that family (0 answers first). ``language`` is the one it was written in."""

    provider_message_id: str
    family: str
    rank: int = 0
    language: str = "fi"
    switch_to: Sequence[str] = field(default_factory=tuple)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


class SmsSimulator:
    """The simulator gateway over one SQLite file (created on first use)."""

    name = "simulator"

    def __init__(self, path: Path | str, behaviour: FamilyBehaviour | None = None, *,
                 clock: type[datetime] = datetime) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.behaviour = behaviour or FamilyBehaviour()
        self._clock = clock
        self._lock = threading.Lock()
        self._con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=NORMAL")
        self._con.execute("PRAGMA busy_timeout=30000")
        self._con.executescript(_SCHEMA)
        self._rng = random.Random(self.behaviour.seed)  # a simulation, not security
        self._polled: dict[int, int] = {}

    def _now(self) -> datetime:
        return self._clock.now(UTC)

    # -- the provider side -----------------------------------------------------------------------

    def send(self, message: OutgoingSms) -> SendResult:
        """Accept one message; a client reference seen before returns the first provider id."""
        if not message.to.startswith("+"):
            raise GatewayError(f"not an E.164 number ({len(message.to)} characters)", permanent=True)
        now = self._now()
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                row = self._con.execute("SELECT seq FROM mt WHERE client_ref = ?", (message.client_ref,)).fetchone()
                self._con.execute("INSERT INTO submit_log (client_ref, duplicate, at) VALUES (?, ?, ?)",
                                  (message.client_ref, int(row is not None), _iso(now)))
                if row is not None:
                    self._con.execute("COMMIT")
                    return SendResult(f"sim-{row[0]}", duplicate=True)
                cur = self._con.execute(
                    "INSERT INTO mt (client_ref, to_phone, text, encoding, segments, submitted_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (message.client_ref, message.to, message.text, message.encoding, message.segments, _iso(now)))
                provider_id = f"sim-{cur.lastrowid}"
                self._emit_reports(provider_id, message.client_ref, now)
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
        return SendResult(provider_id)

    def _emit_reports(self, provider_id: str, client_ref: str, now: datetime) -> None:
        b = self.behaviour
        status = "undelivered" if self._rng.random() < b.failure_rate else DELIVERED
        at = _iso(now + timedelta(seconds=b.report_delay_seconds))
        copies = 2 if self._rng.random() < b.duplicate_report_rate else 1
        for _ in range(copies):
            self._con.execute("INSERT INTO event (kind, provider_id, status, client_ref, at) "
                              "VALUES ('dlr', ?, ?, ?, ?)", (provider_id, status, client_ref, at))

    def poll(self, limit: int = 1000, *, until: datetime | None = None,
             ) -> tuple[list[DeliveryReport], list[InboundSms]]:
        """Unacknowledged events that have happened by ``until`` (default: now), oldest first."""
        horizon = _iso(until or self._now())
        with self._lock:
            rows = self._con.execute(
                "SELECT seq, kind, provider_id, phone, body, status, client_ref, at FROM event "
                "WHERE acked = 0 AND at <= ? ORDER BY at, seq LIMIT ?", (horizon, limit)).fetchall()
        reports: list[DeliveryReport] = []
        inbound: list[InboundSms] = []
        for seq, kind, provider_id, phone, body, status, client_ref, at in rows:
            if kind == "dlr":
                item: DeliveryReport | InboundSms = DeliveryReport(self.name, provider_id, status, _parse(at),
                                                                   client_ref)
                reports.append(item)
            else:
                item = InboundSms(self.name, provider_id, phone, body, _parse(at))
                inbound.append(item)
            self._polled[id(item)] = seq
        return reports, inbound

    def ack(self, reports: list[DeliveryReport], inbound: list[InboundSms]) -> None:
        seqs = [self._polled.pop(id(x)) for x in [*reports, *inbound] if id(x) in self._polled]
        with self._lock:
            self._con.executemany("UPDATE event SET acked = 1 WHERE seq = ?", [(s,) for s in seqs])

    def close(self) -> None:
        with self._lock:
            self._con.close()

    # -- what tests, the demo and the benchmarks look at -----------------------------------------

    def messages(self, phone: str | None = None) -> list[tuple[str, str, str]]:
        """(client reference, phone, text) of every message accepted, in order."""
        query = "SELECT client_ref, to_phone, text FROM mt"
        args: tuple[str, ...] = ()
        if phone is not None:
            query, args = query + " WHERE to_phone = ?", (phone,)
        with self._lock:
            return [tuple(r) for r in self._con.execute(query + " ORDER BY seq", args)]  # type: ignore[misc]

    def submissions(self) -> tuple[int, int]:
        """(all submissions, those that were resends of a known client reference)."""
        with self._lock:
            total, dups = self._con.execute("SELECT count(*), coalesce(sum(duplicate), 0) FROM submit_log").fetchone()
        return int(total), int(dups)

    def count(self) -> int:
        with self._lock:
            return int(self._con.execute("SELECT count(*) FROM mt").fetchone()[0])

    def inject_reply(self, from_phone: str, text: str, *, at: datetime | None = None,
                     provider_message_id: str | None = None) -> InboundSms:
        """A mobile-originated message as if someone typed it on their phone."""
        at = at or self._now()
        digest = hashlib.sha256(f"{from_phone}|{text}|{_iso(at)}".encode()).hexdigest()[:16]
        provider_id = provider_message_id or f"mo-{digest}"
        with self._lock:
            self._con.execute("INSERT INTO event (kind, provider_id, phone, body, at) VALUES ('mo', ?, ?, ?, ?)",
                              (provider_id, from_phone, text, _iso(at)))
        return InboundSms(self.name, provider_id, from_phone, text, at)

    # -- simulated families -----------------------------------------------------------------------

    def simulate_replies(self, questions: Iterable[Question], *, until: datetime | None = None) -> int:
        """Let families decide how (and whether) to answer each new question, then release every
        planned answer due by ``until`` as an inbound message. Returns how many were released.

        Each question is decided once (re-running with the same questions plans nothing new); the
        answer's time is the question's submission time plus a log-normal delay.
        """
        b = self.behaviour
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                for q in questions:
                    if self._con.execute("SELECT 1 FROM answer WHERE question = ?",
                                         (q.provider_message_id,)).fetchone():
                        continue
                    row = self._con.execute("SELECT to_phone, submitted_at FROM mt WHERE seq = ?",
                                            (int(q.provider_message_id.removeprefix("sim-")),)).fetchone()
                    if row is None:
                        continue
                    phone, submitted = row
                    body = self._decide(q)
                    planned = None
                    if body is not None:
                        delay = b.median_delay_minutes * math.exp(b.delay_sigma * self._rng.gauss(0.0, 1.0))
                        planned = _iso(_parse(submitted) + timedelta(minutes=delay))
                    self._con.execute("INSERT INTO answer (question, family, phone, body, planned_at) "
                                      "VALUES (?, ?, ?, ?, ?)", (q.provider_message_id, q.family, phone, body, planned))
                horizon = _iso(until or self._now())
                due = self._con.execute("SELECT question, phone, body, planned_at FROM answer WHERE released = 0 "
                                        "AND body IS NOT NULL AND planned_at <= ?", (horizon,)).fetchall()
                for question, phone, body, planned in due:
                    self._con.execute("INSERT INTO event (kind, provider_id, phone, body, at) "
                                      "VALUES ('mo', ?, ?, ?, ?)", (f"mo-{question}", phone, body, planned))
                    self._con.execute("UPDATE answer SET released = 1 WHERE question = ?", (question,))
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
        return len(due)

    def _decide(self, q: Question) -> str | None:
        """The text one guardian sends back to one question, or None for no answer."""
        b, rng = self.behaviour, self._rng
        fam = self._con.execute("SELECT choice, switched FROM family WHERE family = ?", (q.family,)).fetchone()
        if fam is None:
            choice = "A" if rng.random() < b.accept_rate else "B"
            self._con.execute("INSERT INTO family (family, choice) VALUES (?, ?)", (q.family, choice))
            switched = 0
        else:
            choice, switched = fam
        rate = b.answer_rate if q.rank == 0 else b.second_guardian_rate
        if rng.random() >= rate:
            return None
        if q.rank == 0 and not switched and q.switch_to and rng.random() < b.language_switch_rate:
            self._con.execute("UPDATE family SET switched = 1 WHERE family = ?", (q.family,))
            return rng.choice(list(q.switch_to))
        letter = choice
        if q.rank > 0 and rng.random() < b.disagree_rate:
            letter = "B" if choice == "A" else "A"
        if rng.random() < b.unclear_rate:
            other = "B" if letter == "A" else "A"
            return rng.choice(_UNCLEAR).format(c=letter, o=other)
        if rng.random() < b.typo_rate:
            full_width = chr(ord(letter) - ord("A") + 0xFF21)
            return rng.choice(_TOLERATED).format(c=letter, l=letter.lower(), fw=full_width)
        return letter
