"""Family services and child welfare of one postal area, driven by planted precursors across sectors.

Eight precursors per child (0-17), each observable in the tables:

- ``parent_depression`` / ``parent_alcohol``: a guardian has the health sector's latent trait
  (``latent["depression"]`` / ``latent["alcohol"]``, diagnosed in ``diagnosis``);
- ``parent_long_unemployed``: a guardian is long-term unemployed (``latent["long_unemployed"]``,
  ``jobseeker_spell``);
- ``single_parent``: the child's household is a one-parent household (``household``);
- ``low_income``: the household's equivalised income over the 12 months before the extract date is
  below a threshold (``income``);
- ``frequent_emergency``: the child or a guardian had at least three emergency visits in those 12
  months (``latent["emergency_visits_12m"]``, ``health_visit``);
- ``recent_move``: the child moved into the city during the window (``person.moved_in_date``);
- ``family_service``: the family received a family social service (``family_service``), itself more
  likely with the other precursors; a child-welfare client-ship then starts after the service.

Where an earlier sector did not provide its trait, it is derived here from register facts (activity,
sex, household) and is then not observable in the other sectors' tables.

The Espoo finding is planted (analytics.md §7.8: "No single factor alone is a risk, but several
occurring together can be."): the logit of becoming a client during the window is a base plus small
weights per factor plus a large interaction term once three or more factors co-occur. Notifications
precede every client-ship (and also concern children who do not become clients); sources depend on
the child's age and the family's precursors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ennakoiva.adapters.synth.frame import (
    ACTIVITIES,
    NO_DATE,
    AreaPeople,
    SectorContext,
    SectorOutput,
    date32,
    nullable_date,
)
from ennakoiva.adapters.synth.ids import AREA_STRIDE, scramble
from ennakoiva.adapters.synth.sampling import categorical, interp_by_age

__all__ = ["CW_SOURCES", "FACTORS", "FAMILY_SERVICE_TYPES", "generate"]

FACTORS = ("parent_depression", "parent_alcohol", "parent_long_unemployed", "single_parent", "low_income",
           "frequent_emergency", "recent_move", "family_service")
FAMILY_SERVICE_TYPES = ("family_work", "home_help", "family_counselling", "parenting_support")
CW_SOURCES = ("police", "school", "health_care", "social_services", "daycare", "relative", "self")
_FS_OFFSET, _NOTE_OFFSET, _CLIENT_OFFSET = 6 * 10**9, 7 * 10**9, 8 * 10**9
_YEAR = 365.25
_FAR = np.iinfo(np.int64).max // 4


def _schema(*fields: tuple[str, pa.DataType, bool]) -> pa.Schema:
    return pa.schema([pa.field(name, typ, nullable=null) for name, typ, null in fields])


_FS_SCHEMA = _schema(("family_service_id", pa.int64(), False), ("person_id", pa.int64(), False),
                     ("service_type", pa.string(), False), ("start_date", pa.date32(), False),
                     ("end_date", pa.date32(), True))
_NOTE_SCHEMA = _schema(("notification_id", pa.int64(), False), ("person_id", pa.int64(), False),
                       ("notification_date", pa.date32(), False), ("source", pa.string(), False))
_CLIENT_SCHEMA = _schema(("client_id", pa.int64(), False), ("person_id", pa.int64(), False),
                         ("start_date", pa.date32(), False), ("end_date", pa.date32(), True))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _latent(p: AreaPeople, name: str) -> np.ndarray | None:
    """An earlier sector's per-person trait as numbers (bool -> 0/1), or None when absent."""
    arr = p.latent.get(name)
    if arr is None:
        return None
    a = np.asarray(arr)
    if a.shape != (p.n,):
        raise ValueError(f"latent '{name}' has shape {a.shape}, expected ({p.n},)")
    return a.astype(np.float64)


