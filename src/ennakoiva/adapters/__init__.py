"""Adapters: engines, stores, channels, synthesis, loading — everything that touches the outside."""

__all__: list[str] = []
