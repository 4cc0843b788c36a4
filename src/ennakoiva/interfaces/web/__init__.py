"""Server-rendered pages (Jinja2, a little htmx) and the locally served static assets.

``mount_web(app)`` adds the page routers, ``/static`` and the HTML error page the problem
handlers use for browser requests. Every asset is served from this package; nothing from a CDN.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ennakoiva.interfaces.web.pages import PAGE_ROUTERS, html_error

__all__ = ["PAGE_ROUTERS", "STATIC_DIR", "mount_web"]

STATIC_DIR = Path(__file__).with_name("static")


def mount_web(app: FastAPI) -> None:
    """Static assets and HTML error pages on ``app`` (the caller includes ``PAGE_ROUTERS``)."""
    app.state.html_error = html_error
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
