"""The bridge's one journal writer against moto: batches across calls, retries what DynamoDB throttles
or fails on for a moment, isolates an item it refuses, writes without being asked, heartbeats."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from realtime_bridge.call_journal import CallJournal
from realtime_bridge.journal_table import DynamoJournalTable
from realtime_bridge.journal_writer import Backoff, JournalWriter
from voice_agent.decisions import DecisionLine
from voice_agent.record_store import BATCH_WRITE_LIMIT, RecordStore, Turn

from ..conftest import FakeClock


class FlakyTable(DynamoJournalTable):
    """The bridge's journal table on moto, with DynamoDB's bad moments injected into `put_batch`;
    every request is kept."""

    def __init__(
        self, journal: DynamoJournalTable, trouble: Callable[[int, Sequence[dict[str, Any]]], Any] | None = None
    ):
        super().__init__(journal._http, journal.name)
        self.batches: list[list[str]] = []  # the sort keys of each request, in order
        self._trouble = trouble

    def put_batch(self, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        self.batches.append([i["sk"] for i in items])
        if self._trouble is not None:
            outcome = self._trouble(len(self.batches), items)
            if isinstance(outcome, Exception):
                raise outcome
            if outcome is not None:  # throttled: these were not written
                written = [i for i in items if i not in outcome]
                if written:
                    super().put_batch(written)
                return list(outcome)
        return super().put_batch(items)


def _turn(call_id: str, seq: int, text: str = "") -> Turn:
    return Turn(call_id=call_id, seq=seq, t_ms=seq * 100, speaker="caller", text=text or f"turn {seq}")


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "BatchWriteItem")


def _run(writer: JournalWriter, body: Callable[[], Any]) -> None:
    async def main() -> None:
        writer.start()
        try:
            await body()
        finally:
            await writer.stop()

    asyncio.run(main())


def test_turns_of_many_calls_go_out_in_shared_batches_and_a_flush_makes_them_durable(
    store: RecordStore, journal: DynamoJournalTable, call_id: str, clock: FakeClock
) -> None:
    others = [f"{call_id}-other-{i}" for i in range(3)]
    flaky = FlakyTable(journal)
    writer = JournalWriter(flaky, max_wait_s=30.0)  # only the flush writes: the batching is visible

    async def body() -> None:
        for seq in range(1, 21):
            for cid in [call_id, *others]:
                writer.submit(_turn(cid, seq))
        line = DecisionLine(ts=clock.now / 1000, call_id=call_id, decision="speech", verdict="accept", reason="x")
        writer.submit(line)
        await writer.flush()
        assert [t.seq for t in store.turns(call_id)] == list(range(1, 21))  # durable when flush returns

    _run(writer, body)
    for cid in others:
        assert [t.text for t in store.turns(cid)] == [f"turn {s}" for s in range(1, 21)]
    assert [d.reason for d in store.decisions(call_id)] == ["x"]
    assert len(flaky.batches) == 4 and all(len(b) <= BATCH_WRITE_LIMIT for b in flaky.batches)  # 81 entries
    assert writer.items_written == 81 and writer.items_lost == 0


def test_throttled_items_and_transient_errors_are_retried_with_backoff_nothing_lost(
    store: RecordStore, journal: DynamoJournalTable, call_id: str
) -> None:
    def trouble(n: int, items: Sequence[dict[str, Any]]) -> Any:
        if n == 1:
            return items[len(items) // 2 :]  # half the batch throttled
        if n == 2:
            return _client_error("ProvisionedThroughputExceededException")
        if n == 3:
            return EndpointConnectionError(endpoint_url="http://dynamodb")
        return None

    flaky, slept = FlakyTable(journal, trouble), list[float]()
    writer = JournalWriter(flaky, max_wait_s=30.0, backoff=Backoff(first_s=0.01, max_s=0.04), sleep=slept.append)

    async def body() -> None:
        for seq in range(1, 11):
            writer.submit(_turn(call_id, seq))
        await writer.flush()

    _run(writer, body)
    assert [t.seq for t in store.turns(call_id)] == list(range(1, 11))
    assert slept == [0.01, 0.02, 0.04]  # one backoff per bad moment, doubling up to the cap
    assert flaky.batches[1] == flaky.batches[0][5:]  # only the throttled half went again
    assert writer.items_written == 10 and writer.items_lost == 0


def test_an_item_dynamodb_refuses_costs_only_itself(
    store: RecordStore, journal: DynamoJournalTable, call_id: str
) -> None:
    bad = "TURN#000003"

    def trouble(n: int, items: Sequence[dict[str, Any]]) -> Any:
        return _client_error("ValidationException") if any(i["sk"] == bad for i in items) else None

    writer = JournalWriter(FlakyTable(journal, trouble), max_wait_s=30.0)

    async def body() -> None:
        for seq in range(1, 6):
            writer.submit(_turn(call_id, seq))
        await writer.flush()

    _run(writer, body)
    assert [t.seq for t in store.turns(call_id)] == [1, 2, 4, 5]
    assert writer.items_lost == 1


def test_a_turn_is_written_within_the_batch_window_without_a_flush(
    store: RecordStore, journal: DynamoJournalTable, call_id: str
) -> None:
    writer = JournalWriter(journal, max_wait_s=0.2)

    async def body() -> None:
        writer.submit(_turn(call_id, 1, "I need an appointment"))
        deadline = time.monotonic() + 5
        while not store.turns(call_id):  # what a SIGKILL now would leave in the store
            assert time.monotonic() < deadline, "a submitted turn was never written without a flush"
            await asyncio.sleep(0.05)

    _run(writer, body)


def test_journal_close_flushes_its_call_and_the_heartbeat_runs_only_while_the_call_does(
    store: RecordStore, journal: DynamoJournalTable, call_id: str, clock: FakeClock
) -> None:
    writer = JournalWriter(journal, max_wait_s=30.0, heartbeat_s=0.05, clock_ms=clock)

    async def body() -> None:
        journal = CallJournal(call_id, writer)
        journal.start()
        journal.reserve("item-1", 10)
        journal.add("agent", "How can I help?")
        journal.fill("item-1", "I need an appointment")
        deadline = time.monotonic() + 5
        while (meta := store.get_call(call_id)) is None or meta.heartbeat_ms != clock.now:
            assert time.monotonic() < deadline, "no heartbeat"
            await asyncio.sleep(0.02)
        await journal.close()
        assert [(t.seq, t.text) for t in store.turns(call_id)] == [(1, "I need an appointment"), (2, "How can I help?")]
        clock.now += 1000
        await asyncio.sleep(0.3)  # several heartbeat intervals: none may come after the close
        meta = store.get_call(call_id)
        assert meta is not None and meta.heartbeat_ms == clock.now - 1000

    clock.now += 5  # the first beat must be the writer's, not CallStarted's
    _run(writer, body)


def test_dynamodb_refusals_come_back_as_botocore_errors_with_dynamodb_codes(journal: DynamoJournalTable) -> None:
    with pytest.raises(ClientError) as err:  # a heartbeat never creates a record
        journal.heartbeat("CA-no-such-call", 1)
    assert err.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    with pytest.raises(ValueError):
        journal.put_batch([])
