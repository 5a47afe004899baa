"""A fake realtime model for the load benches: timestamps what it hears, answers on a schedule.

Speaks the GA event shapes the bridge needs (every shape checked once at start-up against the
openai SDK types, strictly, as the simulator does). The caller's audio carries tags (see
`load_harness.Tag`): the first tagged `input_audio_buffer.append` of a burst is the ingress
timestamp, the kernel's stamp of its arrival (`stamped_ws`: not this process's queue); the first
untagged one after it ends the burst (speech_stopped, committed, a
transcript), and after a jittered delay the model answers with tagged loud audio, timestamping
its first delta (egress starts there). Every `tool_every`-th burst is answered with a function
call instead; the time until the bridge sends its `function_call_output` is the tool round trip.
Post-call chat completions are the simulator's own HTTP API on the same port.

    python bench/fake_model.py --out stats.json   # prints "READY <port>"; SIGTERM writes stats
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from load_harness import KIND_ANSWER, KIND_BURST, KIND_OTHER, KIND_TOOL_ANSWER, FakeModelStats, Tag
from stamped_ws import StampedConnection, serve_stamped

from simulator.http_api import FrontDoor, HttpApi
from simulator.server import SimulatorConfig
from simulator.session_config import default_session, merge_update
from simulator.wire import check_server_event

TOOL_NAME, TOOL_ARGUMENTS = "categorize_call", '{"category":"appointment"}'  # a tool every spec has
ANSWER_MS = 600  # audio per answer; sent at once, as the service streams faster than real time
DELTA_MS = 200


@dataclass
class Session:
    connection: StampedConnection
    model: str
    n: int
    session: dict[str, Any]
    call_no: int | None = None
    in_burst: bool = False
    burst_seq: int = -1
    burst_item: str = ""  # one conversation item per burst, as the service does
    appends: int = 0
    events: int = 0
    pending_tool: dict[str, int] = field(default_factory=dict)  # call_id -> ns arguments.done was sent
    after_tool: bool = False
    tools_done: int = 0
    responses: int = 0


class FakeModel:
    def __init__(self, seed: int, delay_ms: tuple[float, float], tool_every: int) -> None:
        self.rng = random.Random(seed)
        self.delay_ms = delay_ms
        self.tool_every = tool_every
        self.stats = FakeModelStats()
        self.sessions = 0
        self.live: dict[int, Session] = {}  # open sessions by number
        self._ids = 0
        self._checked: set[str] = set()

    # ---- events ------------------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}_{self._ids:012d}"

    def _wire(self, event: dict[str, Any]) -> str:
        event = {"type": event["type"], "event_id": self._id("event"), **event}
        if event["type"] not in self._checked:  # once per shape: the fake must stay cheap under load
            check_server_event(json.loads(json.dumps(event)))
            self._checked.add(event["type"])
        return json.dumps(event, separators=(",", ":"))

    def _send(self, s: Session, *events: dict[str, Any]) -> None:
        for event in events:
            s.connection.send(self._wire(event))

    def _response(self, rid: str, status: str, output: list[dict[str, Any]], metadata: Any) -> dict[str, Any]:
        return {
            "object": "realtime.response",
            "id": rid,
            "status": status,
            "status_details": None,
            "output": output,
            "conversation_id": "conv_bench",
            "output_modalities": ["audio"],
            "max_output_tokens": "inf",
            "audio": {"output": {"format": {"type": "audio/pcmu"}, "voice": "alloy"}},
            "usage": None,
            "metadata": metadata,
        }

    def _answer_audio(self, s: Session, kind: int, seq: int, metadata: Any = None) -> None:
        rid, item_id = self._id("resp"), self._id("item")
        s.responses += 1
        tag = Tag(kind, s.call_no if s.call_no is not None else 0xFFFF, seq & 0xFFFF)
        audio = tag.frame() * (ANSWER_MS // 20)
        item = {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
        self._send(
            s,
            {"type": "response.created", "response": self._response(rid, "in_progress", [], metadata)},
            {"type": "response.output_item.added", "response_id": rid, "output_index": 0, "item": item},
        )
        ids = {"response_id": rid, "item_id": item_id, "output_index": 0, "content_index": 0}
        step = DELTA_MS * 8
        for i in range(0, len(audio), step):
            delta = base64.b64encode(audio[i : i + step]).decode("ascii")
            if i == 0 and kind == KIND_ANSWER and s.call_no is not None:
                self.stats.egress_sent_ns[f"{s.call_no}:{seq}"] = time.time_ns()
            self._send(s, {"type": "response.output_audio.delta", **ids, "delta": delta})
        text = f"answer {seq}"
        done = {**item, "status": "completed", "content": [{"type": "output_audio", "transcript": text}]}
        self._send(
            s,
            {"type": "response.output_audio.done", **ids},
            {"type": "response.output_audio_transcript.done", **ids, "transcript": text},
            {"type": "response.output_item.done", "response_id": rid, "output_index": 0, "item": done},
            {"type": "response.done", "response": self._response(rid, "completed", [done], metadata)},
        )

    def _call_tool(self, s: Session) -> None:
        rid, item_id, call_id = self._id("resp"), self._id("item"), self._id("call")
        item = {
            "id": item_id, "type": "function_call", "status": "completed", "name": TOOL_NAME,
            "call_id": call_id, "arguments": TOOL_ARGUMENTS,
        }  # fmt: skip
        self._send(
            s,
            {"type": "response.created", "response": self._response(rid, "in_progress", [], None)},
            {"type": "response.output_item.added", "response_id": rid, "output_index": 0, "item": item},
        )
        s.pending_tool[call_id] = time.time_ns()
        self._send(
            s,
            {
                "type": "response.function_call_arguments.done",
                "response_id": rid,
                "item_id": item_id,
                "output_index": 0,
                "call_id": call_id,
                "name": TOOL_NAME,
                "arguments": TOOL_ARGUMENTS,
            },
            {"type": "response.output_item.done", "response_id": rid, "output_index": 0, "item": item},
            {"type": "response.done", "response": self._response(rid, "completed", [item], None)},
        )

    def _answer_burst(self, s: Session, seq: int) -> None:
        if self.tool_every and seq % self.tool_every == self.tool_every - 1:
            self._call_tool(s)
        else:
            self._answer_audio(s, KIND_ANSWER, seq)

    # ---- the caller's audio ----------------------------------------------------------------
    def _append(self, s: Session, audio_b64: str, now_ns: int) -> None:
        s.appends += 1
        tag = Tag.find(base64.b64decode(audio_b64))
        if tag is not None and tag.kind == KIND_BURST:
            if s.call_no is None:
                s.call_no = tag.call_no
            if not s.in_burst:
                s.in_burst, s.burst_seq, s.burst_item = True, tag.seq, self._id("item")
                self.stats.ingress_ns.setdefault(f"{tag.call_no}:{tag.seq}", now_ns)
                self._send(
                    s, {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": s.burst_item}
                )
            return
        if s.in_burst:
            s.in_burst = False
            item_id = s.burst_item
            self._send(
                s,
                {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 0, "item_id": item_id},
                {"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": item_id},
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": f"burst {s.burst_seq}",
                    "usage": {"type": "duration", "seconds": 1},
                },
            )
            delay = self.rng.uniform(*self.delay_ms) / 1000
            asyncio.get_running_loop().call_later(delay, self._answer_burst, s, s.burst_seq)

    def _on_message(self, s: Session, raw: str, now_ns: int) -> None:
        """`now_ns`: the kernel's arrival stamp of the message's last byte (see stamped_ws)."""
        s.events += 1
        if isinstance(raw, str) and raw.startswith('{"type":"input_audio_buffer.append"'):
            self._append(s, json.loads(raw)["audio"], now_ns)  # the hot path: no validation
            return
        data = json.loads(raw)
        kind = data.get("type")
        if kind == "input_audio_buffer.append":
            self._append(s, data["audio"], now_ns)
        elif kind == "session.update":
            s.session = merge_update(s.session, data.get("session") or {})
            self._send(s, {"type": "session.updated", "session": s.session})
        elif kind == "conversation.item.create" and (data.get("item") or {}).get("type") == "function_call_output":
            sent = s.pending_tool.pop(data["item"].get("call_id"), None)
            if sent is not None:
                (self.stats.tool_cold_ms if s.tools_done == 0 else self.stats.tool_warm_ms).append(
                    (now_ns - sent) / 1e6
                )
                s.tools_done += 1
                s.after_tool = True
        elif kind == "response.create":
            metadata = (data.get("response") or {}).get("metadata")
            after_tool, s.after_tool = s.after_tool, False
            self._answer_audio(s, KIND_TOOL_ANSWER if after_tool else KIND_OTHER, s.responses, metadata)

    def open_session(self, connection: StampedConnection) -> None:
        request = connection.request
        model = (parse_qs(urlsplit(request.path).query if request else "").get("model") or ["gpt-realtime"])[0]
        self.sessions += 1
        session = default_session(self._id("sess"), model, int(time.time()) + 3600)
        s = Session(connection, model, self.sessions, session)
        self.live[id(connection)] = s
        self._send(s, {"type": "session.created", "session": session})

    def on_message(self, connection: StampedConnection, raw: str, arrived_ns: int) -> None:
        s = self.live.get(id(connection))
        if s is not None:
            self._on_message(s, raw, arrived_ns)

    def close_session(self, connection: StampedConnection) -> None:
        s = self.live.pop(id(connection), None)
        if s is not None:
            self.count_appends(s)

    def count_appends(self, s: Session) -> None:
        if s.call_no is not None:
            self.stats.appends[str(s.call_no)] = self.stats.appends.get(str(s.call_no), 0) + s.appends


async def main_async(args: argparse.Namespace) -> None:
    fake = FakeModel(args.seed, (args.delay_min_ms, args.delay_max_ms), args.tool_every)
    front = FrontDoor(HttpApi(SimulatorConfig()), "127.0.0.1", 0)  # post-call: the simulator's own

    def connection(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> StampedConnection:
        return StampedConnection(loop, sock, fake.open_session, fake.on_message, fake.close_session)

    listener, accepting = await serve_stamped("127.0.0.1", args.port, connection, front.handle)
    print(f"READY {listener.getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    fake.stats.sessions = fake.sessions
    for session in list(fake.live.values()):  # still open at the end (a bridge still draining): counted too
        fake.count_appends(session)
    Path(args.out).write_text(fake.stats.model_dump_json())
    accepting.cancel()
    listener.close()
    front.close_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", required=True, help="where SIGTERM writes the timestamps (JSON)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--delay-min-ms", type=float, default=150.0, help="the model's own answer delay, low end")
    parser.add_argument("--delay-max-ms", type=float, default=350.0, help="the model's own answer delay, high end")
    parser.add_argument("--tool-every", type=int, default=3, help="every Nth burst is answered with a tool call")
    asyncio.run(main_async(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
