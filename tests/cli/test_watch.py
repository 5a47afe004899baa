"""`voice-agent watch` (and the view `serve --local` shows): a running stack's calls as they happen,
read from the calls table the bridge and the policy write, one readable line per event."""

from __future__ import annotations

import json
import time
import uuid

from simulator.local_stack import LocalStack
from voice_agent.decisions import DecisionLine
from voice_agent.record_store import RecordStore, Turn
from voice_agent_cli.watch import Watcher, readable

from .conftest import cli


def _mine(events: list[dict[str, object]], call_id: str) -> list[str]:
    return [readable(e) for e in events if e.get("call_id") == call_id]


def test_watch_prints_each_turn_and_decision_once_as_it_arrives(store: RecordStore) -> None:
    call_id = f"CAwatch{uuid.uuid4().hex}"
    watcher = Watcher(store)
    watcher.poll()  # whatever was there before: history, not news
    now = time.time()
    store.create_call(call_id, "riverside-clinic", int(now * 1000), "en")
    store.append_turn(Turn(call_id=call_id, seq=0, t_ms=200, speaker="agent", text="Thanks for calling."))
    events = watcher.poll()
    short = f"{call_id[:12]}…"
    assert _mine(events, call_id) == [
        f"{short}  call started (agent riverside-clinic)",
        f"{short}     0.2s agent  Thanks for calling.",
    ]
    active = [e for e in events if e["kind"] == "active_calls"]
    assert active and call_id in active[-1]["call_ids"]  # type: ignore[operator]

    store.append_turn(Turn(call_id=call_id, seq=1, t_ms=3100, speaker="caller", text="I need a refill."))
    store.append_turn(Turn(call_id=call_id, seq=2, t_ms=4000, speaker="agent", text="Could I have", interrupted=True,
                           heard_ms=640))  # fmt: skip
    deny = DecisionLine(ts=now + 5, call_id=call_id, decision="end_call_gate", verdict="deny", tool="end_call",
                        reason="required fields missing in the store", missing=["date_of_birth"])  # fmt: skip
    store.append_decision(deny)
    assert _mine(watcher.poll(), call_id) == [
        f"{short}     3.1s caller I need a refill.",
        f"{short}     4.0s agent  Could I have  [cut off: heard 640 ms]",
        f"{short}  decision end_call_gate deny end_call missing date_of_birth: required fields missing in the store",
    ]
    assert _mine(watcher.poll(), call_id) == []  # nothing new, nothing printed

    meta = store.get_call(call_id)
    assert meta is not None
    assert store.transition_gate(call_id, meta.gate_version, "ENDED", ended_by="caller", ended_reason="hang_up")
    assert _mine(watcher.poll(), call_id) == [f"{short}  call ended by caller (hang_up)"]
    assert _mine(watcher.poll(), call_id) == []


def test_watch_once_against_an_endpoint_and_as_json(local_stack: LocalStack, store: RecordStore) -> None:
    call_id = f"CAwatch{uuid.uuid4().hex}"
    store.create_call(call_id, "riverside-clinic", int(time.time() * 1000), "en")
    store.append_turn(Turn(call_id=call_id, seq=0, t_ms=0, speaker="agent", text="Hello."))
    res = cli("watch", "--endpoint-url", local_stack.endpoint_url, "--once", "--json")
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in res.stdout.splitlines()]
    assert {"kind": "turn", "call_id": call_id, "seq": 0, "t_ms": 0, "speaker": "agent", "text": "Hello.",
            "interrupted": False, "untranscribed": False} in events  # fmt: skip
    res = cli("watch", "--endpoint-url", local_stack.endpoint_url, "--once")
    assert res.returncode == 0 and f"{call_id[:12]}…     0.0s agent  Hello." in res.stdout
    assert "-- active calls: " in res.stdout


def test_watch_without_an_endpoint_is_one_line() -> None:
    res = cli("watch")
    assert res.returncode == 2 and res.stderr.startswith("error: watch needs --endpoint-url")
