"""Stable pseudonymous keys for imported records.

Synthea and FHIR identify patients, encounters and organisations by UUIDs; the registry keys are
integers. Each key is the first 8 bytes of SHA-256 over ``salt``, a kind (``patient``,
``encounter``, …) and the source id, read big-endian and masked to 63 bits (a positive BIGINT), or
to 31 bits for the INTEGER ``unit_id``. The same salt and source id always give the same key, so a
re-import replaces rather than duplicates, and a patient imported from Synthea CSV and from a FHIR
Bundle gets the same ``person_id``. The key reveals nothing of the UUID without the salt; a city
importing real FHIR data should set its own secret salt (``--id-salt`` / ``ENNAKOIVA_ID_SALT``) and
keep it, since another salt gives other keys. Collisions are possible in principle (for n keys the
chance is about n²/2^(bits+1): 5·10⁻⁸ for a million persons, 2·10⁻⁴ for a thousand units); one would
surface as a duplicate-key reject, never silently.
"""

from __future__ import annotations

import hashlib

__all__ = ["DEFAULT_SALT", "stable_id"]

DEFAULT_SALT = "ennakoiva-import-v1"


def stable_id(salt: str, kind: str, *parts: str, bits: int = 63) -> int:
    """A non-negative integer of at most ``bits`` bits identifying ``(kind, *parts)`` under ``salt``.

    >>> stable_id("s", "patient", "3edac2e3") == stable_id("s", "patient", "3edac2e3")
    True
    >>> stable_id("s", "patient", "x") != stable_id("other salt", "patient", "x")
    True
    >>> 0 <= stable_id("s", "unit", "x", bits=31) < 2**31
    True
    """
    text = "\x1f".join((salt, kind, *parts))
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << bits) - 1)
