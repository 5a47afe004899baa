"""Per-call cost estimate from the realtime usage the service reports in each response.done.

Prices are configuration (USD per 1M tokens) because they change; the defaults are the published
gpt-realtime audio prices (mini models cost about a third).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Prices(BaseModel):
    audio_in: float = 32.0
    audio_in_cached: float = 0.40
    audio_out: float = 64.0
    text_in: float = 4.0
    text_in_cached: float = 0.40
    text_out: float = 16.0


class Usage(BaseModel):
    audio_in: int = 0
    audio_in_cached: int = 0
    audio_out: int = 0
    text_in: int = 0
    text_in_cached: int = 0
    text_out: int = 0
    responses: int = 0

    def add(self, usage: Any) -> None:
        """Add one response.done `usage` (SDK model or dict)."""
        u = usage.model_dump() if hasattr(usage, "model_dump") else dict(usage or {})
        inp = u.get("input_token_details") or {}
        cached = inp.get("cached_tokens_details") or {}
        out = u.get("output_token_details") or {}
        audio_cached = int(cached.get("audio_tokens") or 0)
        text_cached = int(cached.get("text_tokens") or 0)
        self.audio_in += int(inp.get("audio_tokens") or 0) - audio_cached
        self.audio_in_cached += audio_cached
        self.text_in += int(inp.get("text_tokens") or 0) - text_cached
        self.text_in_cached += text_cached
        self.audio_out += int(out.get("audio_tokens") or 0)
        self.text_out += int(out.get("text_tokens") or 0)
        self.responses += 1

    def cost_usd(self, prices: Prices) -> float:
        total: float = sum(getattr(self, k) * getattr(prices, k) for k in Prices.model_fields)
        return round(total / 1_000_000, 6)
