"""The online tier's own model calls, priced from the project's price table."""

from __future__ import annotations

import pytest
from openai.types.audio import Transcription
from openai.types.completion_usage import CompletionUsage

from voice_agent.cost import Prices
from voice_eval.harness_cost import HarnessUsage


def _chat(tokens_in: int, tokens_out: int) -> CompletionUsage:
    return CompletionUsage(prompt_tokens=tokens_in, completion_tokens=tokens_out, total_tokens=tokens_in + tokens_out)


def test_persona_judge_and_transcription_calls_are_priced_at_the_table_s_rates() -> None:
    usage = HarnessUsage()
    for _ in range(7):
        usage.add_persona(_chat(1_300, 40))
    usage.add_judge(_chat(2_800, 400))
    usage.add_transcription(Transcription.model_validate({"text": "hi", "usage": {"type": "duration", "seconds": 42}}))
    tokens = {"type": "tokens", "input_tokens": 1_000, "output_tokens": 100, "total_tokens": 1_100}
    usage.add_transcription(Transcription.model_validate({"text": "hi", "usage": tokens}))
    usage.add_persona(None)  # a reply without usage is counted, not priced
    assert (usage.persona_calls, usage.transcriptions) == (8, 2)
    prices = Prices(post_call_in=1.0, post_call_out=10.0, transcription_per_minute=0.6, transcription_in=2.0,
                    transcription_out=20.0)  # fmt: skip
    chat = (7 * 1_300 + 2_800) * 1.0 + (7 * 40 + 400) * 10.0
    transcription = 1_000 * 2.0 + 100 * 20.0
    assert usage.cost_usd(prices) == pytest.approx((chat + transcription) / 1_000_000 + 42 / 60 * 0.6)
