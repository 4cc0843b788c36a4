"""Exactly once, tested the hard way: a real ``ennakoiva campaign send`` killed with SIGKILL mid-send.

The outbox is filled through the store, then a sender subprocess drains it to the simulator (a file
both processes and this test can read). The test kills the sender at several points while the
simulator is filling, runs it again each time, and finally checks from both sides that every message
went out exactly once: the simulator accepted each client reference once (its ``submit_log`` shows
the resends its dedup absorbed), and the outbox recorded each message as sent with the provider id
the simulator gave it. Nothing lost, nothing sent twice.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ennakoiva.adapters.channels import SmsSimulator
from ennakoiva.adapters.stores import create_engine, sqlite_url, upgrade
from ennakoiva.adapters.stores.offer_repository import NewMessage, NewOffer, NewRecipient, SqlOfferStore
from ennakoiva.adapters.stores.outbox_repository import SqlOutbox

MESSAGES = 300
KILL_AT = (15, 70, 140, 205, 270)  # simulator counts at which the sender is killed


def _fill(url: str) -> None:
    upgrade(url)
    engine = create_engine(url)
    offers = []
    for i in range(MESSAGES):
        r = NewRecipient(10_000 + i, f"+35840{i:07d}", "fi")
        offer = NewOffer(subject_id=i + 1, language="fi", district="101", fields={}, recipients=[r], messages=[])
        m = NewMessage(f"{offer.offer_id}|offer|{r.person_id}|1", "offer", r.phone, "fi", f"Tarjous {i}", "GSM-7", 1,
                       offer.offer_id, r.person_id)
        offers.append(NewOffer(subject_id=i + 1, language="fi", district="101", fields={}, recipients=[r],
                               messages=[m], offer_id=offer.offer_id))
    SqlOfferStore(engine).create_campaign("preschool-offer", "1", date(2027, 1, 7), "t", offers, datetime.now(UTC))
    engine.dispose()


def _accepted(sim_file: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{sim_file}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return 0
    try:
        return int(con.execute("SELECT count(*) FROM mt").fetchone()[0])
    except sqlite3.OperationalError:  # the sender has not created the tables yet
        return 0
    finally:
        con.close()


@pytest.mark.slow
def test_killing_the_sender_anywhere_never_duplicates_or_loses_a_message(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "store.sqlite3")
    sim_file = tmp_path / "sim.sqlite3"
    _fill(url)
    env = {**os.environ, "ENNAKOIVA_DB_URL": url, "ENNAKOIVA_SMS_SIMULATOR_FILE": str(sim_file),
           "ENNAKOIVA_SMS_GATEWAY": "simulator", "ENNAKOIVA_AUDIT_KEY_FILE": str(tmp_path / "audit.key"),
           "ENNAKOIVA_AUDIT_CHECKPOINT_FILE": str(tmp_path / "cp.jsonl")}
    # --lease 0: a re-run may take over what the killed process had claimed; --batch 25 records the
    # sends every 25 messages, so most kills land between the provider accepting and our record.
    command = [sys.executable, "-m", "ennakoiva", "campaign", "send", "--batch", "25", "--rate", "300",
               "--lease", "0", "--json"]
    killed = 0
    for point in KILL_AT:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while _accepted(sim_file) < point and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait(timeout=60)
    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert final.returncode == 0, final.stderr
    assert killed >= 3, "the sender finished before it could be killed: slow it down"

    sim = SmsSimulator(sim_file)
    engine = create_engine(url)
    try:
        accepted = sim.messages()
        refs = [ref for ref, _, _ in accepted]
        assert len(refs) == len(set(refs)) == MESSAGES  # each message reached the provider exactly once
        phones = [phone for _, phone, _ in accepted]
        assert len(set(phones)) == MESSAGES  # and each family got exactly one SMS
        total, resends = sim.submissions()
        assert resends >= 1  # a kill landed between hand-over and record, and the dedup absorbed it
        assert total == MESSAGES + resends
        outbox = SqlOutbox(engine).messages()
        assert {m["status"] for m in outbox} == {"sent"} and len(outbox) == MESSAGES
        ids = {ref: f"sim-{i}" for i, ref in enumerate(refs, start=1)}
        assert all(m["provider_message_id"] == ids[m["idempotency_key"]] for m in outbox)
    finally:
        sim.close()
        engine.dispose()
