"""Interfaces: the CLI (and later the HTTP API and web pages); thin edges over the platform."""

__all__: list[str] = []
