"""`voice-agent demo` (text slice): one scripted call through the real tools, gate and stores.

What this shows, honestly: the scripted side plays the realtime model (its tool calls and what
it says); everything else is the product's own code against the local stack (moto in server
mode on loopback): validation, steering, corrections, read-back verification with one
corrective retry, the end-of-call gate (an early end denied, one closing, a second goodbye
denied), the decision log and the archive layout. No audio, no SIP: the voice bridge is
separate work and `make demo` will place a real loopback SIP call once it lands.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .archive_store import ArchiveStore
from .call_runtime import CallRuntime
from .decisions import DecisionLine, DecisionLog, ListSink
from .directives import PlayClosing, ReadBack
from .invocation import CallStarted, ClosingPlayed, ToolCall, VerifyReadback
from .local_stack import LOCAL_BUCKET, start_local_stack
from .policy_service import PolicyService
from .record_store import RecordStore, Turn
from .record_view import build_record
from .spec import load_spec
from .tool_executor import ToolExecutor

EXAMPLE_SPEC = Path(__file__).resolve().parent.parent / "agents" / "riverside_clinic.yaml"


@dataclass(frozen=True)
class Step:
    caller: str | None = None  # what the caller says
    tools: tuple[tuple[str, dict[str, object]], ...] = ()  # what the (scripted) model calls
    agent: str | None = None  # what the model says on its own


SCRIPT: tuple[Step, ...] = (
    Step(
        caller="Hi, I'd like to book an appointment with doctor Nguyen.",
        tools=(
            ("categorize_call", {"category": "appointment"}),
            ("resolve_provider", {"spoken_name": "doctor Nguyen"}),
        ),
    ),
    Step(agent="Sure, I can help with that.", tools=(("end_call", {"reason": "I have everything"}),)),
    Step(caller="My name is Maria Lopez.", tools=(("record_caller_name", {"value": "Maria Lopez"}),)),
    Step(caller="Sorry, it's Marie. Marie Lopez.", tools=(("record_caller_name", {"value": "Marie Lopez"}),)),
    Step(caller="March third, nineteen eighty-five.", tools=(("record_date_of_birth", {"value": "1985-13-03"}),)),
    Step(agent="Sorry, could you repeat that?", tools=(("record_date_of_birth", {"value": "1985-03-03"}),)),
    Step(
        caller="Six one seven, five five five, zero one four two.",
        tools=(("record_callback_number", {"value": "617 555 0142"}),),
    ),
    Step(
        caller="Yes, that's right. I need a follow-up for my blood pressure.",
        tools=(("record_reason", {"value": "Follow-up visit for blood pressure"}),),
    ),
    Step(
        caller="I'd rather not give my insurance number.",
        tools=(
            ("decline_field", {"field": "insurance_member_id", "quote": "I'd rather not give my insurance number."}),
        ),
    ),
    Step(caller="No, that's everything.", tools=(("end_call", {"reason": "done"}),)),
    Step(agent="Goodbye, have a great day!", tools=(("end_call", {"reason": "say goodbye again"}),)),
)
# The scripted model's first read-back slips one digit; the policy must catch it.
MISREAD = "6 1 7, 5 5 5, 0 1 4 3"


class _Printer:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def say(self, who: str, text: str) -> None:
        print(f"  {time.monotonic() - self.t0:6.2f}s  {who:<7} {text}", flush=True)


def run_text_demo(out_dir: str) -> int:
    spec = load_spec(EXAMPLE_SPEC)
    print("Starting the local stack (moto server mode on 127.0.0.1)...", flush=True)
    stack = start_local_stack()
    try:
        store = RecordStore(stack.table)
        collected = ListSink()
        rt = CallRuntime(spec=spec, store=store, log=DecisionLog(collected))
        tools, policy = ToolExecutor(rt), PolicyService(rt)
        call_id = f"demo-{uuid.uuid4().hex[:12]}"
        p, seq = _Printer(), 0

        def turn(speaker: str, text: str) -> int:
            nonlocal seq
            seq += 1
            store.append_turn(Turn(call_id=call_id, seq=seq, t_ms=int((time.monotonic() - p.t0) * 1000),
                                   speaker=speaker, text=text))  # fmt: skip
            p.say(speaker, text)
            return seq

        print(f"\nCall {call_id} (agent {spec.name}); scripted model, real tools/gate/stores:\n")
        policy.handle(CallStarted(call_id=call_id, started_ms=rt.clock_ms()))
        turn("agent", spec.greeting)
        misread_done = False
        for step in SCRIPT:
            caller_seq = turn("caller", step.caller) if step.caller else None
            if step.agent:
                turn("agent", step.agent)
            for name, args in step.tools:
                reply = tools.execute(ToolCall(call_id=call_id, name=name, arguments=json.dumps(args),
                                               turn_seq=caller_seq))  # fmt: skip
                p.say("tool", f"{name}({json.dumps(args)}) -> {reply.output}")
                for d in reply.directives:
                    if isinstance(d, ReadBack):
                        spoken = MISREAD if not misread_done else d.text
                        misread_done = True
                        while True:
                            turn("agent", spoken)
                            check = policy.handle(VerifyReadback(call_id=call_id, field=d.field, transcript=spoken))
                            p.say("policy", f"read-back {check.verdict}")
                            retry = next((x for x in check.directives if isinstance(x, ReadBack)), None)
                            if retry is None:
                                break
                            spoken = retry.text
                    elif isinstance(d, PlayClosing):
                        turn("agent", d.text)  # the teardown timer runs; the call is CLOSING until it ends
        policy.handle(ClosingPlayed(call_id=call_id))  # teardown over: CLOSING -> ENDED, hang up
        meta = store.get_call(call_id)
        assert meta is not None
        record = build_record(spec, meta, store.get_fields(call_id))
        _report(record.model_dump(), collected.lines)
        archive = ArchiveStore(stack.client("s3"), LOCAL_BUCKET)
        keys = [
            archive.put_transcript(call_id, meta.started_ms, store.turns(call_id)),
            archive.put_record(call_id, meta.started_ms, record.model_dump()),
            archive.put_decisions(call_id, meta.started_ms, collected.lines),
        ]
        folder = Path(out_dir) / call_id
        folder.mkdir(parents=True, exist_ok=True)
        for key in keys:
            (folder / Path(key).name.replace(call_id, key.split("/")[0])).write_text(archive.get_text(key))
        print(f"\nWritten to the local S3 archive (s3://{LOCAL_BUCKET}/...) and copied to {folder}/:")
        for key in keys:
            print(f"  {key}")
        closings = sum(1 for line in collected.lines if line.decision == "end_call_gate" and line.state_to == "CLOSING"
                       and line.state_from == "ACTIVE")  # fmt: skip
        print(f"\nClosings played: {closings}. Ended by: {meta.ended_by}. Missing required: "
              f"{record.missing_required or 'none'}.")  # fmt: skip
        print("This was the text slice: scripted model, real tools/gate/stores. No audio or SIP yet.")
        return 0 if closings == 1 and not record.missing_required else 1
    finally:
        stack.stop()


def _report(record: dict[str, object], decisions: list[DecisionLine]) -> None:
    print("\nRecord (value, source, quote per field):")
    fields = record["fields"]
    assert isinstance(fields, dict)
    for name, f in fields.items():
        shown = f["value"] if f["status"] == "value" else f"declined: “{f['quote']}”" if f["quote"] else "—"
        print(f"  {name:<22} {shown!s:<40} {f['source'] or '':<8}")
    print(f"  {'category':<22} {record['category']}")
    print(f"  {'provider':<22} {record['provider']}")
    print("\nDecisions (one JSON line each; values masked):")
    for line in decisions:
        print("  " + line.to_json())
