"""Alembic revisions of the operational store, oldest first (``0001_…``)."""

__all__: list[str] = []
