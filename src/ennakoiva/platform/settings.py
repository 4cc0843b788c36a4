"""One settings class, read once from the environment (ENNAKOIVA_*)."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["AUDIT_KEY_BYTES", "Settings", "load_or_create_key"]

AUDIT_KEY_BYTES = 32


class Settings(BaseSettings):
    """Where things live; every field can be set as ENNAKOIVA_<NAME>.

    - ``db_url``: the operational store (consents, audit log). The default is an SQLite file in the
      working directory; production uses PostgreSQL, e.g.
      ``ENNAKOIVA_DB_URL=postgresql+psycopg://ennakoiva@db.example/ennakoiva``.
    - ``audit_key_file``: the secret that signs audit checkpoints (HMAC-SHA256), 32 random bytes
      written as hex. :meth:`audit_key` creates it with mode 0600 when it does not exist; to create
      it by hand: ``python -c "import secrets; print(secrets.token_hex(32))" > audit.key && chmod
      600 audit.key``. Keep it outside the database (and its backups): whoever holds it can forge
      checkpoints.
    - ``audit_checkpoint_file``: the external, append-only JSON-lines file every signed checkpoint
      is also written to, so that a truncated and re-chained database tail is detected. Put it on
      storage the database role cannot rewrite (another volume, WORM storage, a log shipper).
    - ``audit_checkpoint_every``: a checkpoint is signed after this many new audit entries.
    """

    model_config = SettingsConfigDict(env_prefix="ENNAKOIVA_", frozen=True)

    db: Path = Path("ennakoiva.duckdb")
    truth: Path = Path("ennakoiva-truth.duckdb")
    demo_dir: Path = Path("demo")
    threads: int | None = None
    memory_limit: str | None = None
    db_url: str = "sqlite:///ennakoiva-store.sqlite3"
    audit_key_file: Path = Path("ennakoiva-audit.key")
    audit_checkpoint_file: Path = Path("ennakoiva-audit-checkpoints.jsonl")
    audit_checkpoint_every: int = 10_000

    def audit_key(self, *, create: bool = True) -> bytes:
        """The checkpoint signing key from ``audit_key_file``, created (0600) if missing."""
        return load_or_create_key(self.audit_key_file, create=create)


def load_or_create_key(path: Path, *, create: bool = True) -> bytes:
    """Read a hex key file; create it with fresh random bytes and mode 0600 if it is missing.

    A key file readable by group or others is refused rather than silently used.
    """
    path = path.expanduser()
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"audit key file {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two processes starting at once must not each write a different key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(AUDIT_KEY_BYTES) + "\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PermissionError(f"audit key file {path} has mode {mode:04o}; it must be readable by its owner only "
                              f"(chmod 600 {path})")
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"audit key file {path} must hold the key as hex") from None
    if len(key) < AUDIT_KEY_BYTES:
        raise ValueError(f"audit key in {path} is {len(key)} bytes; at least {AUDIT_KEY_BYTES} are needed")
    return key
