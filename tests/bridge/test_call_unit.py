"""One Call against a strict scripted model and fake media: the paths the shipped scenarios do
not reach over SIP (keypad digits, the maximum call duration), checked event by event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from realtime_bridge.call import Call, CallSettings
from realtime_bridge.call_journal import CallJournal
from realtime_bridge.realtime.fake import ScriptedRealtimeClient, Step
from realtime_bridge.rtp.dtmf import DtmfDigit
from realtime_bridge.rtp.playout import PlayoutBuffer
from voice_agent.decisions import DecisionLog, ListSink
from voice_agent.directives import PlayClosing
from voice_agent.invocation import PolicyEvent, PolicyReply, ToolCall, ToolReply
from voice_agent.record_store import RecordStore
from voice_agent.spec import AgentSpec


class FakeMedia:
    """The RtpSession surface a Call uses, with inbound events fed by the test."""

    def __init__(self) -> None:
        self.playout = PlayoutBuffer()
        self.inbox: asyncio.Queue[DtmfDigit | None] = asyncio.Queue()

    async def inbound(self) -> AsyncIterator[DtmfDigit]:
        while (event := await self.inbox.get()) is not None:
            yield event

    def send_audio(self, item_id: str, ulaw: bytes) -> None:
        self.playout.push(item_id, ulaw)

    def clear(self) -> dict[str, int]:
        return self.playout.clear()

    def played_ms(self, item_id: str) -> int:
        return self.playout.played_ms(item_id)


class FakeInvoker:
    def __init__(self, policy_reply: PolicyReply | None = None) -> None:
        self.policy_events: list[PolicyEvent] = []
        self._reply = policy_reply or PolicyReply(ok=True)

    async def tool(self, call: ToolCall) -> ToolReply:
        raise AssertionError(f"no tool call expected, got {call.name}")

    async def policy(self, event: PolicyEvent) -> PolicyReply:
        self.policy_events.append(event)
        return self._reply


def _call(spec: AgentSpec, store: RecordStore, call_id: str, model, invoker) -> tuple[Call, FakeMedia]:  # type: ignore[no-untyped-def]
    media = FakeMedia()
    call = Call(
        call_id, spec, media, model, invoker, CallJournal(store, call_id), DecisionLog(ListSink()),  # type: ignore[arg-type]
        hang_up=lambda: None, settings=CallSettings(model="gpt-realtime", tick_s=0.02),
    )  # fmt: skip
    return call, media


async def _until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_keypad_digits_reach_the_model_as_conversation_items(spec: AgentSpec, store: RecordStore, call_id: str) -> None:
    model = ScriptedRealtimeClient(
        steps=[Step("session.update"), Step("response.create"), Step("conversation.item.create")]
    )
    invoker = FakeInvoker()

    async def scenario() -> Call:
        call, media = _call(spec, store, call_id, model, invoker)
        task = asyncio.create_task(call.run())
        media.inbox.put_nowait(DtmfDigit(digit="5", duration_ms=120))  # type: ignore[call-arg]
        await _until(lambda: len(model.sent) == 3)
        await call.sip_ended(by_caller=True)
        await task
        return call

    call = asyncio.run(scenario())
    model.assert_done()
    greeting, item = model.sent[1], model.sent[2]
    assert greeting["response"]["instructions"] == "Say exactly: " + spec.greeting
    assert greeting["response"]["metadata"]["purpose"] == "greeting"
    assert item["item"]["role"] == "user" and item["item"]["content"][0]["text"] == "[keypad] 5"
    assert [t.text for t in call.journal.turns] == ["DTMF 5"]
    assert [e.action for e in invoker.policy_events] == ["caller_hung_up"]
    assert [t.text for t in store.turns(call_id)] == ["DTMF 5"]  # flushed before run() returned


def test_the_maximum_duration_asks_the_gate_and_plays_its_closing(
    spec: AgentSpec, store: RecordStore, call_id: str
) -> None:
    short = spec.model_copy(update={"limits": spec.limits.model_copy(update={"max_call_seconds": 0})})
    model = ScriptedRealtimeClient(steps=[Step("session.update"), Step("response.create"), Step("response.create")])
    closing = PlayClosing(text=spec.closing, teardown_ms=spec.limits.closing_teardown_ms)
    invoker = FakeInvoker(PolicyReply(ok=True, verdict="allow", directives=[closing]))

    async def scenario() -> None:
        call, _ = _call(short, store, call_id, model, invoker)
        # The greeting is still "active" until its response.created arrives; let the model answer it.
        task = asyncio.create_task(call.run())
        await _until(lambda: len(model.sent) >= 2)
        model._enqueue([
            {"type": "response.created", "event_id": "e1", "response": {"id": "resp_1", "object": "realtime.response",
             "status": "in_progress", "metadata": {"purpose": "greeting", "field": ""}}},
            {"type": "response.done", "event_id": "e2", "response": {"id": "resp_1", "object": "realtime.response",
             "status": "completed", "output": []}},
        ])  # fmt: skip
        await _until(lambda: len(model.sent) == 3)
        await call.sip_ended(by_caller=False)
        await task

    asyncio.run(scenario())
    assert [e.action for e in invoker.policy_events][:1] == ["max_duration"]
    closing_request = model.sent[2]["response"]
    assert closing_request["instructions"] == "Say exactly: " + spec.closing
    assert closing_request["metadata"]["purpose"] == "closing"
