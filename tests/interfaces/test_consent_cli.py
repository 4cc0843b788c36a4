"""``ennakoiva consent|audit|mydata`` as a data-protection officer and a resident use them."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

FEE = "daycare-fee-income-check"


def cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "140", "ENNAKOIVA_DB_URL": f"sqlite:///{tmp / 'store.sqlite3'}",
           "ENNAKOIVA_AUDIT_KEY_FILE": str(tmp / "audit.key"),
           "ENNAKOIVA_AUDIT_CHECKPOINT_FILE": str(tmp / "checkpoints.jsonl")}
    return subprocess.run([sys.executable, "-m", "ennakoiva", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_give_withdraw_list_receipt_export_and_verify(tmp_path: Path) -> None:
    first = cli(tmp_path, "consent", "give", "--purpose", FEE, "--subject", "700", "--by", "71", "--role",
                "guardian", "--guardians", "71,72", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["reason"] == "pending_parties"
    second = json.loads(cli(tmp_path, "consent", "give", "--purpose", FEE, "--subject", "700", "--by", "72",
                            "--role", "guardian", "--lang", "sv", "--json").stdout)
    assert second["state"] == "given"
    receipt = json.loads(cli(tmp_path, "consent", "receipt", second["record_id"]).stdout)
    assert receipt["consentReceiptID"] == second["record_id"]
    assert receipt["services"][0]["purposes"][0]["lawfulBasis"] == "A6-1-a"
    exported = cli(tmp_path, "mydata", "export", "--subject", "700")
    assert exported.returncode == 0, exported.stderr
    view = json.loads(exported.stdout)
    assert view["consents"][0]["record_id"] == second["record_id"]
    assert [u["purpose_id"] for u in view["uses"]] == ["resident-own-data"]  # looking is logged too
    withdrawn = cli(tmp_path, "consent", "withdraw", second["record_id"], "--by", "71", "--role", "guardian",
                    "--json")
    assert json.loads(withdrawn.stdout)["state"] == "withdrawn"
    listed = json.loads(cli(tmp_path, "consent", "list", "--subject", "700", "--json").stdout)
    assert [h["state"] for h in listed[0]["history"]] == ["given", "given", "withdrawn"]
    assert cli(tmp_path, "audit", "checkpoint").returncode == 0
    verified = cli(tmp_path, "audit", "verify", "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"]


def test_hostile_input_gets_one_clear_line(tmp_path: Path) -> None:
    for args, expected in [
        (("consent", "give", "--purpose", FEE, "--subject", "010190-123A", "--by", "1"), "personal identity code"),
        (("consent", "give", "--purpose", "x'; DROP TABLE consent_record;--", "--subject", "5", "--by", "5"),
         "not a purpose id"),
        (("consent", "withdraw", "../../etc/passwd", "--by", "1"), "not a consent record id"),
        (("audit", "show", "--subject", '{"$ne": 1}'), "not a subject id"),
    ]:
        result = cli(tmp_path, *args)
        assert result.returncode == 2, (args, result.stdout)
        assert "Traceback" not in result.stderr
        assert expected in result.stderr, result.stderr


def test_audit_verify_names_the_first_tampered_entry(tmp_path: Path) -> None:
    for i in range(5):
        cli(tmp_path, "mydata", "export", "--subject", str(800 + i))
    assert cli(tmp_path, "audit", "verify").returncode == 0
    con = sqlite3.connect(tmp_path / "store.sqlite3")
    triggers = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                          "AND tbl_name = 'audit_entry'")]
    for name in triggers:  # the tamperer goes around the append-only guard on purpose
        con.execute(f'DROP TRIGGER "{name}"')
    con.execute("UPDATE audit_entry SET reason = 'lawful_basis:public_task' WHERE seq = 3")
    con.commit()
    con.close()
    result = cli(tmp_path, "audit", "verify")
    assert result.returncode == 1
    assert "broken at entry 3" in result.stdout


def test_a_consent_can_cover_household_members(tmp_path: Path) -> None:
    """The daycare-fee consent is about the child but covers the guardians' incomes."""
    given = cli(tmp_path, "consent", "give", "--purpose", FEE, "--subject", "800", "--by", "81", "--role",
                "guardian", "--guardians", "81,82", "--covers", "81,82", "--json")
    assert given.returncode == 0, given.stderr
    assert json.loads(given.stdout)["covered_subjects"] == [81, 82]
    bad = cli(tmp_path, "consent", "give", "--purpose", FEE, "--subject", "801", "--by", "81", "--role",
              "guardian", "--guardians", "81,82", "--covers", "81,someone")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
