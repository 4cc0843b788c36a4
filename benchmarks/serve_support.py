"""The web benchmarks' server: ``ennakoiva serve`` in its own process, with a fresh store in ``folder``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["PASSWORD", "login_token", "server_env", "start_server"]

PASSWORD = "bench-password"


def server_env(folder: Path, **extra: str) -> dict[str, str]:
    """ENNAKOIVA_* settings of a benchmark server: its own store, keys and aggregates in ``folder``."""
    return {"ENNAKOIVA_DB_URL": f"sqlite:///{folder / 'store.sqlite3'}",
            "ENNAKOIVA_AUDIT_KEY_FILE": str(folder / "audit.key"),
            "ENNAKOIVA_AUDIT_CHECKPOINT_FILE": str(folder / "checkpoints.jsonl"),
            "ENNAKOIVA_AGGREGATES_FILE": str(folder / "overview.json"),
            "ENNAKOIVA_DEMO_PASSWORD": PASSWORD, **extra}


def start_server(db: Path, folder: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start the server and wait until /api/health answers (the first start computes the overview)."""
    cli = Path(sys.executable).with_name("ennakoiva")
    # the server's log goes to a file: an unread pipe fills up and stalls the server once it is full
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen([str(cli), "serve", "--db", str(db), "--port", str(port)],
                            env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {(folder / 'server.log').read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def login_token(base: str, user: str) -> str:
    """A demo user's bearer token."""
    response = httpx.post(f"{base}/api/session", json={"username": user, "password": PASSWORD}, timeout=10)
    response.raise_for_status()
    return str(response.json()["token"])
