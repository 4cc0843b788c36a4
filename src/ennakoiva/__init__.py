"""Ennakoiva: anticipate residents' service needs on their own terms."""

__all__ = ["__version__"]
__version__ = "0.1.0"
