"""The post-call pass against moto (server mode) and the simulator's post-call LLM on loopback."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError
from openai import AuthenticationError, OpenAI

from voice_agent.archive_store import ArchiveStore, archive_key
from voice_agent.decisions import DecisionLine, ListSink
from voice_agent.post_call import ExtractionFailed, NotEnded, Reconciler
from voice_agent.record_store import FieldValue, RecordStore

from ..conftest import FakeClock
from .conftest import BusTap, CountingClient, SimulatedLlm, Sleeps, new_call, scenario_for


def backfill_lines(decisions: ListSink, call_id: str) -> dict[str, DecisionLine]:
    lines = [d for d in decisions.lines if d.call_id == call_id and d.decision == "backfill"]
    by_field = {d.field: d for d in lines if d.field}
    assert len(by_field) == len(lines), "one decision line per field"
    return by_field


def test_field_the_live_call_missed_is_backfilled_with_quote_and_turn(
    make_reconciler: Callable[..., Reconciler], llm: CountingClient, store: RecordStore, clock: FakeClock,
    archive: ArchiveStore, decisions: ListSink, bus_tap: BusTap,
) -> None:  # fmt: skip
    call_id = new_call(store, clock, live=("reason", "caller_name", "callback_number"), archive=archive, archived=True)
    outcome = make_reconciler(llm).reconcile(call_id)

    assert (outcome.status, outcome.backfilled, outcome.still_missing) == ("reconciled", ["date_of_birth"], [])
    assert len(llm.requests) == 1 and llm.asked_fields() == ["date_of_birth"]  # only the missing field
    assert llm.requests[0]["response_format"]["type"] == "json_schema"
    dob = store.get_fields(call_id)["date_of_birth"]
    assert (dob.value, dob.source, dob.quote, dob.turn_seq) == ("1985-03-12", "backfill", "It's 3/12/1985.", 5)
    assert store.get_fields(call_id)["caller_name"].source == "live"
    line = backfill_lines(decisions, call_id)["date_of_birth"]
    assert (line.verdict, line.turn_seq) == ("accept", 5) and "1985" not in line.to_json()  # masked
    assert line.reason.startswith("structure: ") and dob.evidence == "structure"  # the rule that accepted it

    meta = store.get_call(call_id)
    assert meta is not None and meta.reconcile_state == "reconciled"
    record = json.loads(archive.get_text(archive_key("records", call_id, meta.started_ms)))
    assert record["fields"]["date_of_birth"]["source"] == "backfill" and record["missing_required"] == []
    assert record["fields"]["date_of_birth"]["quote"] == "It's 3/12/1985." and record["reconciliation"]["pass"] == 2
    audit = archive.get_text(archive_key("decisions", call_id, meta.started_ms)).splitlines()
    assert any(json.loads(a)["decision"] == "backfill" and json.loads(a)["verdict"] == "accept" for a in audit)
    [event] = bus_tap.events(call_id, "RecordReconciled")
    assert event["source"] == "voice-agent" and event["detail"] == {"call_id": call_id, "backfilled": ["date_of_birth"]}


def test_misbehaving_extractor_is_rejected_with_one_decision_line_each(
    make_reconciler: Callable[..., Reconciler], llm_server: SimulatedLlm, llm: CountingClient, store: RecordStore,
    clock: FakeClock, decisions: ListSink,
) -> None:  # fmt: skip
    llm_server.use(scenario_for(fabricate_quote=["reason"], quote_agent_turn=["caller_name"],
                                wrong_value=["callback_number"]))  # fmt: skip
    call_id = new_call(store, clock)  # nothing recorded live; transcript only in the per-turn store
    outcome = make_reconciler(llm).reconcile(call_id)

    assert len(llm.requests) == 1
    assert sorted(llm.asked_fields()) == ["callback_number", "caller_name", "date_of_birth", "reason"]
    lines = backfill_lines(decisions, call_id)
    assert {f: d.verdict for f, d in lines.items()} == {
        "reason": "reject", "caller_name": "reject", "callback_number": "reject", "date_of_birth": "accept",
    }  # fmt: skip
    assert lines["reason"].reason.startswith("quote: ") and "not in any caller turn" in lines["reason"].reason
    assert "quote: the quote is from agent turn 2" in lines["caller_name"].reason  # not the caller's words
    # A digit the quote does not hold: the caller's numerals prove another number.
    assert lines["callback_number"].reason.startswith("structure: the caller's numerals prove a different value")
    assert set(store.get_fields(call_id)) == {"date_of_birth"}  # nothing rejected was written
    assert outcome.backfilled == ["date_of_birth"]
    assert sorted(outcome.still_missing) == ["callback_number", "caller_name", "reason"]


def test_a_wrong_name_the_quote_does_not_support_is_rejected(
    make_reconciler: Callable[..., Reconciler], llm_server: SimulatedLlm, llm: CountingClient, store: RecordStore,
    clock: FakeClock, decisions: ListSink,
) -> None:  # fmt: skip
    llm_server.use(scenario_for(wrong_value=["caller_name"]))  # the simulator swaps first and last name
    call_id = new_call(store, clock, live=("reason", "date_of_birth", "callback_number"))
    make_reconciler(llm).reconcile(call_id)
    line = backfill_lines(decisions, call_id)["caller_name"]
    assert (line.verdict, line.turn_seq) == ("reject", 3)
    assert line.reason.startswith("extractive: ") and "do not stand in order" in line.reason
    assert "caller_name" not in store.get_fields(call_id)


def test_a_live_value_written_during_the_pass_is_never_overwritten(
    make_reconciler: Callable[..., Reconciler], llm_server: SimulatedLlm, store: RecordStore, clock: FakeClock,
    decisions: ListSink,
) -> None:  # fmt: skip
    call_id = new_call(store, clock, live=("reason", "caller_name", "callback_number"))
    live = FieldValue(name="date_of_birth", status="value", value="1985-03-04", source="live", recorded_ms=clock.now)
    # The race: a late live write lands while the extraction request is in flight.
    racing = CountingClient(llm_server.handle.http_url, on_request=lambda _: store.put_field(call_id, live))
    outcome = make_reconciler(racing).reconcile(call_id)

    line = backfill_lines(decisions, call_id)["date_of_birth"]
    assert line.verdict == "reject" and "never overwrites" in line.reason
    stored = store.get_fields(call_id)["date_of_birth"]
    assert (stored.value, stored.source) == ("1985-03-04", "live")
    assert outcome.backfilled == [] and outcome.still_missing == []


def test_a_complete_call_makes_zero_llm_calls(
    make_reconciler: Callable[..., Reconciler], llm: CountingClient, store: RecordStore, clock: FakeClock,
    decisions: ListSink, bus_tap: BusTap, archive: ArchiveStore,
) -> None:  # fmt: skip
    call_id = new_call(store, clock, live=("reason", "caller_name", "date_of_birth", "callback_number"))
    outcome = make_reconciler(llm).reconcile(call_id)
    assert (outcome.status, outcome.llm_requests, llm.requests) == ("reconciled", 0, [])
    assert [d.verdict for d in decisions.lines if d.decision == "reconcile"] == ["noop"]
    meta = store.get_call(call_id)
    assert meta is not None and meta.reconcile_state == "reconciled"
    assert json.loads(archive.get_text(archive_key("records", call_id, meta.started_ms)))["missing_required"] == []
    assert [e["detail"]["backfilled"] for e in bus_tap.events(call_id, "RecordReconciled")] == [[]]


def test_a_declined_field_counts_as_satisfied(
    make_reconciler: Callable[..., Reconciler], llm: CountingClient, store: RecordStore, clock: FakeClock
) -> None:
    call_id = new_call(store, clock, live=("reason", "caller_name", "callback_number"))
    refusal = FieldValue(name="date_of_birth", status="declined", quote="I'd rather not say.", recorded_ms=1)
    store.put_field(call_id, refusal)
    assert make_reconciler(llm).reconcile(call_id).llm_requests == 0 and llm.requests == []


def test_a_second_delivery_makes_no_llm_call_and_changes_nothing(
    make_reconciler: Callable[..., Reconciler], llm: CountingClient, store: RecordStore, clock: FakeClock,
    archive: ArchiveStore, bus_tap: BusTap,
) -> None:  # fmt: skip
    call_id = new_call(store, clock, live=("reason",))
    reconciler = make_reconciler(llm)
    first = reconciler.reconcile(call_id)
    meta = store.get_call(call_id)
    assert meta is not None
    before = (meta, store.get_fields(call_id), store.decisions(call_id), _etag(archive, call_id, meta.started_ms))
    clock.now += 60_000
    second = reconciler.reconcile(call_id)
    after = (store.get_call(call_id), store.get_fields(call_id), store.decisions(call_id))
    assert (first.status, second.status, len(llm.requests)) == ("reconciled", "duplicate", 1)
    assert after == before[:3] and _etag(archive, call_id, meta.started_ms) == before[3]
    assert len(bus_tap.events(call_id, "RecordReconciled")) == 1


def _etag(archive: ArchiveStore, call_id: str, started_ms: int) -> str:
    s3 = archive._s3  # the archive's own client: the test reads the object the pass wrote
    return s3.head_object(Bucket=archive._bucket, Key=archive_key("records", call_id, started_ms))["ETag"]


def test_a_live_call_is_not_reconciled(
    make_reconciler: Callable[..., Reconciler], llm: CountingClient, store: RecordStore, clock: FakeClock
) -> None:
    call_id = new_call(store, clock, ended=False)
    with pytest.raises(NotEnded):
        make_reconciler(llm).reconcile(call_id)
    meta = store.get_call(call_id)
    assert llm.requests == [] and meta is not None and meta.reconcile_state is None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on exit: connecting is refused


def test_llm_failure_is_retried_then_marked_failed_and_a_later_retry_succeeds(
    make_reconciler: Callable[..., Reconciler], llm: CountingClient, store: RecordStore, clock: FakeClock,
    decisions: ListSink,
) -> None:  # fmt: skip
    call_id = new_call(store, clock, live=("reason", "caller_name"))
    down = CountingClient(f"http://127.0.0.1:{_closed_port()}/v1")
    sleeps = Sleeps()
    with pytest.raises(ExtractionFailed, match="after 3 attempts: APIConnectionError"):
        make_reconciler(down, sleep=sleeps).reconcile(call_id)

    assert len(down.requests) == 3 and sleeps.delays == [0.5, 1.0]  # backoff between attempts, none after
    meta = store.get_call(call_id)
    assert (
        meta is not None and meta.reconcile_state == "failed" and "APIConnectionError" in (meta.reconcile_error or "")
    )
    verdicts = [d.verdict for d in decisions.lines if d.call_id == call_id and d.decision == "reconcile"]
    assert verdicts == ["retry", "retry", "fail"]
    assert set(store.get_fields(call_id)) == {"reason", "caller_name"}  # nothing half-written

    # The redelivered event (Lambda retry or DLQ redrive) is not blocked by the failed pass.
    again = make_reconciler(llm).reconcile(call_id)
    assert again.status == "reconciled" and sorted(again.backfilled) == ["callback_number", "date_of_birth"]
    meta = store.get_call(call_id)
    assert meta is not None and meta.reconcile_state == "reconciled" and meta.reconcile_error is None


class ScriptedLlm:
    """A loopback HTTP endpoint answering chat completions from a script of (status, content)."""

    def __init__(self, script: list[tuple[int, str]]) -> None:
        self.script, self.hits = list(script), 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                status, content = outer.script[min(outer.hits, len(outer.script) - 1)]
                outer.hits += 1
                message = {"role": "assistant", "content": content, "refusal": None}
                ok = {
                    "id": "c1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "m",
                    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None, "message": message}],
                }
                err = {"error": {"message": content, "type": "invalid_request_error", "param": None, "code": None}}
                body = json.dumps(ok if status == 200 else err).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.client = OpenAI(api_key="sk-test", base_url=f"http://127.0.0.1:{self.server.server_port}/v1")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


GOOD = json.dumps({"fields": {"date_of_birth": {"value": "1985-03-12", "quote": "It's 3/12/1985.", "seq": 5}}})


def test_a_malformed_answer_is_retried_and_a_good_one_then_used(
    make_reconciler: Callable[..., Reconciler], store: RecordStore, clock: FakeClock
) -> None:
    call_id = new_call(store, clock, live=("reason", "caller_name", "callback_number"))
    llm = ScriptedLlm([(200, "not json"), (500, "overloaded"), (200, GOOD)])
    try:
        outcome = make_reconciler(llm.client).reconcile(call_id)
    finally:
        llm.close()
    assert (llm.hits, outcome.llm_requests, outcome.backfilled) == (3, 3, ["date_of_birth"])


def test_a_request_the_api_refuses_is_not_retried(
    make_reconciler: Callable[..., Reconciler], store: RecordStore, clock: FakeClock
) -> None:
    call_id = new_call(store, clock, live=("reason", "caller_name", "callback_number"))
    llm = ScriptedLlm([(401, "Incorrect API key provided")])
    try:
        with pytest.raises(AuthenticationError):
            make_reconciler(llm.client).reconcile(call_id)
    finally:
        llm.close()
    meta = store.get_call(call_id)
    assert llm.hits == 1 and meta is not None and meta.reconcile_state == "failed"
    assert "AuthenticationError" in (meta.reconcile_error or "")


def test_a_failure_after_backfilling_does_not_block_the_retry(
    make_reconciler: Callable[..., Reconciler], llm: CountingClient, store: RecordStore, clock: FakeClock,
    archive: ArchiveStore, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    call_id = new_call(store, clock, live=("reason", "caller_name", "callback_number"))
    reconciler = make_reconciler(llm)

    def s3_down(*args: object, **kwargs: object) -> str:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "PutObject")

    with monkeypatch.context() as mp:
        mp.setattr(archive, "put_record", s3_down)
        with pytest.raises(ClientError):
            reconciler.reconcile(call_id)
    meta = store.get_call(call_id)
    assert meta is not None and meta.reconcile_state == "failed" and "SlowDown" in (meta.reconcile_error or "")
    assert store.get_fields(call_id)["date_of_birth"].source == "backfill"  # the verified write stands

    again = reconciler.reconcile(call_id)
    assert (again.status, again.llm_requests, len(llm.requests)) == ("reconciled", 0, 1)  # nothing left to ask
    record = json.loads(archive.get_text(archive_key("records", call_id, meta.started_ms)))
    assert record["fields"]["date_of_birth"]["source"] == "backfill" and record["missing_required"] == []


def test_an_answer_for_a_field_that_was_not_asked_is_rejected(
    make_reconciler: Callable[..., Reconciler], store: RecordStore, clock: FakeClock, decisions: ListSink
) -> None:
    call_id = new_call(store, clock, live=("reason", "caller_name", "callback_number"))
    # A misbehaving endpoint also "corrects" the live name, with a quote that is really there.
    extra = {"value": "Mario Lopez", "quote": "It's Maria Lopez", "seq": 3}
    answer = json.loads(GOOD)
    answer["fields"]["caller_name"] = extra
    llm = ScriptedLlm([(200, json.dumps(answer))])
    try:
        make_reconciler(llm.client).reconcile(call_id)
    finally:
        llm.close()
    lines = backfill_lines(decisions, call_id)
    assert lines["caller_name"].verdict == "reject" and "never overwrites" in lines["caller_name"].reason
    assert lines["date_of_birth"].verdict == "accept"
    stored = store.get_fields(call_id)["caller_name"]
    assert (stored.value, stored.source) == ("Maria Lopez", "live")
