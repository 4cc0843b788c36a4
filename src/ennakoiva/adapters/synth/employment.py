"""Employment sector of one postal area: job-seeker spells, backgrounds, services, planted effects.

The story, per person aged 17-64 living in the area during the window:

- **Spells** follow a renewal process: registrations arrive at a person-level rate (status on the
  extract date, education, language, a gamma frailty), a spell lasts until its exit, the next one can
  start a couple of weeks later. Everyone unemployed on the extract date has a spell ongoing then.
- **Background** at registration: education, Finnish and Swedish skill (CEFR; native for the mother
  tongue, foreign-language speakers by years in Finland), years of work history, months unemployed
  in the three years before.
- **Confounded assignment**: a counsellor gives at most one main service per spell, with
  probabilities from the background only (weak Finnish -> language course, basic education ->
  vocational training, young -> coaching, long unemployment -> pay subsidy, tertiary -> recruitment
  event); about half get none.
- **Outcome**: employed within 6 months (an exit to employment on day <= 182) with probability
  ``p0 + effect``, where ``p0`` is a logistic model of the background and ``effect`` the planted
  heterogeneous effect of the service received (``params.yaml`` ``employment.effects``, written
  as ``truth_employment_effects``); no hidden confounder: the truth file holds every spell's
  probability without and under each service.

Observability: a spell's 6-month outcome is fully revealed by the tables when its follow-up is
complete, i.e. ``start + 183 < min(extract date, death or move-out)`` (``follow_up_complete`` in
the truth). Nothing selects spells with complete follow-up on their outcome: starts are placed
before outcomes are drawn, and the adjustments that keep the tables consistent with the status on
the extract date (spells ongoing for the unemployed, ended for everyone else) only touch spells
whose follow-up is incomplete. Departures end a spell (outcome ``moved``, or
``outside_labour_force`` at death).

Latent traits for later sectors (``people.latent``): ``unemployed_days`` (persons x months of
:func:`month_starts` over the window, int16 days in a spell), ``unemployed_days_total``,
``long_unemployed`` (more than 365 days in spells during the window) and ``finnish_skill`` (index
into :data:`CEFR`; meaningful for adults).

Truth (``truth_employment_spell``): per spell the true probability of employment within 6 months
without a service and under each service, the service received, the simulated outcome
(``employed_within_6m``, what happened or, for spells whose follow-up is incomplete, what would
have happened; equal to what the tables show whenever ``follow_up_complete``) and
``follow_up_complete``. ``truth_employment_effects`` (written with postal area 0, also
:func:`planted_effects_table`) states the effect per service and subgroup with a machine-readable
rule; the generator applies exactly these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ennakoiva.adapters.synth.calibration import load_calibration, load_params
from ennakoiva.adapters.synth.frame import (
    ACTIVITIES,
    EDUCATION,
    NO_DATE,
    SectorContext,
    SectorOutput,
    date32,
    nullable_date,
)
from ennakoiva.adapters.synth.ids import AREA_STRIDE, scramble
from ennakoiva.adapters.synth.sampling import categorical, interp_by_age

__all__ = [
    "CEFR", "FOLLOW_UP_DAYS", "SERVICES", "SPELL_OUTCOMES", "Background", "assignment_probabilities",
    "days_by_month", "generate", "month_starts", "p_no_service", "planted_effects_table", "service_effects",
]

SERVICES = ("language_course", "vocational_training", "coaching", "wage_subsidy", "recruitment_event")
CEFR = ("none", "A1", "A2", "B1", "B2", "C1", "C2", "native")
SPELL_OUTCOMES = ("employed", "education", "outside_labour_force", "moved", "ongoing")
FOLLOW_UP_DAYS = 182            # "within 6 months": an exit to employment at most 182 days after the start
_EMPLOYED, _EDUCATION, _OLF, _MOVED, _ONGOING = range(5)
_SPELL_OFFSET, _SERVICE_OFFSET = 3 * 10**9, 4 * 10**9
_YEAR = 365.25
_MONTH = 30.4375
_FAR = 10**12
_NATIVE = CEFR.index("native")


def _schema(*fields: tuple[str, pa.DataType, bool]) -> pa.Schema:
    return pa.schema([pa.field(name, typ, nullable=null) for name, typ, null in fields])


_SPELL_SCHEMA = _schema(("spell_id", pa.int64(), False), ("person_id", pa.int64(), False),
                        ("start_date", pa.date32(), False), ("end_date", pa.date32(), True),
                        ("outcome", pa.string(), False))
_BACKGROUND_SCHEMA = _schema(("spell_id", pa.int64(), False), ("person_id", pa.int64(), False),
                             ("education_level", pa.string(), False), ("finnish_skill", pa.string(), False),
                             ("swedish_skill", pa.string(), False), ("work_history_years", pa.float64(), False),
                             ("months_unemployed_before", pa.int32(), False))
_SERVICE_SCHEMA = _schema(("service_event_id", pa.int64(), False), ("person_id", pa.int64(), False),
                          ("spell_id", pa.int64(), False), ("service_type", pa.string(), False),
                          ("start_date", pa.date32(), False), ("end_date", pa.date32(), False))
_TRUTH_SPELL_SCHEMA = _schema(
    ("spell_id", pa.int64(), False), ("person_id", pa.int64(), False),
    ("p_employed_6m_no_service", pa.float64(), False),
    *((f"p_employed_6m_under_{s}", pa.float64(), False) for s in SERVICES),
    ("received_service", pa.string(), True), ("employed_within_6m", pa.bool_(), False),
    ("follow_up_complete", pa.bool_(), False))
_TRUTH_EFFECTS_SCHEMA = _schema(("service", pa.string(), False), ("subgroup", pa.string(), False),
                                ("rule", pa.string(), False), ("effect", pa.float64(), False))


@dataclass
class Background:
    """What a job seeker's spell looks like at registration (one row per spell)."""

    age: np.ndarray                  # float years at the start of the spell
    female: np.ndarray               # bool
    education: np.ndarray            # index into EDUCATION
    finnish: np.ndarray              # index into CEFR
    swedish: np.ndarray              # index into CEFR
    work_years: np.ndarray           # float years of work history
    months_before: np.ndarray        # int months unemployed in the three years before
    area_dev: np.ndarray             # area unemployment rate minus the city rate

    def features(self) -> dict[str, np.ndarray]:
        """The discrete features counsellors decide on (names used in params ``assignment``)."""
        age, months, edu = self.age, self.months_before, self.education
        return {
            "finnish_a2_or_below": self.finnish <= CEFR.index("A2"),
            "finnish_b1": self.finnish == CEFR.index("B1"),
            "finnish_b2": self.finnish == CEFR.index("B2"),
            "basic": edu == 0, "upper_secondary": edu == 1, "tertiary": edu >= 2,
            "under_30": age < 30, "age_30_49": (age >= 30) & (age < 50), "age_50": age >= 50,
            "months_6_11": (months >= 6) & (months < 12), "months_12": months >= 12,
        }


