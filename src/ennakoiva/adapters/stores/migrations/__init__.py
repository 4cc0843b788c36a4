"""The Alembic environment for the operational store, shipped inside the package.

Run it with :func:`ennakoiva.adapters.stores.migrate.upgrade` — no ``alembic.ini`` is needed.
"""

__all__: list[str] = []
