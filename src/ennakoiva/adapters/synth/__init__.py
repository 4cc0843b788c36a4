"""The synthetic city: a Helsinki-like population and its services, with planted ground truth."""

__all__: list[str] = []
