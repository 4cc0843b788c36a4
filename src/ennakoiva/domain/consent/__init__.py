"""Consent and lawful basis (MyData): purposes, consent records, the access decision, the audit chain."""

__all__: list[str] = []
