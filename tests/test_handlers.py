"""The Lambda handlers driven with realistic events against moto in server mode.

The handler modules are imported exactly as Lambda imports them: configuration from the
environment, clients built at module scope, pointed at the local endpoint.
"""

from __future__ import annotations

import importlib
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

import pytest

from simulator.local_stack import LOCAL_TABLE, LocalStack, local_environment
from voice_agent.agent_registry import AgentRegistry

from .conftest import EXAMPLE_SPEC, EXAMPLE_VERSION

EXAMPLE_SPEC_TEXT = EXAMPLE_SPEC.read_text(encoding="utf-8")


@dataclass
class LambdaContext:
    function_name: str = "voice-agent-tools"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:voice-agent-tools"
    aws_request_id: str = "req-1"


@dataclass
class Handlers:
    tools: ModuleType
    policy: ModuleType
    stack: LocalStack

    def tool(self, call_id: str, name: str, **arguments: object) -> dict:
        event = {
            "call_id": call_id,
            "name": name,
            "arguments": json.dumps(arguments),
            "tool_call_id": f"call_{uuid.uuid4().hex[:8]}",
        }
        return self.tools.handler(event, LambdaContext())

    def policy_event(self, **event: object) -> dict:
        return self.policy.handler(event, LambdaContext(function_name="voice-agent-policy"))

    def start(self) -> str:
        call_id = f"CA{uuid.uuid4().hex}"
        started = {"agent": "riverside-clinic", "spec_version": EXAMPLE_VERSION}
        assert self.policy_event(action="call_started", call_id=call_id, **started)["ok"]
        return call_id

    def fields(self, call_id: str) -> dict[str, dict]:
        items = self.stack.table.query(
            KeyConditionExpression="call_id = :c AND begins_with(sk, :p)",
            ExpressionAttributeValues={":c": call_id, ":p": "FIELD#"},
        )["Items"]
        return {i["name"]: i for i in items}


@pytest.fixture(scope="module")
def handlers(local_stack: LocalStack, registry: AgentRegistry) -> Iterator[Handlers]:
    env = local_environment(local_stack.endpoint_url) | {"CALLS_TABLE": LOCAL_TABLE}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        tools = importlib.import_module("functions.tools.handler")
        policy = importlib.import_module("functions.policy.handler")
        yield Handlers(tools, policy, local_stack)


def test_record_then_correct_a_field(handlers: Handlers) -> None:
    call_id = handlers.start()
    reply = handlers.tool(call_id, "record_caller_name", value="Maria Lopez")
    assert reply["ok"] and reply["output"].startswith("Recorded caller_name. Next, ask for date_of_birth")
    reply = handlers.tool(call_id, "record_caller_name", value="Marie Lopez")
    assert reply["ok"] and reply["output"].startswith("Corrected caller_name")
    stored = handlers.fields(call_id)["caller_name"]
    assert (stored["value"], stored["source"], stored["corrections"]) == ("Marie Lopez", "live", 1)


def test_invalid_value_records_nothing_and_says_what_to_ask(handlers: Handlers) -> None:
    call_id = handlers.start()
    reply = handlers.tool(call_id, "record_date_of_birth", value="03/03/1985")
    assert not reply["ok"]
    assert "Nothing was recorded for date_of_birth" in reply["output"] and "Ask the caller again" in reply["output"]
    assert "date_of_birth" not in handlers.fields(call_id)


def test_phone_number_is_read_back_from_the_stored_value(handlers: Handlers) -> None:
    call_id = handlers.start()
    reply = handlers.tool(call_id, "record_callback_number", value="617-555-0142")
    [directive] = reply["directives"]
    assert directive == {
        "kind": "read_back",
        "field": "callback_number",
        "text": "6 1 7, 5 5 5, 0 1 4 2",
        "expected_digits": "6175550142",
        "attempt": 1,
    }
    wrong = handlers.policy_event(
        action="verify_readback", call_id=call_id, field="callback_number", transcript="6 1 7, 5 5 5, 0 1 4 3"
    )
    assert wrong["verdict"] == "retry" and wrong["directives"][0]["attempt"] == 2
    again = handlers.policy_event(
        action="verify_readback", call_id=call_id, field="callback_number", transcript="6 1 7, 5 5 5, 0 1 4 3"
    )
    assert again["verdict"] == "fail" and again.get("directives", []) == []  # one corrective retry at most


def test_decline_satisfies_a_required_field_with_the_quote(handlers: Handlers) -> None:
    call_id = handlers.start()
    reply = handlers.tool(call_id, "decline_field", field="date_of_birth", quote="I don't give that out.")
    assert reply["ok"] and "declines to give date_of_birth" in reply["output"]
    stored = handlers.fields(call_id)["date_of_birth"]
    assert (stored["status"], stored["quote"]) == ("declined", "I don't give that out.")
    empty = handlers.tool(call_id, "decline_field", field="reason", quote="")
    assert not empty["ok"] and "reason" not in handlers.fields(call_id)


def _fill_required(handlers: Handlers, call_id: str) -> None:
    handlers.tool(call_id, "record_caller_name", value="Maria Lopez")
    handlers.tool(call_id, "record_date_of_birth", value="1985-03-03")
    handlers.tool(call_id, "record_callback_number", value="(617) 555-0142")
    handlers.tool(call_id, "decline_field", field="reason", quote="I'd rather tell the doctor.")


