"""Load service definitions from ``catalogue/services``; every error names ``file:line``.

Beyond the model's own checks, loading ties a definition to the rest of the catalogue: its purpose
must exist in ``catalogue/purposes``, the justification's ``consent_needed`` must agree with the
legal basis of the purpose the consented step runs under (``consent_purpose`` when the service has
one — the campaign's own ``purpose`` must then not be consent-based: a population read cannot wait
for consents), the data it names must be registry tables, and a care-gap trigger may only
name criteria that exist. A definition that fails any of these is never returned, so nothing can run
a service without its justifications.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError

from ennakoiva.domain.consent.purposes import Purpose, load_purposes
from ennakoiva.domain.registry import CATALOGUE_DIR, Registry, default_registry
from ennakoiva.domain.services.definition import LocatedError, ServiceDefinition
from ennakoiva.domain.yaml_source import CatalogueError, LoadedYaml, load_yaml, location_of

__all__ = ["SERVICES_DIR", "load_service", "load_services"]

SERVICES_DIR = CATALOGUE_DIR / "services"
_CRITERIA_DIR = CATALOGUE_DIR / "criteria"


def _fail(doc: LoadedYaml, loc: tuple[str | int, ...], message: str) -> CatalogueError:
    return CatalogueError(f"{location_of(doc, loc)}: {message}")


def _cross_check(doc: LoadedYaml, service: ServiceDefinition, purposes: dict[str, Purpose],
                 registry: Registry) -> None:
    purpose = purposes.get(service.purpose)
    if purpose is None:
        raise _fail(doc, ("purpose",), f"unknown purpose '{service.purpose}' (known: {sorted(purposes)})")
    data = service.justifications.data_and_right
    if service.consent_purpose is not None:
        consented = purposes.get(service.consent_purpose)
        if consented is None:
            raise _fail(doc, ("consent_purpose",), f"unknown purpose '{service.consent_purpose}' "
                                                   f"(known: {sorted(purposes)})")
        if not consented.needs_consent:
            raise _fail(doc, ("consent_purpose",), f"purpose '{consented.id}' has legal basis "
                                                   f"{consented.legal_basis.value}, not consent")
        if purpose.needs_consent:
            raise _fail(doc, ("purpose",), f"purpose '{purpose.id}' needs consent: the campaign's population "
                                           "read cannot run under it (name a public-task or legal-obligation "
                                           "purpose here and the consented step in consent_purpose)")
        basis = consented
    else:
        basis = purpose
    if data.consent_needed != basis.needs_consent:
        raise _fail(doc, ("justifications", "data_and_right", "consent_needed"),
                    f"consent_needed is {str(data.consent_needed).lower()} but purpose '{basis.id}' has legal "
                    f"basis {basis.legal_basis.value}")
    unknown = [t for t in data.data if t not in registry.tables]
    if unknown:
        raise _fail(doc, ("justifications", "data_and_right", "data"), f"unknown tables {unknown}")
    for i, cond in enumerate(service.trigger.all):
        if cond.care_gap is not None:
            known = {p.stem for p in _CRITERIA_DIR.glob("*.yaml")}
            missing = [c for c in cond.care_gap.criteria if c not in known]
            if missing:
                raise _fail(doc, ("trigger", "all", i, "care_gap", "criteria"), f"unknown criteria {missing}")
    if service.trigger.subject == "child" and service.recipients.who != "guardians":
        raise _fail(doc, ("recipients", "who"), "a child's offer goes to the guardians")


def _parse(path: Path) -> tuple[LoadedYaml, ServiceDefinition]:
    doc = load_yaml(path)
    try:
        service = ServiceDefinition.model_validate(doc.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, LocatedError):     # a whole-model check that names its key
            loc = (*err["loc"], *cause.loc)
            raise CatalogueError(f"{location_of(doc, loc)}: {cause}") from exc
        loc = tuple(err["loc"])
        shown = ".".join(map(str, loc)) or "(top level)"
        raise CatalogueError(f"{location_of(doc, loc)}: {err['msg']} at {shown}") from exc
    if service.id != path.stem:
        raise _fail(doc, ("id",), f"id '{service.id}' must match the file name")
    return doc, service


def load_services(directory: Path = SERVICES_DIR, *, purposes_dir: Path | None = None,
                  registry: Registry | None = None) -> list[ServiceDefinition]:
    """Every ``*.yaml`` in ``directory``, sorted by id; the first invalid file stops the load."""
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise CatalogueError(f"{directory}: no service definitions (*.yaml)")
    purposes = load_purposes(purposes_dir) if purposes_dir else load_purposes()
    registry = registry or default_registry()
    out = []
    for path in paths:
        doc, service = _parse(path)
        _cross_check(doc, service, purposes, registry)
        out.append(service)
    return out


def load_service(service_id: str, directory: Path = SERVICES_DIR, *, purposes_dir: Path | None = None,
                 registry: Registry | None = None) -> ServiceDefinition:
    """The definition of one service by id (``catalogue/services/<id>.yaml``), fully checked."""
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,79}", service_id):
        raise CatalogueError(f"not a service id: {service_id!r}")
    path = directory / f"{service_id}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in directory.glob("*.yaml"))
        raise CatalogueError(f"unknown service '{service_id}' (known: {known})")
    purposes = load_purposes(purposes_dir) if purposes_dir else load_purposes()
    doc, service = _parse(path)
    _cross_check(doc, service, purposes, registry or default_registry())
    return service
