"""Small shared types: the three service languages."""

from typing import Literal

__all__ = ["LANGS", "Lang"]

Lang = Literal["fi", "sv", "en"]
LANGS: tuple[Lang, ...] = ("fi", "sv", "en")
