"""One settings class, read once from the environment (ENNAKOIVA_*)."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    - web service (``ennakoiva serve``): ``auth_mode`` ``demo`` (named demo users, a login form and
      signed session tokens; ``session_secret`` and ``demo_password`` are generated per run unless
      set in the environment) or ``oidc`` (bearer JWTs verified against ``oidc_issuer``,
      ``oidc_audience`` and ``oidc_jwks_url`` or ``oidc_jwks_file``; the role comes from the
      ``oidc_roles_claim``, a resident's person id from ``oidc_person_claim``; the pages log in by the
      authorization-code flow with PKCE as ``oidc_client_id`` back to ``oidc_redirect_uri``, the secret
      ``ENNAKOIVA_OIDC_CLIENT_SECRET`` from the environment only). ``aggregates_file``
      holds the overview's precomputed figures (default: ``<city>.overview.json``);
      ``webhook_rate_per_s``/``webhook_burst`` is the token bucket of the public webhooks.
    - ``sms_gateway``: ``simulator`` (the embedded default, a local SMS centre in
      ``sms_simulator_file``) or ``http`` (a real provider at ``sms_http_url``, authenticated by
      ``sms_http_token`` or ``sms_http_username``/``sms_http_password``; its webhooks are signed with
      ``sms_webhook_secret``). ``sms_max_segments`` caps the parts of any message;
      ``outbox_lease_seconds`` is how long a claimed message waits before another sender may retry it.
      ``sms_demo_answer_rate``/``sms_demo_accept_rate`` are how the demo's simulated families behave;
      ``letter_batch_dir`` receives the fallback channel's letter batches (no phone, SMS undeliverable).
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
    employment_models: Path = Path("ennakoiva-models/employment")   # model registry of Employment service 2.0
    sms_gateway: str = "simulator"
    sms_simulator_file: Path = Path("ennakoiva-sms-simulator.sqlite3")
    sms_http_url: str | None = None
    sms_http_token: SecretStr | None = None
    sms_http_username: str | None = None
    sms_http_password: SecretStr | None = None
    sms_webhook_secret: SecretStr | None = None
    sms_sender: str = "Helsinki"
    sms_max_segments: int = 2
    outbox_lease_seconds: float = 60.0
    letter_batch_dir: Path = Path("ennakoiva-letters")   # the fallback channel's batch files (suomi.fi / print)
    sms_demo_answer_rate: float = Field(default=0.93, ge=0.0, le=1.0)
    sms_demo_accept_rate: float = Field(default=0.9, ge=0.0, le=1.0)
    # web service (issue #7): "demo" = named demo users with a login form; "oidc" = verify bearer JWTs
    auth_mode: Literal["demo", "oidc"] = "demo"
    session_secret: SecretStr | None = None     # signs session cookies; a fresh one per run when unset
    demo_password: SecretStr | None = None      # the demo users' password; a fresh one per run when unset
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_jwks_file: Path | None = None
    oidc_roles_claim: str = "roles"             # roles claim; a dotted path reaches in (Keycloak: realm_access.roles)
    oidc_person_claim: str = "person_id"        # a resident's pseudonymous person id in the token
    # the pages' authorization-code flow (PKCE): the endpoints come from {issuer}/.well-known/openid-configuration
    # unless set here; the client secret is read from the environment only (unset: a public client)
    oidc_client_id: str | None = None           # default: oidc_audience
    oidc_client_secret: SecretStr | None = None
    oidc_redirect_uri: str | None = None        # e.g. https://ennakoiva.hel.fi/auth/callback
    oidc_scopes: str = "openid profile"
    oidc_authorization_endpoint: str | None = None
    oidc_token_endpoint: str | None = None
    oidc_end_session_endpoint: str | None = None
    aggregates_file: Path | None = None         # overview figures; default: next to the city database
    # token bucket of the public webhooks, per client: an SMS provider posts a whole campaign's replies
    # from a few addresses within minutes (6 000 in the pre-school burst), so the bucket is sized for that
    webhook_rate_per_s: float = 500.0
    webhook_burst: int = 2000

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
