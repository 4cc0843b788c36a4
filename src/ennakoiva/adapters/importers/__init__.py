"""Importers: sources that are not laid out like the registry, converted and loaded through the loader.

``import_synthea`` reads a Synthea CSV export, ``import_fhir`` FHIR R4 Bundles. Each converts its
source into registry-shaped rows that remember their source file and line, then hands them to
``ennakoiva.adapters.loading.load_staged``, so every row passes the same checks as a city's own CSV
file and every rejected row lands in the same rejects file, counted. Code mappings (SNOMED CT →
ICD-10, RxNorm → ATC, LOINC units, encounter classes) are data in ``catalogue/mappings/``. This
package never imports duckdb.
"""

from ennakoiva.adapters.importers.ids import DEFAULT_SALT, stable_id
from ennakoiva.adapters.importers.runner import import_fhir, import_synthea

__all__ = ["DEFAULT_SALT", "import_fhir", "import_synthea", "stable_id"]
