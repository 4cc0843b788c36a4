"""Population register of one postal area: households, people, guardians, spouses, phones.

Ages follow Paavo's 20 age bands of the area exactly (largest-remainder allocation); children are
grouped into families with siblings close in age; parents are chosen among the area's own adults by
monotone age matching, so parenthood does not distort the age structure; the rest live alone or
in couples in the shares Paavo gives for one-person households.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from ennakoiva.adapters.synth.calibration import AGE_BAND_EDGES, Calibration
from ennakoiva.adapters.synth.frame import (
    ACTIVITIES,
    NO_DATE,
    AreaPeople,
    date32,
    nullable_date,
)
from ennakoiva.adapters.synth.ids import AREA_STRIDE, scramble
from ennakoiva.adapters.synth.sampling import allocate, categorical, interp_by_age, match_sorted

__all__ = ["area_language_shares", "generate_area_population", "population_tables"]

_YEAR = 365.25


def area_language_shares(cal: Calibration, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Per-area Finnish/Swedish/foreign shares, tilted by income, with city-wide means as given."""
    lang = params["languages"]
    weights = cal.inhabitants / cal.inhabitants.sum()
    known = cal.median_income > 0           # tiny areas publish no income figure
    city_median = float(np.average(cal.median_income[known], weights=weights[known]))
    rel = np.where(known, cal.median_income, city_median) / city_median
    foreign = rel ** -float(lang["foreign_income_tilt"])
    foreign *= lang["foreign"]["share"] / np.average(foreign, weights=weights)
    swedish = rel ** float(lang["swedish_income_tilt"])
    swedish *= lang["sv"] / np.average(swedish, weights=weights)
    foreign = np.clip(foreign, 0.02, 0.6)
    swedish = np.clip(swedish, 0.005, 0.25)
    return np.stack([1 - foreign - swedish, swedish, foreign], axis=1), np.array(
        list(lang["foreign"]["mix"].keys()), dtype=object)


