"""Deterministic OpenAI-looking identifiers (event_..., item_..., resp_...) from a seed."""

from __future__ import annotations

import random
import string

_ALPHABET = string.ascii_letters + string.digits


class IdFactory:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"ids:{seed}")

    def new(self, prefix: str) -> str:
        return prefix + "_" + "".join(self._rng.choice(_ALPHABET) for _ in range(21))
