"""Token accounting for response.done.usage, as documented: caller audio 1 token per
100 ms, agent audio 1 per 50 ms; every response re-reads the conversation, and what
the previous response read comes from cache."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

RATE_LIMIT_TOKENS = 15_000_000


@dataclass
class UsageMeter:
    last_input_tokens: int = 0
    tokens_left: int = RATE_LIMIT_TOKENS

    def response_usage(
        self,
        *,
        instructions: str,
        items: int,
        caller_ms: int,
        agent_ms: int,
        generated_ms: int,
        output: list[dict[str, Any]],
    ) -> dict[str, Any]:
        text_in = len(instructions) // 4 + 4 * items
        audio_in = caller_ms // 100 + agent_ms // 50
        input_tokens = text_in + audio_in
        cached = min(self.last_input_tokens, input_tokens) // 64 * 64  # the cache works in 64-token blocks
        self.last_input_tokens = input_tokens
        text_out = sum(len(json.dumps(o)) // 16 for o in output)
        audio_out = generated_ms // 50
        self.tokens_left -= input_tokens + text_out + audio_out
        return {
            "total_tokens": input_tokens + text_out + audio_out,
            "input_tokens": input_tokens,
            "output_tokens": text_out + audio_out,
            "input_token_details": {
                "text_tokens": text_in,
                "audio_tokens": audio_in,
                "image_tokens": 0,
                "cached_tokens": cached,
                "cached_tokens_details": {
                    "text_tokens": min(cached, text_in),
                    "audio_tokens": max(0, cached - text_in),
                    "image_tokens": 0,
                },
            },
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }

    def rate_limits_event(self) -> dict[str, Any]:
        return {
            "type": "rate_limits.updated",
            "rate_limits": [
                {
                    "name": "tokens",
                    "limit": RATE_LIMIT_TOKENS,
                    "remaining": max(0, self.tokens_left),
                    "reset_seconds": 0.002,
                }
            ],
        }
