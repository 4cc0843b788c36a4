"""Which GDPR rights a resident has, by the legal basis of the processing (DPV mapping).

The resident's view shows only the rights that apply: no erasure or portability when the city
processes data to fulfil a legal obligation or a public task; objection only for a public task.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ennakoiva.domain.consent.purposes import LegalBasis
from ennakoiva.domain.types import Lang

__all__ = ["RIGHTS", "Right", "rights_for"]


class Right(BaseModel):
    """A GDPR right with its article and plain names in three languages."""

    model_config = ConfigDict(frozen=True)

    id: str
    article: str
    names: dict[Lang, str]


RIGHTS: dict[str, Right] = {r.id: r for r in [
    Right(id="information", article="Art. 13-14", names={"fi": "Oikeus saada tietoa käsittelystä",
          "sv": "Rätt till information om behandlingen", "en": "Right to be informed"}),
    Right(id="access", article="Art. 15", names={"fi": "Oikeus saada pääsy tietoihin",
          "sv": "Rätt till tillgång", "en": "Right of access"}),
    Right(id="rectification", article="Art. 16", names={"fi": "Oikeus tietojen oikaisemiseen",
          "sv": "Rätt till rättelse", "en": "Right to rectification"}),
    Right(id="erasure", article="Art. 17", names={"fi": "Oikeus tietojen poistamiseen",
          "sv": "Rätt till radering", "en": "Right to erasure"}),
    Right(id="restriction", article="Art. 18", names={"fi": "Oikeus käsittelyn rajoittamiseen",
          "sv": "Rätt till begränsning", "en": "Right to restriction"}),
    Right(id="portability", article="Art. 20", names={"fi": "Oikeus siirtää tiedot",
          "sv": "Rätt till dataportabilitet", "en": "Right to data portability"}),
    Right(id="objection", article="Art. 21", names={"fi": "Oikeus vastustaa käsittelyä",
          "sv": "Rätt att göra invändningar", "en": "Right to object"}),
    Right(id="automated_decisions", article="Art. 22", names={
          "fi": "Oikeus olla joutumatta automaattisen päätöksen kohteeksi",
          "sv": "Rätt att inte bli föremål för automatiserade beslut", "en": "Rights on automated decisions"}),
    Right(id="withdraw_consent", article="Art. 7(3)", names={"fi": "Oikeus perua suostumus",
          "sv": "Rätt att återkalla samtycke", "en": "Right to withdraw consent"}),
    Right(id="complaint", article="Art. 77", names={"fi": "Oikeus tehdä valitus tietosuojavaltuutetulle",
          "sv": "Rätt att klaga hos dataombudsmannen", "en": "Right to complain to the Data Protection Ombudsman"}),
]}

_BY_BASIS: dict[LegalBasis, tuple[str, ...]] = {
    LegalBasis.CONSENT: ("information", "access", "rectification", "erasure", "restriction", "portability",
                         "automated_decisions", "withdraw_consent", "complaint"),
    LegalBasis.LEGAL_OBLIGATION: ("information", "access", "rectification", "restriction", "complaint"),
    LegalBasis.PUBLIC_TASK: ("information", "access", "rectification", "restriction", "objection", "complaint"),
    LegalBasis.VITAL_INTEREST: ("information", "access", "rectification", "erasure", "restriction", "complaint"),
    LegalBasis.SECONDARY_USE_PERMIT: ("information", "access", "rectification", "restriction", "objection",
                                      "complaint"),
    LegalBasis.STATISTICS: ("information", "access", "rectification", "restriction", "objection", "complaint"),
}


def rights_for(basis: LegalBasis) -> list[Right]:
    """The rights a resident has under ``basis``.

    >>> [r.id for r in rights_for(LegalBasis.PUBLIC_TASK)]
    ['information', 'access', 'rectification', 'restriction', 'objection', 'complaint']
    """
    return [RIGHTS[r] for r in _BY_BASIS[basis]]