# --------------------------------------------------------------------------- model pieces

def p_no_service(bg: Background, prm: dict[str, Any]) -> np.ndarray:
    """True probability of employment within 6 months without any service (in [floor, floor + span])."""
    o = prm["outcome"]
    eta = (o["intercept"]
           + o["age_slope_30_50"] * np.clip(bg.age - 30, 0, 20) + o["age_slope_50"] * np.clip(bg.age - 50, 0, None)
           + o["female"] * bg.female
           + np.asarray(o["education"], dtype=np.float64)[bg.education]
           + np.asarray(o["finnish_skill"], dtype=np.float64)[bg.finnish]
           + o["work_history_log1p"] * np.log1p(bg.work_years)
           + o["months_before"] * bg.months_before
           + o["area_unemployment"] * bg.area_dev)
    return float(o["floor"]) + float(o["span"]) / (1.0 + np.exp(-eta))


def assignment_probabilities(bg: Background, prm: dict[str, Any]) -> np.ndarray:
    """(spells, 6) probabilities of no service and of each of SERVICES (multinomial logit)."""
    feats = bg.features()
    logits = np.zeros((len(bg.age), len(SERVICES) + 1))
    for j, service in enumerate(SERVICES, start=1):
        spec = prm["assignment"][service]
        logits[:, j] = spec["intercept"]
        for name, coef in spec.items():
            if name != "intercept":
                logits[:, j] += coef * feats[name]
    expl = np.exp(logits)
    return expl / expl.sum(axis=1, keepdims=True)