def test_end_call_denied_then_allowed_once_then_second_closing_denied(handlers: Handlers) -> None:
    call_id = handlers.start()
    handlers.tool(call_id, "record_caller_name", value="Maria Lopez")
    denied = handlers.tool(call_id, "end_call", reason="all fields collected")  # the claim is not trusted
    assert not denied["ok"] and denied.get("directives", []) == []
    assert "still missing date_of_birth, callback_number, reason" in denied["output"]

    _fill_required(handlers, call_id)
    allowed = handlers.tool(call_id, "end_call", reason="done")
    assert allowed["ok"]
    closing = "Thank you. The clinic team will call you back within one business day. Goodbye."
    assert allowed["directives"] == [{"kind": "play_closing", "text": closing, "teardown_ms": 6000}]
    second = handlers.tool(call_id, "end_call", reason="goodbye again")
    assert not second["ok"] and second.get("directives", []) == [] and "already ending" in second["output"]

    played = handlers.policy_event(action="closing_played", call_id=call_id)
    assert played["state"] == "ENDED" and played["directives"][0]["kind"] == "hang_up"


def _race_end_calls(handlers: Handlers, call_id: str) -> list[dict]:
    replies: list[dict] = []
    barrier = threading.Barrier(2)

    def request() -> None:
        barrier.wait()
        replies.append(handlers.tool(call_id, "end_call", reason="done"))

    threads = [threading.Thread(target=request) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return replies


def test_two_concurrent_end_calls_exactly_one_wins(handlers: Handlers) -> None:
    for _ in range(5):
        call_id = handlers.start()
        _fill_required(handlers, call_id)
        replies = _race_end_calls(handlers, call_id)
        closings = [r for r in replies if any(d["kind"] == "play_closing" for d in r.get("directives", []))]
        assert len(replies) == 2 and len(closings) == 1, replies
        meta = handlers.stack.table.get_item(Key={"call_id": call_id, "sk": "META"})["Item"]
        assert meta["status"] == "CLOSING" and meta["closings"] == 1


def test_caller_hang_up_ends_the_call_and_stops_recording(handlers: Handlers) -> None:
    call_id = handlers.start()
    assert handlers.policy_event(action="caller_hung_up", call_id=call_id)["state"] == "ENDED"
    assert not handlers.tool(call_id, "record_reason", value="late")["ok"]
    assert not handlers.tool(call_id, "end_call")["ok"]


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"name": "end_call"}, "bad event: call_id: Field required"),
        ({"call_id": "x y", "name": "end_call"}, "bad event: call_id: String should match pattern"),
        ({"call_id": "c1", "name": "end_call", "extra": 1}, "bad event: extra: Extra inputs are not permitted"),
    ],
)
def test_bad_tool_events_get_an_error_reply(handlers: Handlers, event: dict, error: str) -> None:
    reply = handlers.tools.handler(event, LambdaContext())
    assert reply["ok"] is False and reply["error"].startswith(error)


def test_bad_arguments_and_unknown_tools_are_steered_not_crashed(handlers: Handlers) -> None:
    call_id = handlers.start()
    raw = handlers.tools.handler(
        {"call_id": call_id, "name": "record_reason", "arguments": "{not json"}, LambdaContext()
    )
    assert not raw["ok"] and "not understood" in raw["output"]
    assert not handlers.tool(call_id, "record_reason", text="wrong key")["ok"]
    assert "no tool named record_shoe_size" in handlers.tool(call_id, "record_shoe_size", value=9)["output"]
    unknown = handlers.tool("CAnobody", "record_reason", value="x")
    assert unknown["ok"] is False and "unknown call" in unknown["error"]


def test_bad_policy_events_get_an_error_reply(handlers: Handlers) -> None:
    assert "bad event" in handlers.policy_event(action="explode", call_id="c1")["error"]
    assert handlers.policy_event(action="closing_played", call_id="CAnobody")["error"] == "unknown call CAnobody"


def test_a_call_runs_with_the_spec_version_on_its_record(handlers: Handlers, registry: AgentRegistry) -> None:
    """Tools and policy load the agent and version the call started with, from its record: a push
    after the call started changes nothing for it."""
    call_id = handlers.start()
    newer = EXAMPLE_SPEC_TEXT.replace("Goodbye.", "Bye for now.")
    pushed = registry.push(newer, source="riverside_clinic v2", label="v2")
    try:
        _fill_required(handlers, call_id)
        closing = handlers.tool(call_id, "end_call", reason="done")["directives"][0]["text"]
        assert closing.endswith("Goodbye.")  # the old version's words, not the pushed one's
        later = f"CA{uuid.uuid4().hex}"
        started = handlers.policy_event(action="call_started", call_id=later, agent="riverside-clinic",
                                        spec_version=pushed.version)  # fmt: skip
        assert started["ok"]
        meta = handlers.stack.table.get_item(Key={"call_id": later, "sk": "META"})["Item"]
        assert (
            (meta["agent"], meta["spec_version"])
            == ("riverside-clinic", pushed.version)
            != (
                "riverside-clinic",
                EXAMPLE_VERSION,
            )
        )
        _fill_required(handlers, later)
        assert handlers.tool(later, "end_call", reason="done")["directives"][0]["text"].endswith("Bye for now.")
    finally:
        registry.push(EXAMPLE_SPEC_TEXT, source="riverside_clinic")  # current again for the other tests


def test_call_started_without_a_routed_version_is_refused(handlers: Handlers) -> None:
    reply = handlers.policy_event(action="call_started", call_id=f"CA{uuid.uuid4().hex}")
    assert not reply["ok"] and "spec_version" in reply["error"]
    unknown = handlers.policy_event(
        action="call_started", call_id=f"CA{uuid.uuid4().hex}", agent="riverside-clinic", spec_version="0" * 16
    )
    assert not unknown["ok"] and "no spec riverside-clinic@0000000000000000" in unknown["error"]