def _draw_tongues(rng: np.random.Generator, n: int, shares: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    mix = params["languages"]["foreign"]["mix"]
    names = np.array(list(mix), dtype=object)
    probs = np.array(list(mix.values()), dtype=np.float64)
    kind = categorical(rng, np.tile(shares, (n, 1)))
    foreign = names[categorical(rng, np.tile(probs, (n, 1)))]
    return np.where(kind == 0, "fi", np.where(kind == 1, "sv", foreign)).astype(object)


def generate_area_population(area: int, n_current: int, cal: Calibration, params: dict[str, Any],
                             lang_shares: np.ndarray, window_start: int, as_of: int,
                             rng: np.random.Generator) -> AreaPeople:
    """Everyone who lived in postal area ``area`` during the window; ``n_current`` live there now."""
    hp, dyn = params["households"], params["dynamics"]
    years = (as_of - window_start) / _YEAR

    # --- ages of current residents, exactly by Paavo band; plus people who left during the window
    band_counts = allocate(n_current, cal.age_bands[area].astype(np.float64))
    ages = np.concatenate([rng.integers(lo, hi, c) for lo, hi, c in
                           zip(AGE_BAND_EDGES[:-1], AGE_BAND_EDGES[1:], band_counts, strict=True)])
    n_dead = int(rng.poisson(n_current * (cal.age_bands[area][15:].sum() / max(cal.inhabitants[area], 1))
                             * dyn["annual_death_rate_65plus"] * years))
    n_moved = int(rng.poisson(n_current * dyn["annual_move_out_rate"] * years))
    dead_ages = np.minimum(rng.gamma(9.0, 1.0, n_dead) + 72, 102).astype(np.int64)
    moved_ages = rng.integers(20, 45, n_moved)
    ages = np.concatenate([ages, dead_ages, moved_ages])
    n = len(ages)
    departed = np.zeros(n, dtype=bool)
    departed[n_current:] = True
    death = np.full(n, NO_DATE, dtype=np.int64)
    move_out = np.full(n, NO_DATE, dtype=np.int64)
    death[n_current:n_current + n_dead] = rng.integers(window_start, as_of, n_dead)
    move_out[n_current + n_dead:] = rng.integers(window_start, as_of, n_moved)
    ref_day = np.where(death != NO_DATE, death, np.where(move_out != NO_DATE, move_out, as_of))
    birth = (ref_day - np.floor(ages * _YEAR + rng.uniform(1, _YEAR - 1, n))).astype(np.int64)

    p_female = interp_by_age(ages, {0: 0.488, 17: 0.488, 30: 0.505, 60: 0.52, 75: 0.57, 90: 0.68})
    female = rng.random(n) < p_female

    # --- families with children
    child_idx = np.flatnonzero((ages < 18) & ~departed)
    k = len(child_idx)
    paavo_children = cal.age_bands[area][:5].sum()
    per_family = paavo_children / max(cal.hh_with_children[area], 1)
    sizes = 1 + rng.poisson(max(per_family - 1, 0.05), size=max(k, 1))
    ends = np.cumsum(sizes)
    n_fam = int(np.searchsorted(ends, k, side="left")) + 1 if k else 0
    fam_of_sorted = np.searchsorted(ends[:n_fam], np.arange(k), side="right") if k else np.zeros(0, np.int64)
    order = np.argsort(ages[child_idx] + rng.normal(0, hp["sibling_age_noise"], k), kind="stable")
    children_sorted = child_idx[order]
    family_of_child = np.empty(n, dtype=np.int64)
    family_of_child[:] = -1
    family_of_child[children_sorted] = fam_of_sorted
    oldest = np.zeros(n_fam, dtype=np.int64)
    np.maximum.at(oldest, fam_of_sorted, ages[children_sorted])

    single_parent = rng.random(n_fam) < cal.hh_one_parent[area] / max(cal.hh_with_children[area], 1)
    m_mean, m_sd = hp["mother_age_at_first_birth"]
    mother_age = oldest + np.clip(rng.normal(m_mean, m_sd, n_fam), 18, 46)
    f_mean, f_sd = hp["father_older_than_mother"]
    father_age = np.maximum(mother_age + rng.normal(f_mean, f_sd, n_fam), oldest + 18)
    has_mother = ~single_parent | (rng.random(n_fam) < hp["single_parent_is_mother"])
    has_father = ~single_parent | ~has_mother

    eligible = (ages >= 18) & ~departed
    mother_of = np.full(n_fam, -1, dtype=np.int64)
    father_of = np.full(n_fam, -1, dtype=np.int64)
    for want_mask, want_age, sex_mask, out in ((has_mother, mother_age, female, mother_of),
                                                (has_father, father_age, ~female, father_of)):
        pool = np.flatnonzero(eligible & sex_mask)
        pool = pool[np.argsort(ages[pool], kind="stable")]
        fams = np.flatnonzero(want_mask)
        take = min(len(fams), len(pool))
        fams = fams[np.argsort(want_age[fams], kind="stable")][:take]
        pos = match_sorted(ages[pool], want_age[fams])
        out[fams] = pool[pos]
    # a family that found no parent at all (tiny areas) keeps its children with a random adult
    orphan = (mother_of < 0) & (father_of < 0)
    parent_taken = np.zeros(n, dtype=bool)
    parent_taken[mother_of[mother_of >= 0]] = True
    parent_taken[father_of[father_of >= 0]] = True
    if orphan.any():
        spare = np.flatnonzero(eligible & ~parent_taken)
        pick = spare[rng.permutation(len(spare))[: int(orphan.sum())]]
        mother_of[np.flatnonzero(orphan)[: len(pick)]] = pick
        parent_taken[pick] = True
    is_single_parent = (mother_of < 0) | (father_of < 0)

    # --- adults without children at home: alone or in couples
    rest = np.flatnonzero((ages >= 18) & ~parent_taken)
    hh_one = cal.hh_one_person[area] * n_current / max(cal.inhabitants[area], 1)
    base_single = min(hh_one / max(len(rest), 1), 1.0)
    w = interp_by_age(ages[rest], {18: 1.4, 29: 1.2, 35: 0.9, 64: 0.9, 75: 1.2, 85: 1.7})
    p_single = np.clip(base_single * w / (w.mean() if len(w) else 1.0), 0, 1)
    wants_single = departed[rest] | (rng.random(len(rest)) < p_single)
    seekers = rest[~wants_single]
    fem = seekers[female[seekers]]
    mal = seekers[~female[seekers]]
    fem = fem[np.argsort(ages[fem] + rng.normal(0, 3, len(fem)), kind="stable")]
    mal = mal[np.argsort(ages[mal] + rng.normal(0, 3, len(mal)), kind="stable")]
    n_couples = min(len(fem), len(mal))
    couple_a, couple_b = fem[:n_couples], mal[:n_couples]
    singles = np.concatenate([rest[wants_single], fem[n_couples:], mal[n_couples:]])
    singles.sort()

    # --- households: families, couples, singles
    household = np.full(n, -1, dtype=np.int64)
    hh_types: list[np.ndarray] = []
    fam_hh = np.arange(n_fam)
    household[children_sorted] = fam_of_sorted
    household[mother_of[mother_of >= 0]] = fam_hh[mother_of >= 0]
    household[father_of[father_of >= 0]] = fam_hh[father_of >= 0]
    hh_types.append(np.where(is_single_parent, "single_parent", "couple_with_children").astype(object))
    couple_hh = n_fam + np.arange(n_couples)
    household[couple_a] = couple_hh
    household[couple_b] = couple_hh
    old_couple = np.maximum(ages[couple_a], ages[couple_b]) >= 65
    hh_types.append(np.where(old_couple, "pensioner_couple", "couple").astype(object))
    single_hh = n_fam + n_couples + np.arange(len(singles))
    household[singles] = single_hh
    hh_types.append(np.where(ages[singles] >= 65, "single_pensioner", "single_adult").astype(object))
    household_type = np.concatenate(hh_types)
    n_hh = len(household_type)
    assert (household >= 0).all(), "every person belongs to a household"

    # --- separated second guardians for some one-parent families
    guardians = [np.stack([mother_of, fam_hh], 1)[mother_of >= 0],
                 np.stack([father_of, fam_hh], 1)[father_of >= 0]]
    sep = np.flatnonzero(is_single_parent & (rng.random(n_fam) < hp["separated_second_guardian"]))
    alone = singles[(ages[singles] >= 22) & (ages[singles] < 65) & ~departed[singles]]
    if len(sep) and len(alone):
        guardians.append(np.stack([alone[rng.integers(0, len(alone), len(sep))], sep], 1))
    fam_guardians = np.concatenate(guardians)
    # expand family-level guardian pairs to guardian -> each child
    child_order = np.argsort(family_of_child[children_sorted], kind="stable")
    kids_by_fam = children_sorted[child_order]
    fam_start = np.searchsorted(family_of_child[kids_by_fam], np.arange(n_fam))
    fam_count = np.bincount(family_of_child[kids_by_fam], minlength=n_fam)
    g_fam = fam_guardians[:, 1]
    reps = fam_count[g_fam]
    g_rows = np.repeat(np.arange(len(fam_guardians)), reps)
    offsets = np.arange(len(g_rows)) - np.repeat(np.cumsum(reps) - reps, reps)
    guardian_pairs = np.stack([fam_guardians[g_rows, 0], kids_by_fam[fam_start[g_fam[g_rows]] + offsets]], 1)

    two_parent = np.flatnonzero(~is_single_parent)
    spouse_cands = np.concatenate([np.stack([mother_of[two_parent], father_of[two_parent]], 1),
                                   np.stack([couple_a, couple_b], 1)])
    married = rng.random(len(spouse_cands)) < hp["married_share"]
    spouse_pairs = spouse_cands[married]

    # --- mother tongue: by household, a partner sometimes differs
    tongue_hh = _draw_tongues(rng, n_hh, lang_shares[area], params)
    tongue = tongue_hh[household]
    partner = np.concatenate([father_of[two_parent], couple_b])
    differs = partner[rng.random(len(partner)) > params["languages"]["partner_same_language"]]
    tongue[differs] = _draw_tongues(rng, len(differs), lang_shares[area], params)
    tongue[departed] = _draw_tongues(rng, int(departed.sum()), lang_shares[area], params)

    # --- moving in during the window (whole households), never before birth
    move_in = np.full(n, NO_DATE, dtype=np.int64)
    hh_moved = rng.random(n_hh) < dyn["recent_move_in_share"]
    hh_move_day = rng.integers(window_start, as_of, n_hh)
    mi = hh_moved[household] & ~departed
    move_in[mi] = hh_move_day[household[mi]]
    move_in[move_in <= birth] = NO_DATE

    activity, education = _activity_and_education(area, ages, tongue, departed, death, cal, params, rng)

    seq = area * AREA_STRIDE + np.arange(n, dtype=np.int64)
    hh_seq = area * AREA_STRIDE + np.arange(n_hh, dtype=np.int64)
    return AreaPeople(
        area=area, postal_code=cal.postal_code[area], district_code=cal.district_code[area],
        person_id=scramble(seq, "person"), birth=birth.astype(np.int32), female=female, tongue=tongue,
        household=household, is_child=(ages < 18) & ~departed, death=death.astype(np.int32),
        move_out=move_out.astype(np.int32), move_in=move_in.astype(np.int32), activity=activity,
        education=education, household_id=scramble(hh_seq, "household"), household_type=household_type,
        guardian_pairs=guardian_pairs.astype(np.int64), spouse_pairs=spouse_pairs.astype(np.int64),
    )


def _activity_and_education(area: int, ages: np.ndarray, tongue: np.ndarray, departed: np.ndarray,
                            death: np.ndarray, cal: Calibration, params: dict[str, Any],
                            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    act_p, edu_p = params["activity"], params["education"]
    n = len(ages)
    foreign = (tongue != "fi") & (tongue != "sv")
    activity = np.full(n, ACTIVITIES.index("child"), dtype=np.int8)
    adult = ages >= 18
    u = rng.random(n)
    p_pension = interp_by_age(ages, act_p["pension_share_by_age"])
    p_student = interp_by_age(ages, act_p["student_share_by_age"])
    pensioner = adult & ((u < p_pension) | (death != NO_DATE))
    student = adult & ~pensioner & (u < p_pension + p_student)
    labour = adult & ~pensioner & ~student
    lf = cal.employed[area] + cal.unemployed[area]
    rate = cal.unemployed[area] / max(lf, 1)
    w = np.where(foreign, float(act_p["foreign_unemployment_ratio"]), 1.0)
    mean_w = w[labour].mean() if labour.any() else 1.0
    p_unemp = np.clip(rate * w / mean_w, 0, 0.9)
    v = rng.random(n)
    outside = labour & (v < act_p["outside_labour_force_share"])
    unemployed = labour & ~outside & (v < act_p["outside_labour_force_share"] + p_unemp)
    activity[adult] = ACTIVITIES.index("employed")
    activity[unemployed] = ACTIVITIES.index("unemployed")
    activity[outside] = ACTIVITIES.index("other")
    activity[student] = ACTIVITIES.index("student")
    activity[pensioner] = ACTIVITIES.index("pensioner")
    activity[departed & (death == NO_DATE) & adult & (activity == ACTIVITIES.index("pensioner"))] = \
        ACTIVITIES.index("employed")

    shares = cal.education[area] / cal.education[area].sum()
    probs = np.tile(shares, (n, 1))
    probs[foreign, 0] *= float(edu_p["foreign_basic_ratio"])
    probs[ages < 21, 2:] = 0.0
    probs[ages < 24, 3] = 0.0
    education = categorical(rng, probs).astype(np.int8)
    education[~adult] = -1
    return activity, education


def population_tables(p: AreaPeople, cal: Calibration, params: dict[str, Any], window_start: int,
                      as_of: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    """The register tables of one area: household, person, family_relation, contact_channel."""
    n = p.n
    current = (p.death == NO_DATE) & (p.move_out == NO_DATE)
    hh_area = np.full(len(p.household_id), p.postal_code, dtype=object)
    size = np.bincount(p.household, minlength=len(p.household_id))
    floor = np.round(size * cal.floor_area_per_person[p.area] * rng.lognormal(0, 0.25, len(size)), 1)
    household = pa.table({
        "household_id": p.household_id,
        "household_type": pa.array(p.household_type, type=pa.string()),
        "postal_code": pa.array(hh_area, type=pa.string()),
        "district_code": pa.array(np.full(len(size), p.district_code, dtype=object), type=pa.string()),
        "floor_area_m2": np.clip(floor, 12, 400),
    })
    person = pa.table({
        "person_id": p.person_id,
        "birth_date": date32(p.birth),
        "sex": pa.array(np.where(p.female, "F", "M").astype(object), type=pa.string()),
        "mother_tongue": pa.array(p.tongue, type=pa.string()),
        "municipality_code": pa.array(np.full(n, params["municipality_code"], dtype=object), type=pa.string()),
        "district_code": pa.array(np.full(n, p.district_code, dtype=object), type=pa.string()),
        "postal_code": pa.array(np.full(n, p.postal_code, dtype=object), type=pa.string()),
        "household_id": p.household_id[p.household],
        "moved_in_date": nullable_date(p.move_in),
        "death_date": nullable_date(p.death),
        "move_out_date": nullable_date(p.move_out),
    })
    g, c = p.guardian_pairs[:, 0], p.guardian_pairs[:, 1]
    s1, s2 = p.spouse_pairs[:, 0], p.spouse_pairs[:, 1]
    # married after the younger spouse turned 18, mostly before the window, never after the extract
    younger_adult = np.maximum(p.birth[s1], p.birth[s2]) + int(18 * 365.25)
    married_on = np.minimum(np.maximum(younger_adult, window_start - rng.integers(0, 30 * 365, len(s1))),
                            as_of - 1)
    rel = pa.table({
        "person_id": np.concatenate([p.person_id[g], p.person_id[s1], p.person_id[s2]]),
        "related_person_id": np.concatenate([p.person_id[c], p.person_id[s2], p.person_id[s1]]),
        "relation": pa.array(["guardian_of"] * len(g) + ["spouse_of"] * (2 * len(s1)), type=pa.string()),
        "valid_from": date32(np.concatenate([p.birth[c], married_on, married_on])),
        "valid_to": nullable_date(np.full(len(g) + 2 * len(s1), NO_DATE)),
    })
    return {"household": household, "person": person, "family_relation": rel,
            "contact_channel": _contacts(p, current, params, window_start, rng)}


def _contacts(p: AreaPeople, current: np.ndarray, params: dict[str, Any], window_start: int,
              rng: np.random.Generator) -> pa.Table:
    hp, lang = params["households"], params["languages"]
    age_now = np.floor((window_start - p.birth) / _YEAR)
    has = current & (age_now >= 13) & (rng.random(p.n) < hp["phone_coverage"])
    # numbers are a bijection of the area-wide sequence, so unique across the whole city
    # (up to 2 million people per area, 85 areas < 2e8 numbers: +358 40…/50… style, 9 digits)
    seq = p.area * 2_000_000 + np.arange(p.n, dtype=np.int64)
    digits = (seq * 7919 + 1_234_567) % 200_000_000
    number = np.array([f"+358{4 + d // 100_000_000}{d % 100_000_000:08d}" for d in digits.tolist()],
                      dtype=object)
    pairs = p.spouse_pairs[rng.random(len(p.spouse_pairs)) < hp["shared_phone_share"]]
    number[pairs[:, 1]] = number[pairs[:, 0]]
    has[pairs[:, 1]] = has[pairs[:, 0]]
    foreign = (p.tongue != "fi") & (p.tongue != "sv")
    pref = np.where(p.tongue == "sv", "sv", "fi").astype(object)
    pref[foreign & (rng.random(p.n) < lang["foreign_prefers_english"])] = "en"
    since = np.maximum(p.birth + int(13 * 365.25), window_start - rng.integers(0, 3650, p.n))
    since = np.where(p.move_in != NO_DATE, np.maximum(since, p.move_in), since)
    idx = np.flatnonzero(has)
    return pa.table({
        "person_id": p.person_id[idx],
        "channel": pa.array(np.full(len(idx), "sms", dtype=object), type=pa.string()),
        "address": pa.array(number[idx], type=pa.string()),
        "preferred_language": pa.array(pref[idx], type=pa.string()),
        "valid_from": date32(since[idx]),
    })