_LABELS = {"finnish_skill": "Finnish skill", "education_level": "education", "age_at_start": "age at start",
           "months_unemployed_before": "months unemployed in the 3 years before"}


def _groups(prm: dict[str, Any]) -> list[tuple[str, str, str, float, str, Any]]:
    """The planted effect groups: (service, subgroup, rule, effect, variable, values or range)."""
    out = []
    for service in SERVICES:
        spec = prm["effects"][service]
        by = spec["by"]
        for g in spec["groups"]:
            if "values" in g:
                vals = list(g["values"])
                rule = f"{by} in ({', '.join(vals)})"
                words = ", ".join(vals[:-1]) + (" or " if len(vals) > 1 else "") + vals[-1]
                out.append((service, f"{_LABELS[by]} {words}", rule, float(g["effect"]), by, vals))
            else:
                lo, hi = g["range"]
                out.append((service, f"{_LABELS[by]} {lo} to under {hi}", f"{lo} <= {by} < {hi}",
                            float(g["effect"]), by, (lo, hi)))
    return out


def _group_mask(bg: Background, by: str, sel: Any) -> np.ndarray:
    if by == "finnish_skill":
        return np.isin(bg.finnish, [CEFR.index(v) for v in sel])
    if by == "education_level":
        return np.isin(bg.education, [EDUCATION.index(v) for v in sel])
    value = {"age_at_start": bg.age, "months_unemployed_before": bg.months_before}[by]
    return (value >= sel[0]) & (value < sel[1])


def service_effects(bg: Background, prm: dict[str, Any]) -> np.ndarray:
    """(spells, 5) planted effect of each service on P(employed within 6 months), in probability points."""
    eff = np.zeros((len(bg.age), len(SERVICES)))
    hits = np.zeros((len(bg.age), len(SERVICES)), dtype=np.int8)
    for service, _sub, _rule, effect, by, sel in _groups(prm):
        j = SERVICES.index(service)
        mask = _group_mask(bg, by, sel)
        eff[mask, j] += effect
        hits[mask, j] += 1
    if (hits != 1).any():
        raise ValueError("employment.effects groups must partition every spell exactly once per service")
    return eff


def planted_effects_table(params: dict[str, Any] | None = None) -> pa.Table:
    """truth_employment_effects: the planted effect per service and subgroup (what the generator adds)."""
    prm = (params or load_params())["employment"]
    rows = _groups(prm)
    return pa.table({
        "service": pa.array([r[0] for r in rows], type=pa.string()),
        "subgroup": pa.array([r[1] for r in rows], type=pa.string()),
        "rule": pa.array([r[2] for r in rows], type=pa.string()),
        "effect": pa.array([r[3] for r in rows], type=pa.float64()),
    }, schema=_TRUTH_EFFECTS_SCHEMA)


# --------------------------------------------------------------------------- calendar helpers

def month_starts(first_day: int, last_day: int) -> np.ndarray:
    """First days (int days) of every calendar month from ``first_day``'s to ``last_day``'s."""
    m0 = np.datetime64(int(first_day), "D").astype("datetime64[M]")
    m1 = np.datetime64(int(last_day), "D").astype("datetime64[M]")
    return np.arange(m0, m1 + 1).astype("datetime64[D]").astype(np.int64)


