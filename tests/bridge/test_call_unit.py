"""One Call (the async shell) against a strict scripted model and fake media: keypad digits, the
maximum call duration, a refused connect and a dying task, checked on the wire."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

from realtime_bridge.call import Call, CallSettings
from realtime_bridge.call_events import Tick
from realtime_bridge.call_journal import CallJournal
from realtime_bridge.journal_table import DynamoJournalTable
from realtime_bridge.journal_writer import JournalWriter
from realtime_bridge.realtime.client import ConnectRefused
from realtime_bridge.realtime.fake import ScriptedRealtimeClient, Step
from realtime_bridge.rtp.dtmf import DtmfDigit
from realtime_bridge.rtp.playout import PlayoutBuffer
from voice_agent.decisions import DecisionLog, ListSink
from voice_agent.directives import HangUp, PlayClosing
from voice_agent.invocation import PolicyEvent, PolicyReply, ToolCall, ToolReply
from voice_agent.record_store import RecordStore
from voice_agent.spec import AgentSpec

from .test_deadline_timer import EarlyTimers

PCMU = {"type": "audio/pcmu"}
UPDATED = {
    "type": "session.updated",
    "event_id": "e0",
    "session": {"type": "realtime", "audio": {"input": {"format": PCMU}, "output": {"format": PCMU}}},
}


class FakeMedia:
    """The RtpSession surface a Call uses, with inbound events fed by the test."""

    def __init__(self) -> None:
        self.playout = PlayoutBuffer()
        self.inbox: asyncio.Queue[DtmfDigit | Exception | None] = asyncio.Queue()

    async def inbound(self) -> AsyncIterator[DtmfDigit]:
        while (event := await self.inbox.get()) is not None:
            if isinstance(event, Exception):
                raise event
            yield event

    def send_audio(self, item_id: str, ulaw: bytes) -> None:
        self.playout.push(item_id, ulaw)


class FakeInvoker:
    def __init__(self, *replies: PolicyReply) -> None:
        self.policy_events: list[PolicyEvent] = []
        self._replies = list(replies)

    async def tool(self, call: ToolCall) -> ToolReply:
        raise AssertionError(f"no tool call expected, got {call.name}")

    async def policy(self, event: PolicyEvent) -> PolicyReply:
        self.policy_events.append(event)
        return self._replies.pop(0) if self._replies else PolicyReply(ok=True)


class Refusing(ScriptedRealtimeClient):
    async def connect(self, model: str) -> None:
        raise ConnectRefused(401, "invalid_api_key")


def _call(
    spec: AgentSpec, journal: DynamoJournalTable, call_id: str, model: Any, invoker: FakeInvoker
) -> tuple[Call, FakeMedia, list[str]]:
    media, byes = FakeMedia(), []
    call = Call(
        call_id, spec, media, lambda: model, invoker, CallJournal(call_id, JournalWriter(journal), own_writer=True),
        DecisionLog(ListSink()),
        hang_up=lambda: byes.append("BYE"), settings=CallSettings(model="gpt-realtime-2.1"),
    )  # fmt: skip
    return call, media, byes


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_keypad_digits_reach_the_model_as_conversation_items(
    spec: AgentSpec, store: RecordStore, journal: DynamoJournalTable, call_id: str
) -> None:
    model = ScriptedRealtimeClient(
        steps=[Step("session.update", (UPDATED,)), Step("response.create"), Step("conversation.item.create")]
    )
    invoker = FakeInvoker()

    async def scenario() -> Call:
        call, media, _ = _call(spec, journal, call_id, model, invoker)
        task = asyncio.create_task(call.run())
        await _until(lambda: len(model.sent) == 2)  # configured, greeting asked
        media.inbox.put_nowait(DtmfDigit(digit="5", duration_ms=120))  # type: ignore[call-arg]
        await _until(lambda: len(model.sent) == 3)
        await call.sip_ended(by_caller=True)
        await task
        return call

    call = asyncio.run(scenario())
    model.assert_done()
    configure, greeting, item = model.sent
    assert configure["event_id"] and greeting["event_id"] and configure["event_id"] != greeting["event_id"]
    assert greeting["response"]["instructions"] == "Say exactly: " + spec.greeting
    assert greeting["response"]["metadata"] == {"request": greeting["event_id"], "purpose": "greeting", "field": ""}
    assert item["item"]["role"] == "user" and item["item"]["content"][0]["text"] == "[keypad] 5"
    assert [t.text for t in call.journal.turns] == ["DTMF 5"]
    assert [e.action for e in invoker.policy_events] == ["caller_hung_up"]
    assert [t.text for t in store.turns(call_id)] == ["DTMF 5"]  # flushed before run() returned


def test_the_maximum_duration_asks_the_gate_and_plays_its_closing(
    spec: AgentSpec, store: RecordStore, journal: DynamoJournalTable, call_id: str
) -> None:
    short = spec.model_copy(update={"limits": spec.limits.model_copy(update={"max_call_seconds": 0})})
    model = ScriptedRealtimeClient(steps=[Step("session.update", (UPDATED,)), Step("response.create")])
    closing = PlayClosing(text=spec.closing, teardown_ms=spec.limits.closing_teardown_ms)
    invoker = FakeInvoker(PolicyReply(ok=True, verdict="allow", directives=[closing]))

    async def scenario() -> None:
        call, _, _ = _call(short, journal, call_id, model, invoker)
        task = asyncio.create_task(call.run())
        await _until(lambda: len(model.sent) == 2)
        await call.sip_ended(by_caller=False)
        await task

    asyncio.run(scenario())
    assert [e.action for e in invoker.policy_events][:1] == ["max_duration"]
    closing_request = model.sent[1]["response"]  # the greeting is never asked: the closing came first
    assert closing_request["instructions"] == "Say exactly: " + spec.closing
    assert closing_request["metadata"]["purpose"] == "closing"


def test_a_refused_connect_ends_the_call_through_the_gate_with_a_bye(
    spec: AgentSpec, store: RecordStore, journal: DynamoJournalTable, call_id: str
) -> None:
    invoker = FakeInvoker(PolicyReply(ok=True, verdict="ended", directives=[HangUp(reason="model_lost")]))

    async def scenario() -> list[str]:
        call, _, byes = _call(spec, journal, call_id, Refusing(steps=[]), invoker)
        task = asyncio.create_task(call.run())
        await _until(lambda: byes == ["BYE"])
        await call.sip_ended(by_caller=False)
        await task
        return byes

    assert asyncio.run(scenario()) == ["BYE"]
    (event,) = invoker.policy_events
    assert event.action == "model_unavailable" and "401" in event.reason  # type: ignore[union-attr]


def test_a_task_that_dies_ends_the_call_with_a_bye_instead_of_leaving_it_deaf(
    spec: AgentSpec, store: RecordStore, journal: DynamoJournalTable, call_id: str
) -> None:
    model = ScriptedRealtimeClient(steps=[Step("session.update", (UPDATED,)), Step("response.create")])

    async def scenario() -> list[str]:
        call, media, byes = _call(spec, journal, call_id, model, FakeInvoker())
        task = asyncio.create_task(call.run())
        await _until(lambda: len(model.sent) == 2)
        media.inbox.put_nowait(OSError("the RTP socket broke"))
        await asyncio.wait_for(task, 5)
        return byes

    assert asyncio.run(scenario()) == ["BYE"]


def test_a_timer_the_loop_runs_early_is_one_tick_not_a_spin(
    spec: AgentSpec, store: RecordStore, journal: DynamoJournalTable, call_id: str
) -> None:
    audio = {
        "type": "response.output_audio.delta",
        "event_id": "e2",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(b"\xff" * 800).decode(),
    }  # 100 ms
    created = {
        "type": "response.created",
        "event_id": "e1",
        "response": {"object": "realtime.response", "id": "resp_1", "status": "in_progress", "output": []},
    }
    model = ScriptedRealtimeClient(
        steps=[Step("session.update", (UPDATED,)), Step("response.create", (created, audio))]
    )
    ticks: list[tuple[float, float | None]] = []  # (now, the earliest deadline) of every tick fed

    async def scenario() -> int:
        call, media, _ = _call(spec, journal, call_id, model, FakeInvoker())
        handle = call.control.handle

        def counting(event: Any, now: float) -> Any:
            if isinstance(event, Tick):
                ticks.append((now, call.control.next_deadline()))
            return handle(event, now)

        call.control.handle = counting  # type: ignore[method-assign]
        task = asyncio.create_task(call.run())
        await _until(lambda: media.playout.queued_bytes == 800)
        await asyncio.sleep(0.35)  # the playout deadline comes, again and again: nothing drains it here
        await call.sip_ended(by_caller=False)
        await task
        return media.playout.queued_bytes

    with asyncio.Runner(loop_factory=EarlyTimers) as runner:
        assert runner.run(scenario()) == 800
    assert 2 <= len(ticks) <= 6, f"{len(ticks)} ticks in 0.35 s for a deadline every 0.1 s"
    assert all(deadline is not None and deadline <= now for now, deadline in ticks), "a tick found nothing due"
