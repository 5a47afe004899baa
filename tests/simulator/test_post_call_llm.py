"""The simulated post-call LLM, reached through the SDK's chat completions client."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from simulator.extractor import FABRICATED_QUOTE
from simulator.scenario import load_scenario
from tests.simulator.sim_helpers import SCENARIOS, running, sdk_client

FIELDS = [
    {"name": "caller_name", "type": "person_name", "description": "full name"},
    {"name": "date_of_birth", "type": "date", "description": "ISO date"},
    {"name": "callback_number", "type": "phone_number", "description": "digits"},
    {"name": "insurance_member_id", "type": "text", "description": "member id"},
]


def transcript(scenario) -> list[dict]:  # type: ignore[no-untyped-def]
    lines, seq = [], 0
    for turn in scenario.caller.spoken_turns:
        lines.append({"seq": seq, "speaker": "agent", "text": "Could you tell me more?"})
        lines.append({"seq": seq + 1, "speaker": "caller", "text": turn.say})
        seq += 2
    return lines


def extract(scenario, **knobs: list[str]) -> dict:  # type: ignore[no-untyped-def]
    if knobs:
        scenario = scenario.model_copy(update={"extractor": scenario.extractor.model_copy(update=knobs)})

    async def main() -> dict:
        async with running(scenario) as handle:
            completion = await sdk_client(handle).chat.completions.create(
                model="gpt-4.1-mini",
                messages=[
                    {"role": "system", "content": "Extract fields."},
                    {"role": "user", "content": json.dumps({"fields": FIELDS, "transcript": transcript(scenario)})},
                ],
                response_format={"type": "json_schema", "json_schema": {"name": "extraction", "schema": {}}},
            )
            return json.loads(completion.choices[0].message.content or "")["fields"]

    return asyncio.run(main())


def test_each_value_comes_with_the_verbatim_caller_turn_that_carries_it() -> None:
    scenario = load_scenario(SCENARIOS / "forgotten_tool_call.yaml")
    fields = extract(scenario)
    assert fields["date_of_birth"] == {"value": "1960-07-12", "quote": "It's 7/12/1960.", "seq": 5, "numerals": None}
    assert fields["caller_name"]["quote"] == "It's James Carter."
    assert fields["insurance_member_id"] == {"value": None, "quote": None, "seq": None, "numerals": None}


def test_knobs_fabricate_quote_quote_agent_turn_and_wrong_value() -> None:
    scenario = load_scenario(SCENARIOS / "forgotten_tool_call.yaml")
    fields = extract(
        scenario, fabricate_quote=["date_of_birth"], quote_agent_turn=["caller_name"], wrong_value=["callback_number"]
    )
    assert fields["date_of_birth"]["quote"] == FABRICATED_QUOTE
    assert fields["caller_name"]["quote"] == "Could you tell me more?"
    assert fields["caller_name"]["seq"] % 2 == 0  # an agent line
    wrong = fields["callback_number"]["value"]
    assert wrong != "6175550189" and len(wrong) == 10 and wrong.isdigit()


def test_a_request_without_json_schema_output_is_refused() -> None:
    async def main() -> None:
        async with running() as handle:
            await sdk_client(handle).chat.completions.create(model="m", messages=[{"role": "user", "content": "{}"}])

    with pytest.raises(openai.BadRequestError, match="json_schema"):
        asyncio.run(main())
