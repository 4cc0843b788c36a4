"""Campaign metrics: sent, delivered, answered, accepted, declined, unclear, held, and how fast.

Counted per offer (one per child), overall and by the offer's language and district:

- ``sent``: at least one offer SMS handed to the gateway; ``delivered``: a delivery report said so
  (for an SMS, or for the fallback letter handed to the letter batch);
- ``fallback``: the offer went by the fallback channel (no phone, or no SMS could be delivered);
- ``answered``: at least one reply that chose A/B (or asked for another language) was recorded;
- ``accepted`` / ``declined``: the offer's latest decisive transition (a caseworker's included);
- ``held``: held for a caseworker (guardians disagreed); ``unclear``: some reply needed a clarification;
- ``confirmation_seconds``: from the reply reaching us to its confirmation leaving (median, p95) —
  the "confirmation in a minute" of the Helsinki pilot; ``answer_hours``: from delivery to the reply.

Every figure is computed from the store's rows; nothing is estimated.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from ennakoiva.adapters.stores.offer_repository import SqlOfferStore

__all__ = ["campaign_metrics", "percentile"]

_ANSWER_OUTCOMES = {"accepted", "declined", "held_for_caseworker", "answer_recorded", "resend",
                    "recorded_while_held"}
_UNCLEAR = {"clarify", "unclear_again"}


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) by the nearest-rank method; None for no values.

    >>> percentile([1, 2, 3, 4], 50), percentile([1, 2, 3, 4], 95), percentile([], 50)
    (2, 4, None)
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _summary(offers: Iterable[dict[str, Any]]) -> dict[str, Any]:
    rows = list(offers)
    confirm = [s for r in rows for s in r["confirmation_seconds"]]
    answer = [h for r in rows for h in r["answer_hours"]]
    out: dict[str, Any] = {"offers": len(rows)}
    for key in ("sent", "fallback", "delivered", "answered", "accepted", "declined", "held", "unclear", "expired"):
        out[key] = sum(1 for r in rows if r[key])
    out["answer_rate"] = round(out["answered"] / out["sent"], 4) if out["sent"] else None
    out["accept_rate"] = round(out["accepted"] / out["answered"], 4) if out["answered"] else None
    out["confirmation_seconds"] = {"median": _round(percentile(confirm, 50)), "p95": _round(percentile(confirm, 95)),
                                   "n": len(confirm)}
    out["answer_hours"] = {"median": _round(percentile(answer, 50)), "p95": _round(percentile(answer, 95)),
                           "n": len(answer)}
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def campaign_metrics(offers: SqlOfferStore, campaign_id: str) -> dict[str, Any]:
    """Metrics of one campaign: ``total`` plus ``by_language`` and ``by_district``."""
    facts = offers.campaign_facts(campaign_id)
    per: dict[str, dict[str, Any]] = {}
    for o in facts["offers"]:
        per[o["offer_id"]] = {"language": o["language"], "district": o["district"] or "unknown", "sent": False,
                              "fallback": False,
                              "delivered": o["delivered_at"] is not None, "answered": False, "accepted": False,
                              "declined": False, "held": o["state"] == "held_for_caseworker", "unclear": False,
                              "expired": o["state"] == "expired", "confirmation_seconds": [], "answer_hours": [],
                              "_delivered_at": o["delivered_at"]}
    last: dict[str, str] = {}
    for t in facts["decisive"]:
        last[t["offer_id"]] = t["name"]
    for offer_id, name in last.items():
        per[offer_id]["accepted"] = name in ("accept", "caseworker_accept")
        per[offer_id]["declined"] = name in ("decline", "caseworker_decline")
    confirmations: dict[tuple[str, Any], list[Any]] = defaultdict(list)
    for m in facts["messages"]:
        row = per[m["offer_id"]]
        if m["kind"] == "offer" and m["status"] == "sent":
            row["fallback" if m["channel"] == "letter" else "sent"] = True
        if m["kind"].startswith("confirmation_") and m["sent_at"] is not None:
            confirmations[(m["offer_id"], m["created_at"])].append(m["sent_at"])
    for r in facts["replies"]:
        row = per[r["offer_id"]]
        if r["outcome"] in _ANSWER_OUTCOMES:
            row["answered"] = True
            if row["_delivered_at"] is not None and r["sent_at"] >= row["_delivered_at"]:
                row["answer_hours"].append((r["sent_at"] - row["_delivered_at"]).total_seconds() / 3600)
        row["unclear"] = row["unclear"] or r["outcome"] in _UNCLEAR
        sent = confirmations.get((r["offer_id"], r["received_at"]))
        if sent and r["outcome"] in ("accepted", "declined"):
            row["confirmation_seconds"].append((min(sent) - r["received_at"]).total_seconds())
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {"by_language": defaultdict(list),
                                                           "by_district": defaultdict(list)}
    for row in per.values():
        groups["by_language"][row["language"]].append(row)
        groups["by_district"][row["district"]].append(row)
    return {"campaign_id": campaign_id, "total": _summary(per.values()),
            "by_language": {k: _summary(v) for k, v in sorted(groups["by_language"].items())},
            "by_district": {k: _summary(v) for k, v in sorted(groups["by_district"].items())}}
