"""Load catalogue YAML so that every error can name the file, the line and the offending key.

Why not plain ``yaml.safe_load``: it silently keeps the last of duplicate keys and forgets line
numbers, and a reviewer of a criterion or a table definition needs both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

__all__ = ["CatalogueError", "LoadedYaml", "load_model", "load_yaml", "location_of"]


class CatalogueError(ValueError):
    """A catalogue file is invalid; the message names file, line and key."""


@dataclass(frozen=True)
class LoadedYaml:
    """A parsed document plus the line of every mapping key and sequence item (1-based)."""

    path: Path
    data: Any
    lines: dict[tuple[str | int, ...], int]


def _walk(node: yaml.Node, path: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int],
          file: Path, loader: yaml.SafeLoader) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in out:
                raise CatalogueError(f"{file}:{key_node.start_mark.line + 1}: duplicate key '{key}'")
            out[key] = _walk(value_node, (*path, key), lines, file, loader)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*path, i), lines, file, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_yaml(path: Path) -> LoadedYaml:
    """Parse one YAML file (UTF-8 only) keeping line numbers; reject duplicate keys and tabs."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogueError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise CatalogueError(f"{path}{line}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    if node is None:
        raise CatalogueError(f"{path}: empty document")
    lines: dict[tuple[str | int, ...], int] = {}
    try:
        return LoadedYaml(path, _walk(node, (), lines, path, loader), lines)
    finally:
        loader.dispose()


def location_of(doc: LoadedYaml, loc: tuple[str | int, ...]) -> str:
    """``file:line`` of the deepest known prefix of a pydantic error location."""
    for cut in range(len(loc), -1, -1):
        line = doc.lines.get(tuple(loc[:cut]))
        if line is not None:
            return f"{doc.path}:{line}"
    return str(doc.path)


def load_model(path: Path, model: type[M], *, stem_field: str | None = None) -> M:
    """Parse one catalogue file into ``model``; any error names the file, the line and the key.

    With ``stem_field``, that field must equal the file name (``person.yaml`` holds ``name: person``),
    so a catalogue entry is found where a reviewer expects it.
    """
    doc = load_yaml(path)
    try:
        item = model.model_validate(doc.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise CatalogueError(f"{location_of(doc, tuple(err['loc']))}: {err['msg']} at {err['loc']}") from exc
    if stem_field is not None and getattr(item, stem_field) != path.stem:
        raise CatalogueError(f"{path}: {stem_field} '{getattr(item, stem_field)}' must match the file name")
    return item
