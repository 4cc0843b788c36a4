"""Load criterion files: validate, compile, and name ``file:line`` for every error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ennakoiva.domain.criteria.compile import CompileError, compile_criterion
from ennakoiva.domain.criteria.spec import CriterionSpec
from ennakoiva.domain.criteria.tree import CompiledCriterion
from ennakoiva.domain.registry import CATALOGUE_DIR
from ennakoiva.domain.yaml_source import CatalogueError, load_yaml, location_of

__all__ = ["CRITERIA_DIR", "LoadedCriterion", "load_criteria", "load_criterion"]

CRITERIA_DIR = CATALOGUE_DIR / "criteria"


@dataclass(frozen=True)
class LoadedCriterion:
    path: Path
    spec: CriterionSpec
    compiled: CompiledCriterion


def load_criterion(path: Path) -> LoadedCriterion:
    """One criterion file; the id must equal the file name."""
    doc = load_yaml(path)
    try:
        spec = CriterionSpec.model_validate(doc.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple("all" if k == "all_" else "any" if k == "any_" else k for k in err["loc"])
        raise CatalogueError(f"{location_of(doc, loc)}: {err['msg']} at {'.'.join(map(str, loc))}") from exc
    if spec.id != path.stem:
        raise CatalogueError(f"{location_of(doc, ('id',))}: id '{spec.id}' must match the file name")
    try:
        compiled = compile_criterion(spec)
    except CompileError as exc:
        where = ".".join(map(str, exc.loc))
        raise CatalogueError(f"{location_of(doc, exc.loc)}: {exc.message} at {where}") from exc
    return LoadedCriterion(path, spec, compiled)


def load_criteria(directory: Path = CRITERIA_DIR) -> list[LoadedCriterion]:
    """Every ``*.yaml`` in ``directory``, sorted by file name; ids are unique by construction."""
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise CatalogueError(f"{directory}: no criterion files (*.yaml)")
    return [load_criterion(p) for p in paths]
