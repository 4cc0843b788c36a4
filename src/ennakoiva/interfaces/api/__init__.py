"""The web service: ``create_app(platform)`` (FastAPI); pages live in ``interfaces.web``."""

from __future__ import annotations

from ennakoiva.interfaces.api.app import create_app

__all__ = ["create_app"]
