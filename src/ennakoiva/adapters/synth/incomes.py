"""Incomes sector of one postal area: monthly income rows of every adult resident.

For the last ``incomes.months`` whole calendar months before the extract date, every person aged 18
or over living in the area that month gets at least one row (Incomes Register and Kela items):

- ``wages`` for the employed (and for job seekers between spells, students and some people outside
  the labour force part time): a persistent person-level log-normal level calibrated so that the
  median annual taxable income of the area's adults matches Paavo's median income, small monthly
  noise, holiday bonus in June and July; stopped pro rata for days in a job-seeker spell
  (``jobseeker_spell``) and during parental leave;
- ``unemployment_benefit`` for the days in a spell (basic or earnings-related);
- ``pension`` for pensioners; ``student_grant`` for students; ``sickness_allowance`` for people
  outside the labour force on long sick leave and for short episodes of the employed;
- ``parental_allowance`` for guardians of infants living with them (mothers ~ 10 months, some
  fathers 2 months);
- ``child_benefit`` to one guardian per household with children under 17;
- ``housing_allowance`` and ``social_assistance`` to one adult of low-income households, computed
  from the household's income that month.

Income rows are pro rata for the days a person lived in the city in a month. Latent traits for later
sectors: ``gross_income_12m`` (taxable income of the last 12 months) and ``social_assistance_months``
(months the person's household received social assistance).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ennakoiva.adapters.synth.calibration import load_calibration
from ennakoiva.adapters.synth.employment import days_by_month
from ennakoiva.adapters.synth.frame import ACTIVITIES, NO_DATE, AreaPeople, SectorContext, SectorOutput
from ennakoiva.adapters.synth.sampling import interp_by_age

__all__ = ["INCOME_TYPES", "TAXABLE", "generate", "income_months"]

INCOME_TYPES = ("wages", "pension", "unemployment_benefit", "sickness_allowance", "parental_allowance",
                "student_grant", "housing_allowance", "child_benefit", "social_assistance")
(_WAGES, _PENSION, _UNEMP, _SICK, _PARENTAL, _GRANT, _HOUSING, _CHILD, _SOCIAL) = range(len(INCOME_TYPES))
TAXABLE = INCOME_TYPES[:6]       # taxable items; housing allowance, child benefit, social assistance are not
_YEAR = 365.25
_ADULT_DAYS = int(np.ceil(18 * _YEAR))   # days from birth to the first day counted as 18
_MIN_AMOUNT = 0.006              # rows below a cent are not paid
_SCHEMA = pa.schema([pa.field("person_id", pa.int64(), nullable=False), pa.field("month", pa.date32(), nullable=False),
                     pa.field("income_type", pa.string(), nullable=False),
                     pa.field("amount_eur", pa.float64(), nullable=False)])
_TYPE_NAMES = pa.array(INCOME_TYPES, type=pa.string())
_A = {name: i for i, name in enumerate(ACTIVITIES)}


def income_months(as_of: int, months: int) -> tuple[np.ndarray, np.ndarray]:
    """First days of the ``months`` whole calendar months before ``as_of`` and of the months after them."""
    last = np.datetime64(int(as_of) - 1, "D").astype("datetime64[M]")
    grid = np.arange(last - (months - 1), last + 1)
    return grid.astype("datetime64[D]").astype(np.int64), (grid + 1).astype("datetime64[D]").astype(np.int64)


def _spell_days(ctx: SectorContext, m_start: np.ndarray, local: np.ndarray, n_local: int) -> np.ndarray:
    """(adults, months) days in a job-seeker spell, from the employment sector's table."""
    p = ctx.people
    spells = ctx.outputs.get("jobseeker_spell")
    if spells is None or spells.num_rows == 0:
        return np.zeros((n_local, len(m_start)), dtype=np.int16)
    pid = spells.column("person_id").to_numpy()
    start = spells.column("start_date").cast(pa.int32()).to_numpy().astype(np.int64)
    end = pc.fill_null(spells.column("end_date").cast(pa.int32()), ctx.as_of).to_numpy().astype(np.int64)
    order = np.argsort(p.person_id)
    pos = np.minimum(np.searchsorted(p.person_id, pid, sorter=order), p.n - 1)
    person = order[pos]
    ok = (p.person_id[person] == pid) & (local[person] >= 0)
    return days_by_month(local[person[ok]], start[ok], end[ok], m_start, n_local)


