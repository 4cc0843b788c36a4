"""The composition root: settings and the wiring of adapters into use cases."""

__all__: list[str] = []
