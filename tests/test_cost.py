"""A call's priced cost: every part of its usage at the configured prices, with their date."""

from __future__ import annotations

import datetime as dt

import pytest

from voice_agent.cost import Prices, PricesError, Usage, prices_from_json


def test_each_part_is_priced_and_the_total_is_their_sum() -> None:
    usage = Usage()
    usage.add({"input_token_details": {"audio_tokens": 1_000_000, "text_tokens": 0}, "output_token_details": {}})
    usage.add_transcription({"type": "duration", "seconds": 60})  # whisper-style: billed by the minute
    usage.add_transcription({"type": "tokens", "input_tokens": 1_000_000, "output_tokens": 0})
    usage.add_post_call({"prompt_tokens": 1_000_000, "completion_tokens": 1_000_000})
    usage.call_ms = 120_000
    prices = Prices(set_on=dt.date(2027, 1, 5), telephony_per_minute=0.01)
    cost = usage.cost(prices)
    assert cost.realtime_usd == pytest.approx(prices.audio_in)
    assert cost.transcription_usd == pytest.approx(prices.transcription_per_minute + prices.transcription_in)
    assert cost.post_call_usd == pytest.approx(prices.post_call_in + prices.post_call_out)
    assert cost.telephony_usd == pytest.approx(0.02)
    parts = cost.realtime_usd + cost.transcription_usd + cost.post_call_usd + cost.telephony_usd
    assert cost.total_usd == pytest.approx(parts) and cost.prices_set_on == "2027-01-05"


def test_prices_are_configuration_with_a_date_and_a_bad_one_is_one_line() -> None:
    assert prices_from_json(None) == Prices()
    custom = prices_from_json('{"set_on": "2027-02-01", "audio_out": 48}')
    assert (custom.set_on, custom.audio_out, custom.audio_in) == (dt.date(2027, 2, 1), 48, Prices().audio_in)
    with pytest.raises(PricesError, match=r"^audio_outt: Extra inputs are not permitted$"):
        prices_from_json('{"audio_outt": 48}')
    with pytest.raises(PricesError, match=r"^set_on: "):
        prices_from_json('{"set_on": "soon"}')