def days_by_month(person: np.ndarray, start: np.ndarray, end_excl: np.ndarray, months: np.ndarray,
                  n: int) -> np.ndarray:
    """(n, months) days each person spends in [start, end_excl) intervals, per calendar month."""
    m = len(months)
    nxt = np.append(months[1:], month_starts(months[-1] + 31, months[-1] + 31))
    overlap = np.clip(np.minimum(end_excl[:, None], nxt[None, :]) - np.maximum(start[:, None], months[None, :]),
                      0, None)
    flat = np.bincount((person[:, None] * m + np.arange(m)[None, :]).ravel(), weights=overlap.ravel(),
                       minlength=n * m)
    return flat.reshape(n, m).astype(np.int16)


# --------------------------------------------------------------------------- the generator

def _language_skills(tongue: np.ndarray, edu: np.ndarray, age: np.ndarray, prm: dict[str, Any],
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = len(tongue)
    fi, sv = tongue == "fi", tongue == "sv"
    fin_of_sv = 3 + categorical(rng, np.tile(prm["finnish_of_swedish_speakers"], (n, 1)))
    swe_of_fi = categorical(rng, np.tile(prm["swedish_of_finnish_speakers"], (n, 1)))
    swe_of_fi = np.where((edu == 3) & (swe_of_fi < 5), swe_of_fi + 1, swe_of_fi)  # public-sector degree: B1+
    swe_of_foreign = categorical(rng, np.tile(prm["swedish_of_foreign_speakers"], (n, 1)))
    shape, scale = prm["arrival_age_gamma"]
    arrival = 18 + rng.gamma(shape, scale, n)
    years = np.where(arrival < age, age - arrival, rng.random(n) * np.maximum(age - 16, 0.5))
    second = rng.random(n) < interp_by_age(age, prm["second_generation_by_age"])
    fs = prm["finnish_score"]
    score = (fs["intercept"] + fs["per_year"] * np.minimum(years, fs["max_years"])
             + fs["per_education_level"] * edu + fs["english"] * (tongue == "en")
             + fs["estonian"] * (tongue == "et") + rng.normal(0, fs["noise_sd"], n))
    level = np.clip(np.round(score), 0, CEFR.index("C1"))
    level = np.where(second, CEFR.index("C1") + (rng.random(n) < 0.6), level)
    fin = np.where(fi, _NATIVE, np.where(sv, fin_of_sv, level)).astype(np.int8)
    swe = np.where(sv, _NATIVE, np.where(fi, swe_of_fi, swe_of_foreign)).astype(np.int8)
    return fin, swe


@dataclass
class _Batch:
    person: np.ndarray
    start: np.ndarray
    duration: np.ndarray
    employed: np.ndarray
    service: np.ndarray              # 0 = none, j = SERVICES[j - 1]
    p0: np.ndarray
    effects: np.ndarray
    long_exit: np.ndarray
    bg: Background
    stock: np.ndarray


def generate(ctx: SectorContext) -> SectorOutput:
    """Job-seeker spells, backgrounds and services of one area, with the truth of their outcomes."""
    p, prm, rng = ctx.people, ctx.params["employment"], ctx.rng
    n, as_of, ws = p.n, ctx.as_of, ctx.window_start
    cal = load_calibration()
    lf = cal.employed + cal.unemployed
    area_rate = cal.unemployed[p.area] / max(int(lf[p.area]), 1)
    area_dev = float(area_rate - cal.unemployed.sum() / max(int(lf.sum()), 1))

    # --- person-level traits (drawn for everyone, so the stream does not depend on who is eligible)
    birth = p.birth.astype(np.int64)
    age_now = (as_of - birth) / _YEAR
    edu = np.where(p.education >= 0, p.education, 0).astype(np.int64)
    foreign = (p.tongue != "fi") & (p.tongue != "sv")
    fin, swe = _language_skills(p.tongue, edu, age_now, prm, rng)
    a_b = np.where(foreign[:, None], prm["work_share_beta_foreign"], prm["work_share_beta"])
    work_share = rng.beta(a_b[:, 0], a_b[:, 1])
    shape = float(prm["rate_frailty_shape"])
    frailty = rng.gamma(shape, 1.0 / shape, n)
    present_until = p.present_until()
    current = present_until > as_of
    unemp_now = current & (p.activity == ACTIVITIES.index("unemployed"))
    pm = prm["prior_months"]
    share = np.where(unemp_now, pm["share_unemployed_now"], np.clip(pm["share"] * frailty, 0, 0.95))
    prior = np.where(rng.random(n) < share, np.minimum(rng.gamma(pm["shape"], pm["scale_months"], n), 36), 0.0)
    rate = (np.array([prm["spell_rate"][a] for a in ACTIVITIES])[p.activity]
            * np.asarray(prm["rate_by_education"])[edu] * np.where(foreign, prm["foreign_rate_ratio"], 1.0)
            * frailty)

    a = np.maximum(ws, birth + int(17 * _YEAR))
    a = np.where(p.move_in != NO_DATE, np.maximum(a, p.move_in), a)
    b = np.minimum(present_until - 1, birth + int(65 * _YEAR) - 1)
    b = np.minimum(b, np.where(unemp_now, as_of, as_of - 2))
    elig = np.flatnonzero((a <= b) & (rate > 0))
    edu_end = np.asarray(prm["education_end_age"])
    sb, gap = prm["short_beta"], int(prm["min_gap_days"])
    exit_shares = np.asarray(prm["long_exit_shares"], dtype=np.float64)

    def draw(idx: np.ndarray, s: np.ndarray, hs: np.ndarray, he: np.ndarray, stock: bool) -> _Batch:
        m = len(idx)
        age = (s - birth[idx]) / _YEAR
        lo = s - 1095
        overlap = np.clip(np.minimum(he, s) - np.maximum(hs, lo), 0, None).sum(axis=0)
        pre = prior[idx] * _MONTH * np.clip(ws - lo, 0, 1095) / 1095
        months = np.minimum(np.round((overlap + pre) / _MONTH), 36).astype(np.int32)
        potential = np.maximum(age - edu_end[edu[idx]], 0)
        work = np.round(np.clip(potential * work_share[idx] - months / 24, 0, 60), 1)
        bg = Background(age=age, female=p.female[idx], education=edu[idx], finnish=fin[idx].astype(np.int64),
                        swedish=swe[idx].astype(np.int64), work_years=work, months_before=months,
                        area_dev=np.full(m, area_dev))
        service = categorical(rng, assignment_probabilities(bg, prm))
        p0 = p_no_service(bg, prm)
        eff = service_effects(bg, prm)
        p_real = p0 + np.where(service > 0, eff[np.arange(m), np.maximum(service - 1, 0)], 0.0)
        employed = rng.random(m) < p_real
        short = 7 + np.floor((FOLLOW_UP_DAYS - 7) * rng.beta(sb[0], sb[1], m))
        median = (prm["long_median_extra_days"] * np.exp(prm["long_p0_slope"] * (0.45 - p0)
                                                         + prm["long_age_slope"] * np.clip(age - 50, 0, None))
                  * np.where(unemp_now[idx], prm["unemployed_now_long_factor"], 1.0))
        extra = np.minimum(rng.lognormal(np.log(median), prm["long_sigma"]), prm["long_max_days"] - 183)
        duration = np.where(employed, short, 183 + np.floor(extra)).astype(np.int64)
        band = np.digitize(age, [25, 55])
        long_exit = categorical(rng, exit_shares[band])
        return _Batch(idx, s, duration, employed, service, p0, eff, long_exit, bg, np.full(m, stock))

    # --- renewal process: spell after spell while the next registration falls inside [a, b]
    r_max = int(prm["max_spells"])
    ne = len(elig)
    hist_s = np.full((r_max + 1, ne), -_FAR, dtype=np.int64)
    hist_e = np.full((r_max + 1, ne), -_FAR, dtype=np.int64)
    per_day = rate[elig] / _YEAR
    cur = a[elig] + np.floor(rng.exponential(1.0 / np.maximum(per_day, 1e-12))).astype(np.int64)
    active = np.flatnonzero(cur <= b[elig])
    batches: list[_Batch] = []
    k = 0
    while len(active) and k < r_max:
        s = cur[active]
        bt = draw(elig[active], s, hist_s[:k, active], hist_e[:k, active], stock=False)
        batches.append(bt)
        hist_s[k, active], hist_e[k, active] = s, s + bt.duration
        nxt = s + bt.duration + gap + np.floor(rng.exponential(1.0 / per_day[active])).astype(np.int64)
        cur[active] = nxt
        active = active[nxt <= b[elig[active]]]
        k += 1

    # --- everyone unemployed now whose last spell ended before the extract date: a recent spell
    last_end = hist_e.max(axis=0)
    need = np.flatnonzero(unemp_now[elig] & (last_end < as_of))
    recent = as_of - np.floor(rng.random(len(need)) * FOLLOW_UP_DAYS).astype(np.int64)
    s = np.minimum(np.maximum.reduce([last_end[need] + gap, a[elig[need]], recent]), as_of)
    fits = s <= b[elig[need]]
    need, s = need[fits], s[fits]
    if len(need):
        batches.append(draw(elig[need], s, hist_s[:, need], hist_e[:, need], stock=True))

    return _tables(ctx, batches, unemp_now, present_until, fin, rng)


def _cat(batches: list[_Batch], name: str) -> np.ndarray:
    return np.concatenate([getattr(bt, name) for bt in batches])


def _tables(ctx: SectorContext, batches: list[_Batch], unemp_now: np.ndarray, present_until: np.ndarray,
            fin: np.ndarray, rng: np.random.Generator) -> SectorOutput:
    p, prm, as_of = ctx.people, ctx.params["employment"], ctx.as_of
    if batches:
        person, start, dur = _cat(batches, "person"), _cat(batches, "start"), _cat(batches, "duration")
        employed, service, p0 = _cat(batches, "employed"), _cat(batches, "service"), _cat(batches, "p0")
        eff = np.concatenate([bt.effects for bt in batches])
        long_exit, stock = _cat(batches, "long_exit"), _cat(batches, "stock")
        bgs = [bt.bg for bt in batches]
        edu = np.concatenate([g.education for g in bgs])
        finnish = np.concatenate([g.finnish for g in bgs])
        swedish = np.concatenate([g.swedish for g in bgs])
        work = np.concatenate([g.work_years for g in bgs])
        months = np.concatenate([g.months_before for g in bgs])
    else:
        person = start = dur = service = long_exit = edu = finnish = swedish = months = np.zeros(0, np.int64)
        employed = stock = np.zeros(0, bool)
        p0 = work = np.zeros(0)
        eff = np.zeros((0, len(SERVICES)))

    # --- realise the spells: departures, the status on the extract date
    planned = start + dur
    pu = present_until[person]
    end = planned.copy()
    outcome = np.where(employed, _EMPLOYED, long_exit)
    cut = (pu < as_of) & (planned > pu)
    end[cut] = pu[cut]
    outcome[cut] = np.where(p.move_out[person[cut]] != NO_DATE, _MOVED, _OLF)
    cover = (pu >= as_of) & (planned >= as_of)
    ongoing = (cover & unemp_now[person]) | stock
    other = cover & ~ongoing
    found_job = other & employed
    end[found_job], outcome[found_job] = as_of - 1, _EMPLOYED
    late = other & ~employed & (start + FOLLOW_UP_DAYS + 1 < as_of)
    end[late] = rng.integers(np.maximum(start[late] + FOLLOW_UP_DAYS + 1, as_of - 60), as_of)
    by_activity = np.select([p.activity == ACTIVITIES.index("employed"), p.activity == ACTIVITIES.index("student")],
                            [_EMPLOYED, _EDUCATION], _OLF)
    outcome[late] = by_activity[person[late]]
    keep = ~(other & ~employed & ~late)
    end[ongoing], outcome[ongoing] = NO_DATE, _ONGOING
    follow_up = start + FOLLOW_UP_DAYS + 1 < np.minimum(pu, as_of)

    order = np.lexsort((start, person))
    order = order[keep[order]]
    (person, start, end, outcome, employed, service, p0, eff, edu, finnish, swedish, work, months,
     follow_up) = (x[order] for x in (person, start, end, outcome, employed, service, p0, eff, edu, finnish,
                                      swedish, work, months, follow_up))
    m = len(person)
    seq = p.area * AREA_STRIDE + _SPELL_OFFSET + np.arange(m, dtype=np.int64)
    spell_id = scramble(seq, "event")
    pid = p.person_id[person]
    real_end = np.where(end == NO_DATE, as_of, end)

    # --- services: start early in the spell, end by its end
    has = np.flatnonzero(service > 0)
    svc = service[has] - 1
    span = real_end[has] - start[has]
    sv_start = start[has] + np.floor(rng.uniform(0.05, 0.5, len(has)) * np.minimum(span, 90)).astype(np.int64)
    lengths = np.array([prm["service_days"][s] for s in SERVICES], dtype=np.int64)
    length = rng.integers(lengths[svc, 0], lengths[svc, 1] + 1)
    sv_end = np.minimum(sv_start + length, real_end[has])
    sv_seq = p.area * AREA_STRIDE + _SERVICE_OFFSET + np.arange(len(has), dtype=np.int64)
    services = np.array(SERVICES, dtype=object)
    cefr = np.array(CEFR, dtype=object)

    tables = {
        "jobseeker_spell": pa.table({
            "spell_id": spell_id, "person_id": pid, "start_date": date32(start), "end_date": nullable_date(end),
            "outcome": pa.array(np.array(SPELL_OUTCOMES, dtype=object)[outcome], type=pa.string()),
        }, schema=_SPELL_SCHEMA),
        "jobseeker_background": pa.table({
            "spell_id": spell_id, "person_id": pid,
            "education_level": pa.array(np.array(EDUCATION, dtype=object)[edu], type=pa.string()),
            "finnish_skill": pa.array(cefr[finnish], type=pa.string()),
            "swedish_skill": pa.array(cefr[swedish], type=pa.string()),
            "work_history_years": work.astype(np.float64),
            "months_unemployed_before": months.astype(np.int32),
        }, schema=_BACKGROUND_SCHEMA),
        "employment_service": pa.table({
            "service_event_id": scramble(sv_seq, "event"), "person_id": pid[has], "spell_id": spell_id[has],
            "service_type": pa.array(services[svc], type=pa.string()),
            "start_date": date32(sv_start), "end_date": date32(sv_end),
        }, schema=_SERVICE_SCHEMA),
    }
    received = np.where(service > 0, services[np.maximum(service - 1, 0)], None)
    truth_cols: dict[str, Any] = {"spell_id": spell_id, "person_id": pid, "p_employed_6m_no_service": p0}
    for j, s in enumerate(SERVICES):
        truth_cols[f"p_employed_6m_under_{s}"] = p0 + eff[:, j]
    truth_cols |= {"received_service": pa.array(received, type=pa.string()),
                   "employed_within_6m": employed.astype(bool), "follow_up_complete": follow_up.astype(bool)}
    truth = {"truth_employment_spell": pa.table(truth_cols, schema=_TRUTH_SPELL_SCHEMA)}
    if p.area == 0:
        truth["truth_employment_effects"] = planted_effects_table(ctx.params)

    # --- latent traits for later sectors
    months_grid = month_starts(ctx.window_start, as_of - 1)
    by_month = days_by_month(person, start, real_end, months_grid, p.n)
    total = by_month.sum(axis=1, dtype=np.int32)
    p.latent["unemployed_days"] = by_month
    p.latent["unemployed_days_total"] = total
    p.latent["long_unemployed"] = total > 365
    p.latent["finnish_skill"] = fin
    return SectorOutput(tables=tables, truth=truth)