def _first_in_group(group: np.ndarray, priority: np.ndarray, present: np.ndarray, n_groups: int) -> np.ndarray:
    """(groups, months): the member with the lowest priority present that month (-1 if none)."""
    order = np.lexsort((priority, group))
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    big = len(order)
    cand = np.where(present[order], np.arange(big)[:, None], big)
    best = np.minimum.reduceat(cand, starts, axis=0)
    out = np.full((n_groups, present.shape[1]), -1, dtype=np.int64)
    out[g[starts]] = np.where(best < big, order[np.minimum(best, big - 1)], -1)
    return out


def _bisect(fn: Any, target: float, lo: float, hi: float, steps: int = 40) -> float:
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if fn(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _days_in(p: AreaPeople, sel: np.ndarray, m_start: np.ndarray, m_next: np.ndarray) -> np.ndarray:
    """(len(sel), months) days each selected person lived in the area during each month."""
    pu = p.present_until()[sel]
    mi = np.where(p.move_in[sel] != NO_DATE, p.move_in[sel], np.iinfo(np.int32).min).astype(np.int64)
    return np.clip(np.minimum(pu[:, None], m_next[None, :]) - np.maximum(mi[:, None], m_start[None, :]), 0, None)


class _Rows:
    """Income rows collected per type: local adult index, month index, type, amount."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, int, np.ndarray]] = []

    def add_matrix(self, kind: int, rows: np.ndarray, mat: np.ndarray) -> None:
        r, m = np.nonzero(mat >= _MIN_AMOUNT)
        self.parts.append((rows[r], m, kind, mat[r, m]))

    def add(self, kind: int, who: np.ndarray, month: np.ndarray, amount: np.ndarray) -> None:
        ok = amount >= _MIN_AMOUNT
        self.parts.append((who[ok], month[ok], kind, amount[ok]))


def generate(ctx: SectorContext) -> SectorOutput:
    """Monthly income rows of the area's adult residents for the months before the extract date."""
    p, prm, rng = ctx.people, ctx.params["incomes"], ctx.rng
    n_months = int(prm["months"])
    m_start, m_next = income_months(ctx.as_of, n_months)
    dim = (m_next - m_start).astype(np.float64)
    moy = (m_start.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12) + 1
    years = m_start.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    p.latent["gross_income_12m"] = np.zeros(p.n)
    p.latent["social_assistance_months"] = np.zeros(p.n, dtype=np.int32)

    # --- who is an adult resident in which month, and for what share of it
    birth = p.birth.astype(np.int64)
    adult_from = birth + _ADULT_DAYS
    pu = p.present_until()
    mi = np.where(p.move_in != NO_DATE, p.move_in, np.iinfo(np.int32).min)
    cand = np.flatnonzero((adult_from <= m_start[-1]) & (pu > m_start[0]) & (mi < m_next[-1]))
    days_in = _days_in(p, cand, m_start, m_next)
    adult_res = (days_in > 0) & (m_start[None, :] >= adult_from[cand, None])
    keep = adult_res.any(axis=1)
    idx, days_in, present = cand[keep], days_in[keep], adult_res[keep]
    n_a = len(idx)
    if n_a == 0:
        return SectorOutput(tables={"income": _SCHEMA.empty_table()})
    local = np.full(p.n, -1, dtype=np.int64)
    local[idx] = np.arange(n_a)
    frac = np.where(present, days_in / dim, 0.0)
    u_frac = np.where(present, np.minimum(_spell_days(ctx, m_start, local, n_a), days_in) / dim, 0.0)
    act = p.activity[idx]
    edu = np.where(p.education[idx] >= 0, p.education[idx], 0)
    foreign = (p.tongue[idx] != "fi") & (p.tongue[idx] != "sv")
    age_now = (ctx.as_of - birth[idx]) / _YEAR
    current = pu[idx] > ctx.as_of

    # --- person-level draws (fixed order)
    z_wage = rng.normal(0.0, 1.0, n_a)
    z_pension = rng.normal(0.0, 1.0, n_a)
    u_person = rng.random((4, n_a))

    log_rel = (np.asarray(prm["wage_education"])[edu] + interp_by_age(age_now, prm["wage_age"])
               + prm["wage_female"] * p.female[idx] + prm["wage_foreign"] * foreign + prm["wage_sigma"] * z_wage)
    wage_rel = np.exp(log_rel)
    is_emp, is_unemp = act == _A["employed"], act == _A["unemployed"]
    is_pens, is_student, is_other = act == _A["pensioner"], act == _A["student"], act == _A["other"]
    student_works = is_student & (u_person[0] < prm["student_work_share"])
    other_works = is_other & (u_person[1] < prm["other_work_share"])
    other_sick = is_other & ~other_works
    earnings_related = (is_emp | is_unemp | other_works) & (u_person[2] < prm["earnings_related_share"])
    work_factor = np.select([is_emp, is_unemp, student_works, other_works],
                            [1.0, prm["unemployed_wage_factor"], prm["student_work_factor"],
                             prm["other_work_factor"]], 0.0)
    pension_rel = prm["pension_relative"] * np.exp(0.5 * log_rel + prm["pension_sigma"] * z_pension)

    # --- parental leave; the share of each month working, unemployed, on leave
    leave = _parental_leave(p, idx, local, m_start, prm, rng) & present & ~is_pens[:, None]
    work = np.clip(frac - u_frac, 0.0, None)
    work[leave] = 0.0
    unemp = np.where(leave, 0.0, u_frac)
    holiday = np.where(np.isin(moy, prm["holiday_months"]), prm["holiday_factor"], 1.0)
    growth = (1.0 + prm["growth_per_year"]) ** (years + (moy - 0.5) / 12 - int(prm["calibration_year"]) - 0.5)

    traits = {"wage_rel": wage_rel, "work_factor": work_factor, "is_pens": is_pens, "pension_rel": pension_rel,
              "earnings_related": earnings_related, "other_sick": other_sick, "is_student": is_student,
              "earner": is_emp | is_unemp}

    # --- calibrate the wage scale to Paavo's median income of the area's adults (last 12 months)
    last12 = slice(n_months - 12, n_months)
    counted = np.flatnonzero(current & (frac[:, last12].sum(axis=1) > 0))
    c_traits = {k: v[counted] for k, v in traits.items()}
    w, f = work[counted, last12], frac[counted, last12]
    exposure = {"wage": (w * holiday[last12]).sum(axis=1), "unemp": unemp[counted, last12].sum(axis=1),
                "parental": (leave[counted, last12] * f).sum(axis=1), "pension": f.sum(axis=1),
                "sick": w.sum(axis=1), "grant": w.sum(axis=1)}
    g_mid = float(growth[last12].mean())

    def median_income(scale: float) -> float:
        lv = _levels(scale * g_mid, c_traits, prm)
        total = sum(lv[k] * exposure[k] for k in exposure)
        return float(np.median(12.0 * total / exposure["pension"])) if len(counted) else 0.0

    cal = load_calibration()
    known = cal.median_income > 0
    target = float(cal.median_income[p.area]) if known[p.area] else float(
        np.average(cal.median_income[known], weights=cal.inhabitants[known]))
    scale = _bisect(median_income, target * g_mid, 300.0, 20_000.0, steps=26)
    lv = _levels(scale, traits, prm)

    # --- personal income items, each over the persons it concerns
    rows = _Rows()
    taxable = np.zeros((n_a, n_months))
    wr = np.flatnonzero(work_factor > 0)
    noise = 1.0 + prm["monthly_noise_sd"] * rng.standard_normal((len(wr), n_months), dtype=np.float32)
    wages = (lv["wage"][wr, None] * (growth * holiday)[None, :]) * noise * work[wr]
    emp_rows = np.flatnonzero(is_emp[wr])
    n_sick = rng.binomial(len(emp_rows) * n_months, prm["sickness_episode_rate"])
    cell = np.unique(rng.integers(0, max(len(emp_rows) * n_months, 1), n_sick))
    sr, sm = emp_rows[cell // n_months] if len(emp_rows) else cell[:0], cell % n_months
    share = rng.uniform(0.2, 1.0, len(cell)) * (work[wr[sr], sm] > 0)
    sick_pay = _replacement(lv["wage"][wr[sr]], prm) * growth[sm] * share * work[wr[sr], sm]
    wages[sr, sm] *= 1.0 - 0.7 * share
    rows.add_matrix(_WAGES, wr, wages)
    rows.add(_SICK, wr[sr], sm, sick_pay)
    taxable[wr] += wages
    taxable[wr[sr], sm] += sick_pay
    for kind, sel, mat in (
        (_PENSION, is_pens, lambda r: lv["pension"][r, None] * growth * frac[r]),
        (_SICK, other_sick, lambda r: lv["sick"][r, None] * growth * work[r]),
        (_UNEMP, (unemp > 0).any(axis=1), lambda r: lv["unemp"][r, None] * unemp[r]),
        (_PARENTAL, leave.any(axis=1), lambda r: lv["parental"][r, None] * growth * (leave[r] * frac[r])),
        (_GRANT, is_student, lambda r: lv["grant"][r, None] * work[r]),
    ):
        r = np.flatnonzero(sel)
        m = mat(r)
        rows.add_matrix(kind, r, m)
        taxable[r] += m

    sa_hh = _household_benefits(ctx, idx, present, taxable, rows, m_start, m_next, u_person[3], rng)

    # --- the table (rows grouped by income type)
    who = np.concatenate([x[0] for x in rows.parts])
    month = np.concatenate([x[1] for x in rows.parts])
    kind = np.concatenate([np.full(len(x[0]), x[2], dtype=np.int8) for x in rows.parts])
    amount = np.round(np.concatenate([x[3] for x in rows.parts]).astype(np.float64), 2)
    table = pa.table({
        "person_id": p.person_id[idx][who],
        "month": pa.array(m_start[month].astype(np.int32), type=pa.int32()).cast(pa.date32()),
        "income_type": pc.take(_TYPE_NAMES, pa.array(kind)),
        "amount_eur": amount,
    }, schema=_SCHEMA)

    p.latent["gross_income_12m"][idx] = taxable[:, last12].sum(axis=1)
    p.latent["social_assistance_months"] = sa_hh[p.household]
    return SectorOutput(tables={"income": table})


def _levels(scale: float, t: dict[str, np.ndarray], prm: dict[str, Any]) -> dict[str, np.ndarray]:
    """Monthly amounts per person (before growth and noise) for a wage scale."""
    wage = scale * t["wage_rel"]
    daily, days = prm["unemployment_basic_daily"], prm["unemployment_days_per_month"]
    return {
        "wage": wage * t["work_factor"],
        "pension": np.where(t["is_pens"], np.minimum(np.maximum(scale * t["pension_rel"], prm["guarantee_pension"]),
                                                     prm["pension_max"]), 0.0),
        "unemp": np.where(t["earnings_related"], days * (daily + _earnings_related(0.95 * wage / days - daily, prm)),
                          daily * days),
        "sick": np.where(t["other_sick"], np.maximum(_replacement(0.8 * wage, prm), prm["allowance_minimum"]), 0.0),
        "parental": np.where(t["earner"], np.maximum(_replacement(wage, prm), prm["allowance_minimum"]),
                             prm["allowance_minimum"]),
        "grant": np.where(t["is_student"], prm["student_grant"], 0.0),
    }


def _replacement(wage: np.ndarray, prm: dict[str, Any]) -> np.ndarray:
    """Sickness and parental allowance from monthly earnings: 70 % up to a limit, less above it."""
    lo, hi = prm["allowance_brackets"]
    r = prm["allowance_replacement"]
    return (r[0] * np.minimum(wage, lo) + r[1] * np.clip(wage - lo, 0, hi - lo)
            + r[2] * np.maximum(wage - hi, 0))


def _earnings_related(excess_daily: np.ndarray, prm: dict[str, Any]) -> np.ndarray:
    """Earnings-related part of the daily unemployment allowance from the daily wage above the basic part."""
    cap = prm["earnings_related_cap_daily"]
    lo, hi = prm["earnings_related_rate"]
    x = np.maximum(excess_daily, 0.0)
    return lo * np.minimum(x, cap) + hi * np.maximum(x - cap, 0.0)


def _parental_leave(p: AreaPeople, idx: np.ndarray, local: np.ndarray, m_start: np.ndarray,
                    prm: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """(adults, months) bool: on parental allowance that month (guardians living with an infant)."""
    out = np.zeros((len(idx), len(m_start)), dtype=bool)
    pairs = p.guardian_pairs
    father_takes = rng.random(p.n) < prm["father_leave_share"]     # per child
    if len(pairs) == 0:
        return out
    month_no = m_start.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    birth_month = p.birth.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    g, c = pairs[:, 0], pairs[:, 1]
    near = (birth_month[c] > month_no[0] - 12) & (local[g] >= 0) & (p.household[g] == p.household[c])
    g, c = g[near], c[near]
    life = month_no[None, :] - birth_month[c][:, None]            # month of the child's life, 0 = birth month
    mother = p.female[g]
    has_mother = np.zeros(p.n, dtype=bool)
    has_mother[c[mother]] = True
    mom_m, dad_m = int(prm["mother_leave_months"]), int(prm["father_leave_months"])
    lo = np.where(mother | ~has_mother[c], 0, mom_m)
    hi = np.where(mother, mom_m, np.where(~has_mother[c], mom_m + dad_m,
                                          np.where(father_takes[c], mom_m + dad_m, 0)))
    r, m = np.nonzero((life >= lo[:, None]) & (life < hi[:, None]))
    out[local[g[r]], m] = True
    return out


def _household_benefits(ctx: SectorContext, idx: np.ndarray, present: np.ndarray,
                        taxable: np.ndarray, rows: _Rows, m_start: np.ndarray, m_next: np.ndarray,
                        u_take: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Child benefit, housing allowance and social assistance, each paid to one adult of the household.

    Returns the number of months each household received social assistance.
    """
    p, prm = ctx.people, ctx.params["incomes"]
    n_hh, n_months = len(p.household_id), len(m_start)
    cells = n_hh * n_months
    col = np.arange(n_months)

    def per_household(group: np.ndarray, values: np.ndarray) -> np.ndarray:
        flat = (group[:, None] * n_months + col[None, :]).ravel()
        return np.bincount(flat, weights=values.ravel(), minlength=cells).reshape(n_hh, n_months)

    hh_a = p.household[idx]
    act = p.activity[idx]
    priority = np.where(p.female[idx], 0, 1) * 10**6 + (p.birth[idx].astype(np.int64) - int(p.birth.min()))
    recipient = _first_in_group(hh_a, priority, present, n_hh)      # (households, months) local adult or -1
    n_adults = per_household(hh_a, present.astype(np.float64))
    income = per_household(hh_a, taxable)
    pensioners = per_household(hh_a, (present & (act == _A["pensioner"])[:, None]).astype(np.float64))
    students = per_household(hh_a, (present & (act == _A["student"])[:, None]).astype(np.float64))

    # children: the minors living with their guardians (households are as on the extract date, so a young
    # adult who has left home is not counted as a child of their own household in earlier months);
    # child benefit under 17 from the month after birth, by birth order
    birth = p.birth.astype(np.int64)
    kids = np.flatnonzero(p.is_child)
    k_days = _days_in(p, kids, m_start, m_next)
    k_res = (k_days > 0) & (m_start[None, :] < birth[kids, None] + _ADULT_DAYS)
    hh_k = p.household[kids]
    n_children = per_household(hh_k, k_res.astype(np.float64))
    eligible = k_res & (m_start[None, :] < birth[kids, None] + int(prm["child_benefit_max_age"] * _YEAR)) & (
        birth[kids, None] < m_start[None, :])
    order = np.lexsort((birth[kids], hh_k))
    g_sorted = hh_k[order]
    csum = np.cumsum(eligible[order], axis=0)
    if len(order):
        starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
        before = np.vstack([np.zeros((1, n_months), np.int64), csum[:-1]])[starts]
        csum = csum - np.repeat(before, np.diff(np.r_[starts, len(order)]), axis=0)   # 1 = oldest eligible
    rates = np.asarray(prm["child_benefit"], dtype=np.float64)
    per_child = np.where(eligible[order], rates[np.clip(csum - 1, 0, len(rates) - 1)], 0.0)
    single = p.household_type[g_sorted] == "single_parent"
    per_child += np.where(eligible[order] & single[:, None], prm["single_parent_supplement"], 0.0)
    cb = per_household(g_sorted, per_child)

    # general housing allowance for renters (not pensioner-only households)
    hh_table = ctx.outputs.get("household")
    if hh_table is not None and hh_table.num_rows == n_hh and "floor_area_m2" in hh_table.column_names:
        area_m2 = hh_table.column("floor_area_m2").to_numpy().astype(np.float64)
    else:
        area_m2 = 30.0 * np.maximum(np.bincount(p.household, minlength=n_hh), 1)
    size = np.clip(n_adults + n_children, 1, None).astype(np.int64)
    units = 1.0 + 0.5 * np.maximum(n_adults - 1, 0) + 0.3 * n_children
    mean_unit = (income / units).mean(axis=1)
    ref = float(np.median(mean_unit[mean_unit > 0])) if (mean_unit > 0).any() else 1.0
    logit = np.log(prm["renter_share"] / (1 - prm["renter_share"])) - prm["renter_income_slope"] * np.log(
        np.maximum(mean_unit, 50.0) / ref)
    renter = rng.random(n_hh) < 1.0 / (1.0 + np.exp(-logit))
    caps = np.asarray(prm["housing_max_cost"], dtype=np.float64)
    cap = np.where(size <= len(caps), caps[np.minimum(size, len(caps)) - 1],
                   caps[-1] + (size - len(caps)) * prm["housing_max_cost_extra_person"])
    rent = (area_m2 * prm["rent_per_m2"])[:, None]
    hs = np.flatnonzero(renter & (n_adults > pensioners).any(axis=1))
    ex = prm["housing_exempt"]
    exempt = ex["base"] + ex["per_adult"] * n_adults[hs] + ex["per_child"] * n_children[hs]
    ha_s = prm["housing_rate"] * (np.minimum(rent[hs], cap[hs]) - prm["housing_deductible_rate"]
                                  * np.maximum(income[hs] - exempt, 0.0))
    ha_s = np.where((n_adults[hs] > pensioners[hs]) & (ha_s >= prm["housing_minimum"]), ha_s, 0.0)
    ha = np.zeros((n_hh, n_months))
    ha[hs] = ha_s

    # basic social assistance: norm + reasonable housing costs - net income, for households that apply
    applies = np.zeros(n_hh, dtype=bool)
    applies[hh_a] = u_take < prm["social_assistance_take_up"]
    ss = np.flatnonzero(applies & (students < n_adults).any(axis=1))
    adults, children = n_adults[ss], n_children[ss]
    norm = prm["social_assistance_basic"] * (1.0 + prm["social_assistance_other_adult"] * np.maximum(adults - 1, 0)
                                             + prm["social_assistance_child"] * children)
    own_cost = (area_m2 * prm["owner_housing_cost_per_m2"])[:, None]
    cost = np.minimum(np.where(renter[ss, None], rent[ss], own_cost[ss]),
                      prm["social_assistance_housing_cap"] * cap[ss])
    need = norm + cost - (prm["net_of_tax"] * income[ss] + ha[ss] + cb[ss])
    sa_s = np.where((students[ss] < adults) & (need >= prm["social_assistance_minimum"]), need, 0.0)

    sa_months = np.zeros(n_hh, dtype=np.int32)
    for kind, sel, values in ((_CHILD, None, cb), (_HOUSING, hs, ha_s), (_SOCIAL, ss, sa_s)):
        r, m = np.nonzero(values >= _MIN_AMOUNT)
        h = r if sel is None else sel[r]
        who = recipient[h, m]
        ok = who >= 0
        rows.add(kind, who[ok], m[ok], values[r[ok], m[ok]])
        if kind == _SOCIAL:
            sa_months += np.bincount(h[ok], minlength=n_hh).astype(np.int32)
    return sa_months