def _person_traits(p: AreaPeople, s: dict[str, Any], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Depression, alcohol disorder, long-term unemployment and emergency visits per person.

    The fallbacks are always drawn, so the random stream after this does not depend on which earlier
    sectors ran; an earlier sector's latent trait replaces its fallback.
    """
    fb = s["fallback"]
    adult = p.education >= 0
    unemployed = p.activity == ACTIVITIES.index("unemployed")
    outside = np.where(unemployed | (p.activity == ACTIVITIES.index("other")), fb["outside_work_ratio"], 1.0)
    u = rng.random((2, p.n))
    dep = adult & (u[0] < fb["depression"] * outside)
    alc = adult & (u[1] < fb["alcohol"] * outside * np.where(p.female, 1.0, fb["alcohol_male_ratio"]))
    rate = fb["emergency_visits_per_year"] * (1 + fb["emergency_alcohol_ratio"] * alc)
    em = rng.poisson(rate * rng.gamma(fb["emergency_shape"], 1 / fb["emergency_shape"], p.n)).astype(np.float64)
    found = {name: _latent(p, name) for name in ("depression", "alcohol", "long_unemployed", "emergency_visits_12m")}
    return {
        "depression": dep if found["depression"] is None else found["depression"] > 0,
        "alcohol": alc if found["alcohol"] is None else found["alcohol"] > 0,
        "long_unemployed": unemployed if found["long_unemployed"] is None else found["long_unemployed"] > 0,
        "emergency": em if found["emergency_visits_12m"] is None else found["emergency_visits_12m"],
    }


def _low_income(ctx: SectorContext, current: np.ndarray, adult_now: np.ndarray) -> np.ndarray:
    """Per household: equivalised income of the last 12 months below the threshold (or no earner)."""
    p, li = ctx.people, ctx.params["social"]["low_income"]
    n_hh = len(p.household_id)
    income = ctx.outputs.get("income")
    if income is None or income.num_rows == 0:
        employed = current & (p.activity == ACTIVITIES.index("employed"))
        return np.bincount(p.household, weights=employed, minlength=n_hh) == 0
    month = income.column("month").cast(pa.int32())
    recent = pc.and_(pc.greater_equal(month, ctx.as_of - 365), pc.less(month, ctx.as_of))
    rows = income.filter(recent)
    pid = rows.column("person_id").to_numpy()
    amount = rows.column("amount_eur").to_numpy()
    order = np.argsort(p.person_id)
    pos = np.minimum(np.searchsorted(p.person_id, pid, sorter=order), p.n - 1)
    local = order[pos]
    known = p.person_id[local] == pid
    per_person = np.bincount(local[known], weights=amount[known], minlength=p.n)
    hh_income = np.bincount(p.household, weights=np.where(current, per_person, 0.0), minlength=n_hh)
    age = (ctx.as_of - p.birth) / _YEAR
    # OECD modified scale: 1 for the first adult, 0.5 for others aged 14+, 0.3 for children under 14
    weight = np.where(age >= 14, 0.5, 0.3) * current
    units = np.bincount(p.household, weights=weight, minlength=n_hh) + 0.5 * (
        np.bincount(p.household, weights=current & adult_now, minlength=n_hh) > 0)
    return hh_income / np.maximum(units, 1.0) < li["threshold_eur_per_year"]


def _expand(group_of_row: np.ndarray, member_group: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """All (row, member) pairs where the member belongs to the row's group."""
    order = np.argsort(member_group, kind="stable")
    start = np.searchsorted(member_group[order], np.arange(n_groups))
    count = np.bincount(member_group, minlength=n_groups)
    reps = count[group_of_row]
    rows = np.repeat(np.arange(len(group_of_row)), reps)
    offs = np.arange(len(rows)) - np.repeat(np.cumsum(reps) - reps, reps)
    return rows, order[start[group_of_row[rows]] + offs]


def generate(ctx: SectorContext) -> SectorOutput:
    """``family_service``, ``child_welfare_notification``, ``child_welfare_client`` and the truth table."""
    p, s, rng = ctx.people, ctx.params["social"], ctx.rng
    as_of, ws = ctx.as_of, ctx.window_start
    window_years = (as_of - ws) / _YEAR
    current = (p.death == NO_DATE) & (p.move_out == NO_DATE)
    adult_now = (as_of - p.birth) >= 18 * _YEAR
    traits = _person_traits(p, s, rng)
    low_income_hh = _low_income(ctx, current, adult_now)

    children = np.flatnonzero(p.is_child)
    k = len(children)
    hh = p.household[children]
    n_hh = len(p.household_id)
    birth = p.birth[children].astype(np.int64)
    entry = np.maximum.reduce([np.full(k, ws, np.int64), birth, p.move_in[children].astype(np.int64)])
    g, c = p.guardian_pairs[:, 0], p.guardian_pairs[:, 1]

    def by_guardian(flag: np.ndarray) -> np.ndarray:
        return (np.bincount(c, weights=flag[g], minlength=p.n) > 0)[children]

    em_threshold = s["emergency_visits_threshold"]
    frequent = traits["emergency"] >= em_threshold
    flags = np.zeros((k, len(FACTORS)), dtype=bool)
    flags[:, 0] = by_guardian(traits["depression"])
    flags[:, 1] = by_guardian(traits["alcohol"])
    flags[:, 2] = by_guardian(traits["long_unemployed"])
    flags[:, 3] = p.household_type[hh] == "single_parent"
    flags[:, 4] = low_income_hh[hh]
    flags[:, 5] = frequent[children] | by_guardian(frequent)
    flags[:, 6] = p.move_in[children] != NO_DATE

    # --- family services: per family, more likely with the other precursors
    fs = s["family_service"]
    fam_any = np.stack([np.bincount(hh, weights=flags[:, j], minlength=n_hh) > 0 for j in range(7)], axis=1)
    fam_kids = np.bincount(hh, minlength=n_hh) > 0
    fam_entry = np.full(n_hh, ws, dtype=np.int64)
    np.maximum.at(fam_entry, hh, np.where(p.move_in[children] != NO_DATE, p.move_in[children], ws))
    fam_logit = fs["base_logit"] + fam_any @ np.array(fs["weights"], dtype=np.float64)
    fam_years = (as_of - fam_entry) / _YEAR
    p_fam = 1 - (1 - _sigmoid(fam_logit)) ** (fam_years / window_years)
    fam_has = fam_kids & (rng.random(n_hh) < p_fam) & (as_of - fam_entry > fs["min_days_before_as_of"])
    fams = np.flatnonzero(fam_has)
    n_serv = 1 + rng.poisson(fs["extra_services_mean"], len(fams))
    serv_fam = np.repeat(fams, n_serv)
    span = as_of - fs["min_days_before_as_of"] - fam_entry[serv_fam]
    serv_start = fam_entry[serv_fam] + np.floor(rng.random(len(serv_fam)) * span).astype(np.int64)
    serv_type = categorical(rng, np.tile(np.array(fs["type_shares"], dtype=np.float64), (len(serv_fam), 1)))
    med = np.array(fs["median_days"], dtype=np.float64)[serv_type]
    serv_end = serv_start + np.ceil(med * rng.lognormal(0, fs["duration_sigma"], len(serv_fam))).astype(np.int64)
    rows, member = _expand(serv_fam, hh, n_hh)      # member: index into children
    fs_start = np.maximum(serv_start[rows], birth[member])
    ok = fs_start <= np.minimum(serv_end[rows], as_of)
    rows, member, fs_start = rows[ok], member[ok], fs_start[ok]
    first_fs = np.full(k, _FAR, dtype=np.int64)
    np.minimum.at(first_fs, member, fs_start)
    flags[:, 7] = first_fs < _FAR
    n_factors = flags.sum(axis=1).astype(np.int32)

    # --- child-welfare client-ship: small weights, a large interaction from three factors on
    cw = s["clientship"]
    mid_age = ((entry + as_of) / 2 - birth) / _YEAR
    logit = (cw["base_logit"] + flags @ np.array(cw["weights"], dtype=np.float64)
             + interp_by_age(mid_age, {int(a): v for a, v in cw["age_logit"].items()})
             + cw["interaction_logit"] * (n_factors >= 3)
             + cw["interaction_per_extra_factor"] * np.maximum(n_factors - 3, 0))
    exposure = np.clip((as_of - entry) / (as_of - ws), 0.0, 1.0)
    p_client = 1 - (1 - _sigmoid(logit)) ** exposure
    u_fam = rng.random(n_hh)[hh]
    u = np.where(rng.random(k) < cw["siblings_together"], u_fam, rng.random(k))
    became = u < p_client
    lo = np.where(flags[:, 7], np.maximum(entry, first_fs + cw["days_after_family_service"]), entry)
    lo = np.minimum(lo, as_of)
    cl = np.flatnonzero(became)
    cl_start = lo[cl] + np.floor(rng.random(len(cl)) * (as_of - lo[cl] + 1)).astype(np.int64)
    short = rng.random(len(cl)) < cw["short_share"]
    median = np.where(short, cw["short_median_days"], cw["long_median_days"])
    dur = median * rng.lognormal(0, cw["duration_sigma"], len(cl))
    eighteen = birth[cl] + round(18 * _YEAR) - 1
    cl_end = np.minimum(cl_start + np.ceil(dur).astype(np.int64), eighteen)

    # --- notifications: the one that opened the assessment, earlier ones, ones during client-ship,
    # and notifications about children who did not become clients
    nt = s["notifications"]
    first_gap = rng.integers(0, nt["assessment_days"] + 1, len(cl))
    n_note_first = np.maximum(cl_start - first_gap, entry[cl])
    n_earlier = rng.poisson(nt["earlier_mean"], len(cl))
    e_child = np.repeat(cl, n_earlier)
    e_date = np.repeat(cl_start, n_earlier) - rng.integers(nt["assessment_days"] + 1, 366, len(e_child))
    e_keep = e_date >= entry[e_child]
    during_end = np.minimum(cl_end, as_of)
    n_during = rng.poisson(nt["during_per_year"] * np.maximum(during_end - cl_start, 0) / _YEAR)
    d_child = np.repeat(cl, n_during)
    d_start = np.repeat(cl_start, n_during)
    d_date = d_start + 1 + np.floor(rng.random(len(d_child)) * np.maximum(np.repeat(during_end, n_during) - d_start, 0)
                                    ).astype(np.int64)
    other_rate = nt["other_per_year"] * np.exp(nt["other_per_factor_lograte"] * n_factors)
    n_other = rng.poisson(other_rate * (as_of - entry) / _YEAR)
    o_child = np.repeat(np.arange(k), n_other)
    o_date = entry[o_child] + np.floor(rng.random(len(o_child)) * (as_of - entry[o_child] + 1)).astype(np.int64)
    note_child = np.concatenate([cl, e_child[e_keep], d_child, o_child])
    note_date = np.minimum(np.concatenate([n_note_first, e_date[e_keep], d_date, o_date]), as_of)
    note_src = _sources(rng, note_child, note_date, birth, flags, nt)

    truth = pa.table({
        "person_id": p.person_id[children],
        **{name: flags[:, i] for i, name in enumerate(FACTORS)},
        "n_factors": n_factors,
        "p_clientship": p_client,
        "became_client": became,
    })
    return SectorOutput(tables=_tables(p, children, rows, member, fs_start, serv_type, serv_end, as_of,
                                       note_child, note_date, note_src, cl, cl_start, cl_end),
                        truth={"truth_child_welfare": truth})


def _sources(rng: np.random.Generator, child: np.ndarray, when: np.ndarray, birth: np.ndarray,
             flags: np.ndarray, nt: dict[str, Any]) -> np.ndarray:
    """Who made each notification: base shares tilted by age at the date and the family's precursors."""
    w = np.tile(np.array([nt["source_shares"][name] for name in CW_SOURCES], dtype=np.float64), (len(child), 1))
    age = (when - birth[child]) / _YEAR
    w[:, CW_SOURCES.index("school")] *= age >= 6.6
    w[:, CW_SOURCES.index("daycare")] *= (age >= 0.8) & (age < 7)
    w[:, CW_SOURCES.index("health_care")] *= np.where(age < 1, nt["infant_health_care_ratio"], 1.0)
    w[:, CW_SOURCES.index("police")] *= np.where(age >= 13, nt["teen_police_ratio"], 1.0)
    w[:, CW_SOURCES.index("self")] *= np.where(age >= 12, nt["teen_self_ratio"], 1.0)
    f = flags[child]
    w[:, CW_SOURCES.index("police")] *= np.where(f[:, FACTORS.index("parent_alcohol")], nt["alcohol_police_ratio"], 1.0)
    hc = f[:, FACTORS.index("parent_depression")] | f[:, FACTORS.index("frequent_emergency")]
    w[:, CW_SOURCES.index("health_care")] *= np.where(hc, nt["health_flag_health_care_ratio"], 1.0)
    return categorical(rng, w)


def _tables(p: AreaPeople, children: np.ndarray, rows: np.ndarray, member: np.ndarray, fs_start: np.ndarray,
            serv_type: np.ndarray, serv_end: np.ndarray, as_of: int, note_child: np.ndarray,
            note_date: np.ndarray, note_src: np.ndarray, cl: np.ndarray, cl_start: np.ndarray,
            cl_end: np.ndarray) -> dict[str, pa.Table]:
    base = p.area * AREA_STRIDE
    o = np.lexsort((fs_start, member))
    end = serv_end[rows][o]
    family_service = pa.table({
        "family_service_id": scramble(base + _FS_OFFSET + np.arange(len(o), dtype=np.int64), "event"),
        "person_id": p.person_id[children[member[o]]],
        "service_type": pa.array(FAMILY_SERVICE_TYPES).take(pa.array(serv_type[rows][o].astype(np.int32))),
        "start_date": date32(fs_start[o]),
        "end_date": nullable_date(np.where(end > as_of, NO_DATE, end)),
    }, schema=_FS_SCHEMA)
    o = np.lexsort((note_date, note_child))
    notes = pa.table({
        "notification_id": scramble(base + _NOTE_OFFSET + np.arange(len(o), dtype=np.int64), "event"),
        "person_id": p.person_id[children[note_child[o]]],
        "notification_date": date32(note_date[o]),
        "source": pa.array(CW_SOURCES).take(pa.array(note_src[o].astype(np.int32))),
    }, schema=_NOTE_SCHEMA)
    clients = pa.table({
        "client_id": scramble(base + _CLIENT_OFFSET + np.arange(len(cl), dtype=np.int64), "event"),
        "person_id": p.person_id[children[cl]],
        "start_date": date32(cl_start),
        "end_date": nullable_date(np.where(cl_end > as_of, NO_DATE, cl_end)),
    }, schema=_CLIENT_SCHEMA)
    return {"family_service": family_service, "child_welfare_notification": notes, "child_welfare_client": clients}
