"""The domain core: pure Python and pydantic, no engines, web or CLI (checked by import-linter)."""

__all__: list[str] = []
