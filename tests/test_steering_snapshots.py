"""Tool descriptions and steering are an API surface: pinned by snapshots, changed on purpose.

To accept a deliberate change: UPDATE_SNAPSHOTS=1 make test, then review the diff of
tests/snapshots/ in the same commit as the wording change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from voice_agent.call_runtime import CallRuntime
from voice_agent.invocation import CallerIdle, ToolCall
from voice_agent.policy_service import PolicyService
from voice_agent.spec import AgentSpec
from voice_agent.tool_catalog import build_tools
from voice_agent.tool_executor import ToolExecutor

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _check(name: str, actual: object) -> None:
    path = SNAPSHOTS / name
    text = json.dumps(actual, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
    assert path.exists(), f"{name} is missing: UPDATE_SNAPSHOTS=1 writes it, then review and commit it"
    assert path.read_text() == text, f"{name} changed: review it, then UPDATE_SNAPSHOTS=1 to accept"


def test_tool_definitions_snapshot(spec: AgentSpec) -> None:
    _check("riverside_tools.json", [t.model_dump() for t in build_tools(spec)])


CONVERSATION = [
    ("end_call", {"reason": "done"}),
    ("categorize_call", {"category": "billing"}),
    ("categorize_call", {"category": "parking"}),
    ("resolve_provider", {"spoken_name": "Okafor"}),
    ("resolve_provider", {"spoken_name": "Smith"}),
    ("record_caller_name", {"value": "Maria Lopez"}),
    ("record_caller_name", {"value": "Marie Lopez"}),
    ("record_date_of_birth", {"value": "1985-02-30"}),
    ("record_date_of_birth", {"value": "1985-03-03"}),
    ("record_callback_number", {"value": "555 212 4419"}),
    ("record_callback_number", {"value": "617 555 0142"}),
    ("set_language", {"language": "es"}),
    ("set_language", {"language": "fr"}),
    ("decline_field", {"field": "callback_number", "quote": "No."}),
    ("decline_field", {"field": "reason", "quote": "That's private."}),
    ("record_insurance_member_id", {"value": "XJ-4431"}),
    ("record_reason", {"text": "wrong key"}),
    ("end_call", {"reason": "done"}),
    ("end_call", {"reason": "bye again"}),
]


def test_steering_snapshot(runtime: CallRuntime, call_id: str) -> None:
    tools = ToolExecutor(runtime)
    transcript = []
    for name, args in CONVERSATION:
        reply = tools.execute(ToolCall(call_id=call_id, name=name, arguments=json.dumps(args)))
        transcript.append({"call": f"{name}({json.dumps(args)})"} | reply.model_dump(mode="json", exclude_none=True))
    _check("riverside_steering.json", transcript)


def test_every_steering_names_the_next_question_until_all_are_in(runtime: CallRuntime, call_id: str) -> None:
    tools = ToolExecutor(runtime)
    order = ["caller_name", "date_of_birth", "callback_number", "reason"]
    values = ["Maria Lopez", "1985-03-03", "617 555 0142", "Follow-up"]
    for i, (field, value) in enumerate(zip(order, values, strict=True)):
        out = tools.execute(ToolCall(call_id=call_id, name=f"record_{field}", arguments=json.dumps({"value": value})))
        if field != "callback_number":  # the read-back answer steers to the correction path instead
            expected = f"Next, ask for {order[i + 1]}" if i + 1 < len(order) else "Every required answer is in."
            assert expected in out.output


def test_idle_escape_needs_the_measured_silence(runtime: CallRuntime, call_id: str) -> None:
    policy = PolicyService(runtime)
    limits = runtime.spec.limits
    short = policy.handle(CallerIdle(call_id=call_id, idle_prompts_played=limits.idle_prompts, caller_silent_ms=1000))
    assert short.directives == [] and short.state == "ACTIVE"
    enough = limits.idle_seconds * 1000 * (limits.idle_prompts + 1)
    long = policy.handle(CallerIdle(call_id=call_id, idle_prompts_played=limits.idle_prompts, caller_silent_ms=enough))
    assert long.state == "CLOSING" and [d.kind for d in long.directives] == ["play_closing"]
