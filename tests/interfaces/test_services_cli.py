"""``ennakoiva services validate|list|preview``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from ennakoiva.domain.services import SERVICES_DIR
from ennakoiva.interfaces.cli.main import app


def test_validate_the_shipped_catalogue() -> None:
    result = CliRunner().invoke(app, ["services", "validate", str(SERVICES_DIR), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {"preschool-offer", "daycare-fee-reduced", "care-gap-invitation"} <= set(out["valid"])
    assert set(out["scenarios"]) == set(out["valid"])


def test_validate_refuses_a_scenario_for_an_unknown_service(tmp_path: Path) -> None:
    shutil.copy(SERVICES_DIR / "preschool-offer.yaml", tmp_path)
    (tmp_path / "scenarios").mkdir()
    shutil.copy(SERVICES_DIR / "scenarios" / "care-gap-invitation.yaml", tmp_path / "scenarios")
    result = CliRunner().invoke(app, ["services", "validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "scenario for unknown service 'care-gap-invitation'" in result.output.replace("\n", "")


def test_validate_names_file_and_line_of_a_missing_justification(tmp_path: Path) -> None:
    text = (SERVICES_DIR / "preschool-offer.yaml").read_text(encoding="utf-8")
    start = text.index("  entitlement:")
    end = text.index("  need_identification:")
    (tmp_path / "preschool-offer.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    line = next(i for i, s in enumerate((tmp_path / "preschool-offer.yaml").read_text().splitlines(), 1)
                if s.startswith("justifications:"))
    result = CliRunner().invoke(app, ["services", "validate", str(tmp_path)])
    assert result.exit_code == 2
    assert f"preschool-offer.yaml:{line}: Field required at justifications.entitlement" in result.output.replace(
        "\n", "")


def test_validate_an_empty_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["services", "validate", str(tmp_path)])
    assert result.exit_code == 2 and "no service definitions" in result.output


def test_list(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["services", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in json.loads(result.output)}
    assert rows["preschool-offer"]["reply_options"] == {"A": "accept", "B": "decline", "C": "resend_language:sv",
                                                        "D": "resend_language:en"}
    assert rows["daycare-fee-reduced"]["consent_needed"] is True
    shutil.copy(SERVICES_DIR / "care-gap-invitation.yaml", tmp_path)
    result = CliRunner().invoke(app, ["services", "list", "--dir", str(tmp_path)])
    assert result.exit_code == 0 and "care-gap" in result.output and "preschool" not in result.output


def test_preview_every_template_in_three_languages() -> None:
    result = CliRunner().invoke(app, ["services", "preview", "preschool-offer", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 9 * 3
    assert all(r["encoding"] == "GSM-7" and r["segments"] <= 2 for r in rows)
