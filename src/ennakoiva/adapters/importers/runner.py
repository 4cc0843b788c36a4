"""``import_synthea`` and ``import_fhir``: convert a source and load it through the loader's checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from ennakoiva.adapters.importers import fhir
from ennakoiva.adapters.importers.context import Context
from ennakoiva.adapters.importers.ids import DEFAULT_SALT
from ennakoiva.adapters.importers.mappings import default_code_maps
from ennakoiva.adapters.importers.synthea import convert_synthea, latest_date, read_synthea_folder
from ennakoiva.adapters.loading.errors import LoadError
from ennakoiva.adapters.loading.staged import StagedLoadReport, StagedRows, load_staged
from ennakoiva.domain.clock import today

__all__ = ["import_fhir", "import_synthea"]

Progress = Callable[[str, int, int], None]
DEFAULT_REJECTS = "rejects.csv"


def _rejects_path(source: Path, rejects_path: Path | None) -> Path:
    folder = source if source.is_dir() else source.parent
    rejects = Path(rejects_path) if rejects_path else folder / DEFAULT_REJECTS
    if rejects.exists() and rejects.resolve() == source.resolve():
        raise LoadError(f"{rejects}: the rejects file would replace the source; choose another name")
    return rejects


def import_synthea(engine: Any, source_dir: Path, *, rejects_path: Path | None = None, encoding: str | None = None,
                   max_reject_share: float = 0.01, as_of: date | None = None, salt: str = DEFAULT_SALT,
                   progress: Progress | None = None) -> StagedLoadReport:
    """Convert a Synthea CSV export folder and load it; rejects go to ``rejects_path``.

    ``as_of`` is the extract date (ongoing medications end on it; household types use it); by
    default the latest date in the source. ``salt`` keys the pseudonymous ids (see ``ids``).
    """
    source_dir = Path(source_dir)
    rejects = _rejects_path(source_dir, rejects_path)
    source = read_synthea_folder(source_dir, encoding, rejects)
    ctx = Context(salt=salt, maps=default_code_maps(), as_of=as_of or latest_date(source) or today())
    batches = convert_synthea(source, ctx)
    return load_staged(engine, batches, source=source_dir, rejects_path=rejects, max_reject_share=max_reject_share,
                       source_format="synthea", skipped=source.skipped, notes=ctx.notes(), progress=progress)


def import_fhir(engine: Any, source: Path, *, rejects_path: Path | None = None, encoding: str | None = None,
                max_reject_share: float = 0.01, as_of: date | None = None, salt: str = DEFAULT_SALT,
                progress: Progress | None = None) -> StagedLoadReport:
    """Convert a FHIR Bundle file, or a folder of them (one Bundle per ``.json`` file), and load it.

    A file that is not valid JSON or not a Bundle is rejected as a whole (the load is then not
    accepted) and the others still load. ``as_of`` and ``salt`` as for :func:`import_synthea`.
    """
    source = Path(source)
    rejects = _rejects_path(source, rejects_path)
    files, skipped = fhir.find_bundle_files(source, rejects)
    bundles: list[fhir.Bundle] = []
    failed: list[StagedRows] = []
    for path in files:
        try:
            bundles.append(fhir.read_bundle(path, encoding))
        except LoadError as exc:
            failed.append(StagedRows(table="Bundle", file=path.name, error=exc))
    ctx = Context(salt=salt, maps=default_code_maps(), as_of=as_of or fhir.latest_date(bundles) or today())
    staged, notes = fhir.convert_fhir(bundles, ctx)
    return load_staged(engine, failed + staged, source=source, rejects_path=rejects,
                       max_reject_share=max_reject_share, source_format="fhir", skipped=skipped,
                       notes=ctx.notes() + notes, progress=progress)
