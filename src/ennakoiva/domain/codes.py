"""Code systems (ICD-10, ATC, LOINC, enumerations) and the checks a loaded code must pass."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ennakoiva.domain.yaml_source import CatalogueError, load_yaml, location_of

__all__ = ["CodeSystem", "load_code_systems", "loinc_check_digit_ok"]


def loinc_check_digit_ok(code: str) -> bool:
    """LOINC's mod-10 check digit (the Luhn variant LOINC documents).

    >>> loinc_check_digit_ok("8480-6"), loinc_check_digit_ok("8480-5")
    (True, False)
    >>> all(loinc_check_digit_ok(c) for c in ["8462-4", "4548-4", "33914-3", "39156-5", "18262-6"])
    True
    """
    body, _, check = code.partition("-")
    if not body.isdigit() or not check.isdigit():
        return False
    digits = [int(d) for d in reversed(body)]
    total = 0
    for i, d in enumerate(digits):
        doubled = d * 2 if i % 2 == 0 else d
        total += doubled - 9 if doubled > 9 else doubled
    return (10 - total % 10) % 10 == int(check)


_CHECKS: dict[str, Callable[[str], bool]] = {"loinc_check_digit": loinc_check_digit_ok}


class CodeSystem(BaseModel):
    """An enumeration (``values``) or a pattern (plus an optional named check)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    description: str
    values: dict[str, str] | None = None
    pattern: str | None = None
    check: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> CodeSystem:
        if (self.values is None) == (self.pattern is None):
            raise ValueError("give exactly one of 'values' or 'pattern'")
        if self.check is not None and self.check not in _CHECKS:
            raise ValueError(f"unknown check '{self.check}' (known: {sorted(_CHECKS)})")
        return self

    def is_valid(self, code: str) -> bool:
        """Whether ``code`` belongs to this system."""
        if self.values is not None:
            return code in self.values
        assert self.pattern is not None
        if not re.fullmatch(self.pattern, code):
            return False
        return self.check is None or _CHECKS[self.check](code)

    def explain(self) -> str:
        """Short human description of what is allowed, for error messages."""
        if self.values is not None:
            shown = ", ".join(list(self.values)[:12])
            return f"one of {shown}" + (" …" if len(self.values) > 12 else "")
        return f"a code matching {self.pattern}" + (f" with a valid {self.check}" if self.check else "")


def load_code_systems(path: Path) -> dict[str, CodeSystem]:
    """Read ``code_systems.yaml``; unknown keys are errors with file and line."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise CatalogueError(f"{path}: expected a mapping of code-system names")
    systems: dict[str, CodeSystem] = {}
    for name, body in doc.data.items():
        try:
            raw: dict[str, Any] = dict(body)
            systems[name] = CodeSystem(name=name, **raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = location_of(doc, (name, *err["loc"]))
            raise CatalogueError(f"{where}: code system '{name}': {err['msg']} ({err['loc']})") from exc
    return systems
