"""Evidence sentences in fi, sv and en: one phrase file, the same keys and placeholders in each language."""

from __future__ import annotations

import string

from ennakoiva.domain.criteria import CRITERIA_DIR, load_criterion
from ennakoiva.domain.criteria.evidence import PHRASES_FILE, evidence_lines, phrases
from ennakoiva.domain.types import LANGS
from ennakoiva.domain.yaml_source import load_yaml

_EVIDENCE = {"htn.count": 2, "htn.last_date": "2024-01-02", "on_treatment.count": 0, "on_treatment.last_end": None,
             "sbp_160.value": 168.0, "sbp_160.date": "2026-03-24", "diabetes.count": 0, "diabetes.last_date": None}


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_every_phrase_key_exists_in_all_three_languages_with_the_same_placeholders() -> None:
    data = load_yaml(PHRASES_FILE).data
    assert set(data) == set(LANGS)
    keys = set(data["en"])
    for lang in LANGS:
        assert set(data[lang]) == keys, f"{lang}: {sorted(set(data[lang]) ^ keys)}"
        assert all(str(v) for v in data[lang].values())
    for key in keys - {"date"}:
        fields = {lang: _fields(str(data[lang][key])) for lang in LANGS}
        assert fields["fi"] == fields["sv"] == fields["en"], f"{key}: {fields}"
    assert all(_fields(str(data[lang]["date"])) <= {"iso", "d", "m", "y"} for lang in LANGS)
    assert phrases()["fi"]["ever"] == data["fi"]["ever"]


def test_the_phrase_file_is_not_among_the_criterion_files() -> None:
    assert PHRASES_FILE.parent != CRITERIA_DIR and PHRASES_FILE.is_file()


def test_sentences_in_fi_sv_and_en_keep_the_codes() -> None:
    c = load_criterion(CRITERIA_DIR / "htn-untreated.yaml").compiled
    assert evidence_lines(c, _EVIDENCE) == evidence_lines(c, _EVIDENCE, "en") == [
        "htn: 2 I10, I11, I12, I13, I14, I15 diagnoses in the last 5 years, latest on 2024-01-02",
        "on_treatment: no C02, C03, C07, C08, C09 prescription in the last 12 months",
        "sbp_160: latest 8480-6 168 mm[Hg] on 2026-03-24 (lowest of that day)",
        "diabetes: no E11 diagnosis ever",
    ]
    assert evidence_lines(c, _EVIDENCE, "fi") == [
        "htn: 2 diagnoosia I10, I11, I12, I13, I14, I15 5 vuoden aikana, viimeisin 2.1.2024",
        "on_treatment: ei lääkemääräystä C02, C03, C07, C08, C09 12 kuukauden aikana",
        "sbp_160: viimeisin 8480-6 168 mm[Hg] 24.3.2026 (päivän alin)",
        "diabetes: ei diagnoosia E11 koskaan",
    ]
    assert evidence_lines(c, _EVIDENCE, "sv") == [
        "htn: 2 diagnoser I10, I11, I12, I13, I14, I15 under de senaste 5 åren, senast 2.1.2024",
        "on_treatment: inget recept på C02, C03, C07, C08, C09 under de senaste 12 månaderna",
        "sbp_160: senaste 8480-6 168 mm[Hg] den 24.3.2026 (dagens lägsta)",
        "diabetes: ingen diagnos E11 någonsin",
    ]


def test_decimals_follow_the_language() -> None:
    c = load_criterion(CRITERIA_DIR / "htn-untreated.yaml").compiled
    evidence = {**_EVIDENCE, "sbp_160.value": 162.5}
    assert "162.5 mm[Hg]" in evidence_lines(c, evidence, "en")[2]
    assert "162,5 mm[Hg]" in evidence_lines(c, evidence, "fi")[2]
    assert "162,5 mm[Hg]" in evidence_lines(c, evidence, "sv")[2]
