"""Fixtures for service-definition tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from services_support import Edit, copy_edited


@pytest.fixture
def edited(tmp_path: Path) -> Edit:
    """``edited(service_id, change)``: the shipped file passed through ``change``, alone in a temp folder."""

    def make(service_id: str, change: Callable[[str], str]) -> Path:
        return copy_edited(tmp_path, service_id, change)

    return make
