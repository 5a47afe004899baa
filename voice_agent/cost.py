"""A call's usage and its priced cost: the realtime session's tokens, the caller's transcription,
the post-call model's tokens and the call's minutes, each priced from configuration.

Prices are configuration (they change, and differ per contract), with the date they were set:
every priced record names that date, so a bill can say which price list it used. The defaults
are the published list prices on `set_on` (USD per 1M tokens, per minute for transcription by
duration; telephony: Chime's US inbound rate per minute). Usage is
kept in integers (tokens, milliseconds): DynamoDB stores them exactly.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

_REALTIME = ("audio_in", "audio_in_cached", "audio_out", "text_in", "text_in_cached", "text_out")
_PER_MILLION = 1_000_000


class Prices(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    set_on: dt.date = dt.date(2026, 12, 6)  # when these prices were taken from the price lists
    # The realtime model (gpt-realtime audio and text), per 1M tokens.
    audio_in: float = 32.0
    audio_in_cached: float = 0.40
    audio_out: float = 64.0
    text_in: float = 4.0
    text_in_cached: float = 0.40
    text_out: float = 16.0
    # The caller's transcription: duration-billed models per minute, token-billed ones per 1M tokens.
    transcription_per_minute: float = 0.006
    transcription_in: float = 2.50
    transcription_out: float = 10.0
    # The post-call model (gpt-4.1-mini), per 1M tokens.
    post_call_in: float = 0.40
    post_call_out: float = 1.60
    # Telephony per call minute: Chime Voice Connector inbound, US local numbers (set your own rate).
    telephony_per_minute: float = 0.0022


class PricesError(ValueError):
    pass


def prices_from_json(text: str | None) -> Prices:
    """PRICES (a JSON object of the fields to override, with `set_on`), or the defaults."""
    if not text:
        return Prices()
    try:
        return Prices.model_validate_json(text)
    except ValidationError as err:
        first = err.errors()[0]
        raise PricesError(f"{'.'.join(map(str, first['loc'])) or 'prices'}: {first['msg']}") from None


class CostBreakdown(BaseModel):
    realtime_usd: float
    transcription_usd: float
    post_call_usd: float
    telephony_usd: float
    total_usd: float
    prices_set_on: str  # ISO date of the prices used

    def stored(self) -> dict[str, Any]:
        """For DynamoDB, which takes Decimal, never float."""
        return {k: Decimal(str(v)) if isinstance(v, float) else v for k, v in self.model_dump().items()}


class Usage(BaseModel):
    # The realtime session, summed over every response.done.
    audio_in: int = 0
    audio_in_cached: int = 0
    audio_out: int = 0
    text_in: int = 0
    text_in_cached: int = 0
    text_out: int = 0
    responses: int = 0
    # The caller's turns transcribed (input_audio_transcription.completed usage).
    transcription_ms: int = 0
    transcription_in: int = 0
    transcription_out: int = 0
    # The post-call extraction (chat completions usage), every request of the pass.
    post_call_in: int = 0
    post_call_out: int = 0
    # Answer to BYE.
    call_ms: int = 0

    def add(self, usage: Any) -> None:
        """Add one response.done `usage` (SDK model or dict)."""
        u = _plain(usage)
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

    def add_transcription(self, usage: Any) -> None:
        """One caller turn's transcription usage: {type: duration, seconds} or {type: tokens, ...}."""
        u = _plain(usage)
        if u.get("type") == "duration":
            self.transcription_ms += round(float(u.get("seconds") or 0) * 1000)
        else:
            self.transcription_in += int(u.get("input_tokens") or 0)
            self.transcription_out += int(u.get("output_tokens") or 0)

    def add_post_call(self, usage: Any) -> None:
        """One chat completion's usage (prompt_tokens, completion_tokens)."""
        u = _plain(usage)
        self.post_call_in += int(u.get("prompt_tokens") or 0)
        self.post_call_out += int(u.get("completion_tokens") or 0)

    def cost(self, prices: Prices) -> CostBreakdown:
        realtime = sum(getattr(self, k) * getattr(prices, k) for k in _REALTIME) / _PER_MILLION
        transcription = (
            self.transcription_ms / 60_000 * prices.transcription_per_minute
            + (self.transcription_in * prices.transcription_in + self.transcription_out * prices.transcription_out)
            / _PER_MILLION
        )
        post_call = (self.post_call_in * prices.post_call_in + self.post_call_out * prices.post_call_out) / _PER_MILLION
        telephony = self.call_ms / 60_000 * prices.telephony_per_minute
        parts = [round(p, 6) for p in (realtime, transcription, post_call, telephony)]
        return CostBreakdown(
            realtime_usd=parts[0],
            transcription_usd=parts[1],
            post_call_usd=parts[2],
            telephony_usd=parts[3],
            total_usd=round(sum(parts), 6),
            prices_set_on=prices.set_on.isoformat(),
        )

    def cost_usd(self, prices: Prices) -> float:
        return self.cost(prices).total_usd


def _plain(usage: Any) -> dict[str, Any]:
    if hasattr(usage, "model_dump"):
        dumped: dict[str, Any] = usage.model_dump()
        return dumped
    return dict(usage or {})
