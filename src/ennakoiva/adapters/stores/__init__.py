"""The operational store (SQLAlchemy 2 + Alembic): consents and the audit log.

SQLite file by default, PostgreSQL in production, one URL (``ENNAKOIVA_DB_URL``) picks. The only
package besides ``engine`` that talks to a database; the domain never imports SQLAlchemy.
"""

from ennakoiva.adapters.stores.audit_repository import SqlAuditLog, read_checkpoint_file
from ennakoiva.adapters.stores.consent_repository import SqlConsentStore
from ennakoiva.adapters.stores.database import DEFAULT_URL, create_engine, sqlite_url, write_transaction
from ennakoiva.adapters.stores.migrate import current_revision, head_revision, upgrade

__all__ = [
    "DEFAULT_URL",
    "SqlAuditLog",
    "SqlConsentStore",
    "create_engine",
    "current_revision",
    "head_revision",
    "read_checkpoint_file",
    "sqlite_url",
    "upgrade",
    "write_transaction",
]
