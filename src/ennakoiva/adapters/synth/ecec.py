"""Early-childhood education and pre-primary placements (varhaiskasvatus, esiopetus) of one postal area.

Each child under seven gets at most one ECEC career: a start age drawn from an age-specific start
curve (lower for foreign-language families, later when a guardian at home), snapped to the August or
January intake; the placement runs until pre-primary education begins, with one optional change of
unit (or from family day care to a centre) at an August. Pre-primary education (esiopetus) is given
to nearly all children from mid-August of the year they turn six to the end of May, or the end of
July with connected ECEC. Children who turn six in the year after the extract date have no
pre-primary placement yet: they are the target group of the pre-school place offer.

Units are daycare centres of the child's own district, weighted by capacity; Swedish speakers mostly
go to Swedish units (anywhere in the city when their district has none). Capacity is not enforced.
Placements only exist while the child lives in the city and overlap the data window; start dates of
placements already running at the window start are their true start dates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from ennakoiva.adapters.synth.frame import (
    ACTIVITIES,
    NO_DATE,
    AreaPeople,
    CityFrame,
    SectorContext,
    SectorOutput,
    date32,
    nullable_date,
)
from ennakoiva.adapters.synth.ids import AREA_STRIDE, scramble
from ennakoiva.adapters.synth.sampling import categorical

__all__ = ["PLACEMENT_TYPES", "generate"]

PLACEMENT_TYPES = ("daycare", "family_daycare", "preschool")
_DAYCARE, _FAMILY, _PRESCHOOL = 0, 1, 2
_ID_OFFSET = 5 * 10**9
_YEAR = 365.25
_GRID = np.arange(0.75, 7.0, 1 / 104)        # start-age grid (half-week steps)
_PREF_FI, _PREF_SV, _PREF_EN = 0, 1, 2
_SCHEMA = pa.schema([
    pa.field("placement_id", pa.int64(), nullable=False),
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("unit_id", pa.int32(), nullable=False),
    pa.field("placement_type", pa.string(), nullable=False),
    pa.field("start_date", pa.date32(), nullable=False),
    pa.field("end_date", pa.date32(), nullable=True),
    pa.field("hours_per_week", pa.int32(), nullable=False),
])


def year_of(days: np.ndarray) -> np.ndarray:
    """Calendar year of days since 1970-01-01."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def ymd(year: np.ndarray | int, month: int, dom: int) -> np.ndarray:
    """Days since 1970-01-01 of (year, month, day-of-month), vectorised over ``year``."""
    months = (np.asarray(year, dtype=np.int64) - 1970) * 12 + (month - 1)
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + (dom - 1)


def _curve(knots: dict[float, float]) -> np.ndarray:
    xs = np.array(sorted(knots), dtype=np.float64)
    return np.interp(_GRID, xs, np.array([knots[k] for k in sorted(knots)], dtype=np.float64))


def _start_ages(rng: np.random.Generator, foreign: np.ndarray, home: np.ndarray, e: dict[str, Any]) -> np.ndarray:
    """Age (years) at the first ECEC day by inverse-CDF sampling; inf = never in municipal ECEC."""
    u = rng.random(len(foreign))
    out = np.full(len(foreign), np.inf)
    scale = _curve(e["home_parent_scale"])
    for is_foreign in (False, True):
        base = _curve(e["start_age_cdf_foreign" if is_foreign else "start_age_cdf"])
        for at_home in (False, True):
            cdf = base * scale if at_home else base
            cdf = cdf + _GRID * 1e-9                   # strictly increasing for the inverse
            sel = (foreign == is_foreign) & (home == at_home) & (u < cdf[-1])
            out[sel] = np.interp(u[sel], cdf, _GRID)
    return out


def _snap_to_intake(rng: np.random.Generator, start: np.ndarray, birth: np.ndarray, e: dict[str, Any]) -> np.ndarray:
    """Move a share of starts to the nearest intake day (August or January), never under the minimum age."""
    y = year_of(start)
    cands = np.stack([ymd(y + dy, m, d) for dy in (-1, 0, 1) for m, d in e["intake_days"]], axis=1)
    nearest = cands[np.arange(len(start)), np.abs(cands - start[:, None]).argmin(axis=1)]
    ok = (rng.random(len(start)) < e["intake_snap_share"]) & (nearest >= birth + e["min_age_days"])
    return np.where(ok, nearest, start)


def _unit_pools(city: CityFrame, district: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Daycare unit ids and capacities of the district per language preference (fi, sv, en)."""
    is_dc = city.unit_type == "daycare"
    local = is_dc & (city.unit_district == district)
    if not local.any():
        local = is_dc
    lang = city.unit_languages
    wanted = [(lang == "fi") | (lang == "fi,en"), lang == "sv", lang == "fi,en"]
    ids, caps = [], []
    for i, mask in enumerate(wanted):
        sel = local & mask
        if not sel.any():                           # e.g. no Swedish unit in the district: city-wide
            sel = is_dc & mask
        if not sel.any():
            sel = local if i != _PREF_SV else is_dc
        ids.append(city.unit_id[sel].astype(np.int32))
        caps.append(np.maximum(city.unit_capacity[sel].astype(np.float64), 1.0))
    return ids, caps


def _pick_units(pref: np.ndarray, u: np.ndarray, ids: list[np.ndarray], caps: list[np.ndarray]) -> np.ndarray:
    """A unit per row from the pool of its language preference, weighted by capacity, driven by ``u``."""
    out = np.zeros(len(pref), dtype=np.int32)
    for k in range(3):
        sel = pref == k
        cum = np.cumsum(caps[k])
        pos = np.searchsorted(cum, u[sel] * cum[-1], side="right")
        out[sel] = ids[k][np.minimum(pos, len(cum) - 1)]
    return out


def _hours(rng: np.random.Generator, home: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    values = np.array(spec["values"], dtype=np.int32)
    probs = np.where(home[:, None], np.array(spec["shares_home_parent"]), np.array(spec["shares"]))
    return values[categorical(rng, probs)]


def _home_parent(p: AreaPeople) -> np.ndarray:
    """Children with a guardian in their household who is unemployed or outside the labour force."""
    g, c = p.guardian_pairs[:, 0], p.guardian_pairs[:, 1]
    at_home = np.isin(p.activity[g], [ACTIVITIES.index("unemployed"), ACTIVITIES.index("other")])
    at_home &= p.household[g] == p.household[c]
    return np.bincount(c, weights=at_home, minlength=p.n) > 0


def generate(ctx: SectorContext) -> SectorOutput:
    """ECEC and pre-primary placements of the area's children (table ``ecec_placement``)."""
    p, e, rng = ctx.people, ctx.params["ecec"], ctx.rng
    pre = e["preschool"]
    birth = p.birth.astype(np.int64)
    until = p.present_until()
    entry = np.where(p.move_in != NO_DATE, np.maximum(birth, p.move_in), birth)
    pre_year = year_of(birth) + 6
    # children whose ECEC years (to the end of pre-primary) can overlap the window
    idx = np.flatnonzero((ymd(pre_year + 1, *pre["end_connected"]) >= ctx.window_start)
                         & (birth <= ctx.as_of) & (entry <= ctx.as_of) & (until > entry))
    k = len(idx)
    birth, until, entry, pre_year = birth[idx], until[idx], entry[idx], pre_year[idx]
    moved_in = p.move_in[idx] != NO_DATE
    tongue = p.tongue[idx]
    foreign = (tongue != "fi") & (tongue != "sv")
    home = _home_parent(p)[idx]
    pre_start = ymd(pre_year, *pre["start"])

    # --- language preference and units (siblings share a draw, so mostly share a unit)
    lang_u = rng.random(k)
    pref = np.full(k, _PREF_FI, dtype=np.int8)
    lp = e["language"]
    pref[(tongue == "sv") & (lang_u < lp["sv_speaker_sv_unit"])] = _PREF_SV
    pref[(tongue == "fi") & (lang_u < lp["fi_speaker_sv_unit"])] = _PREF_SV
    en_share = np.where(tongue == "en", lp["en_speaker_en_unit"], lp["foreign_speaker_en_unit"])
    pref[foreign & (lang_u < en_share)] = _PREF_EN
    ids, caps = _unit_pools(ctx.city, p.district_code)
    hh = p.household[idx]
    hh_u = rng.random(len(p.household_id))[hh]
    unit_u = np.where(rng.random(k) < e["sibling_same_unit"], hh_u, rng.random(k))

    # --- ECEC before pre-primary: start, optional change at an August, end the day before pre-primary
    start_age = _start_ages(rng, foreign, home, e)
    finite = np.isfinite(start_age)
    start = birth + np.round(np.where(finite, start_age, 0.0) * _YEAR).astype(np.int64)
    start = _snap_to_intake(rng, start, birth, e)
    lo, hi = e["move_in_delay_days"]
    start = np.where(moved_in, np.maximum(start, entry + rng.integers(lo, hi + 1, k)), start)
    has_dc = finite & (start < pre_start) & (start <= ctx.as_of) & (start < until)
    dc_end = pre_start - 1

    first_type = np.where((start_age < 3.0) & (rng.random(k) < e["family_daycare_share_under3"]),
                          _FAMILY, _DAYCARE)
    # the first August after the start (strictly later), and after the third birthday for family day care
    first_aug = ymd(year_of(start) + (start >= ymd(year_of(start), 8, 1)), 8, 1)
    third = birth + int(3 * _YEAR)
    fdc_switch = ymd(year_of(third) + (third >= ymd(year_of(third), 8, 1)), 8, 1)
    n_aug = np.maximum(pre_year - year_of(first_aug), 0)
    random_aug = ymd(year_of(first_aug) + np.floor(rng.random(k) * n_aug).astype(np.int64), 8, 1)
    change = np.where(first_type == _FAMILY, fdc_switch, np.where(
        (rng.random(k) < e["unit_change_share"]) & (n_aug > 0), random_aug, NO_DATE))
    change = np.where((change > start) & (change < pre_start), change, NO_DATE)
    split = has_dc & (change != NO_DATE)

    unit1 = _pick_units(pref, unit_u, ids, caps)
    unit2 = _pick_units(pref, rng.random(k), ids, caps)
    hours1 = _hours(rng, home, e["hours"])
    hours2 = np.where(rng.random(k) < e["hours_change_at_unit_change"], _hours(rng, home, e["hours"]), hours1)

    # --- pre-primary education from mid-August of the year the child turns six
    pre_begin = np.where(entry > pre_start, entry + rng.integers(0, pre["move_in_delay_days"] + 1, k), pre_start)
    connected = rng.random(k) < np.where(home, pre["connected_share_home_parent"], pre["connected_share"])
    pre_end = np.where(connected, ymd(pre_year + 1, *pre["end_connected"]), ymd(pre_year + 1, *pre["end_school_year"]))
    has_pre = (rng.random(k) < pre["participation"]) & (pre_begin <= ctx.as_of) & (pre_begin < pre_end)
    ch = pre["connected_hours"]
    pre_hours = np.where(connected, np.array(ch["values"], dtype=np.int32)[
        categorical(rng, np.tile(np.array(ch["shares"], dtype=np.float64), (k, 1)))],
        pre["hours_without_connected"]).astype(np.int32)
    last_unit = np.where(split, unit2, unit1)
    pre_unit = np.where(has_dc & (rng.random(k) < pre["same_unit"]), last_unit,
                        _pick_units(pref, rng.random(k), ids, caps))

    # --- rows: first ECEC segment, second segment, pre-primary
    seg1_end = np.where(split, change - 1, dc_end)
    person = np.concatenate([idx[has_dc], idx[split], idx[has_pre]])
    unit = np.concatenate([unit1[has_dc], unit2[split], pre_unit[has_pre]])
    ptype = np.concatenate([first_type[has_dc], np.full(int(split.sum()), _DAYCARE),
                            np.full(int(has_pre.sum()), _PRESCHOOL)])
    s = np.concatenate([start[has_dc], change[split], pre_begin[has_pre]])
    t = np.concatenate([seg1_end[has_dc], dc_end[split], pre_end[has_pre]])
    hours = np.concatenate([hours1[has_dc], hours2[split], pre_hours[has_pre]])
    stay = np.concatenate([until[has_dc], until[split], until[has_pre]])
    t = np.minimum(t, stay)
    keep = (s <= t) & (s <= ctx.as_of) & (t >= ctx.window_start)
    order = np.lexsort((s[keep], person[keep]))
    person, unit, ptype, s, t, hours = (a[keep][order] for a in (person, unit, ptype, s, t, hours))
    t = np.where(t > ctx.as_of, NO_DATE, t)

    seq = p.area * AREA_STRIDE + _ID_OFFSET + np.arange(len(person), dtype=np.int64)
    table = pa.table({
        "placement_id": scramble(seq, "event"),
        "person_id": p.person_id[person],
        "unit_id": unit.astype(np.int32),
        "placement_type": pa.array(PLACEMENT_TYPES).take(pa.array(ptype.astype(np.int32))),
        "start_date": date32(s),
        "end_date": nullable_date(t),
        "hours_per_week": hours.astype(np.int32),
    }, schema=_SCHEMA)
    return SectorOutput(tables={"ecec_placement": table})
