"""Drive one RealtimeSession sans-I/O on a fake clock: what a client sees, and when.

The websocket server does exactly this with a real clock; here time only moves when a test
says so, so event orders and times are exact. Every event in and out is checked against the
SDK types, as on the wire.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from simulator import mulaw, speech
from simulator.realtime_session import Close, RealtimeSession
from simulator.scenario import Scenario, parse_scenario
from simulator.scripted_model import ScriptedModel
from simulator.wire import check_client_event, check_server_event
from tests.simulator.sim_helpers import RIVERSIDE_TOOLS, SCENARIOS, phone_session

Event = dict[str, Any]
FRAME_MS = 20


def scenario_of(turns: list[dict[str, Any]], **model: Any) -> Scenario:
    data = {"agent": "../agents/riverside_clinic.yaml", "seed": 3, "caller": {"turns": turns}, "model": model}
    return parse_scenario(data, SCENARIOS)


@dataclass(frozen=True)
class Seen:
    at_ms: float
    event: Event

    @property
    def type(self) -> str:
        return str(self.event["type"])


class Driver:
    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        speed: float = 4.0,
        first_audio_ms: int = 0,
        drop_after_s: float | None = None,
        next_response_index: Any = None,
    ) -> None:
        self.now = 0.0
        self.session = RealtimeSession(
            model=ScriptedModel(scenario, seed=scenario.seed if scenario else 0),
            seed=11,
            model_name="gpt-realtime",
            now_ms=self.now,
            epoch_s=1_800_000_000,
            render=lambda text, language: speech.synthesize(text, "synthetic", language),
            speed=speed,
            first_audio_ms=first_audio_ms,
            drop_after_s=drop_after_s,
            next_response_index=next_response_index,
        )
        self.seen: list[Seen] = []
        self.close: Close | None = None
        self._take(self.session.open())

    # -- the client side ---------------------------------------------------------------
    def send(self, event: Event) -> None:
        check_client_event(event)
        self._take(self.session.receive(json.dumps(event), self.now))

    def configure(self, **vad: Any) -> None:
        session = phone_session(RIVERSIDE_TOOLS, silence_ms=500, **vad)
        self.send({"type": "session.update", "event_id": "evt_update", "session": session})

    def say_exactly(self, text: str, event_id: str = "evt_exact", **response: Any) -> None:
        self.send(
            {
                "type": "response.create",
                "event_id": event_id,
                "response": {"instructions": f"Say exactly: {text}", **response},
            }
        )

    def wait(self, ms: float) -> None:
        """Let time pass, polling at every deadline the session names (as the server does)."""
        end = self.now + ms
        while self.close is None:
            deadline = self.session.next_deadline_ms()
            if deadline > end:
                break
            self.now = max(self.now, deadline)
            self._take(self.session.poll(self.now))
        self.now = end

    def stream(self, audio: bytes) -> None:
        """Caller audio in real time, one 20 ms frame at a time (the line never goes quiet)."""
        step = FRAME_MS * mulaw.BYTES_PER_MS
        for start in range(0, len(audio), step):
            if self.close is not None:
                return
            chunk = base64.b64encode(audio[start : start + step]).decode()
            self.send({"type": "input_audio_buffer.append", "audio": chunk})
            self.wait(FRAME_MS)

    def until_idle(self, limit_ms: float = 30_000) -> None:
        """Stream line silence until no response is in flight and nothing is scheduled soon."""
        waited = 0.0
        while self.close is None and waited < limit_ms:
            if self.session.idle:
                return
            self.stream(mulaw.silence(100))
            waited += 100
        assert self.close is not None or waited < limit_ms, "the session never went idle"

    # -- reading what the client saw -----------------------------------------------------
    def types(self) -> list[str]:
        return [s.type for s in self.seen]

    def of(self, kind: str) -> list[Event]:
        return [s.event for s in self.seen if s.type == kind]

    def at(self, kind: str, n: int = 0) -> float:
        return [s.at_ms for s in self.seen if s.type == kind][n]

    def index(self, kind: str, n: int = 0) -> int:
        return [i for i, s in enumerate(self.seen) if s.type == kind][n]

    def responses(self) -> list[Event]:
        return [e["response"] for e in self.of("response.done")]

    def _take(self, outs: list[Event | Close]) -> None:
        for out in outs:
            if isinstance(out, Close):
                self.close = out
            else:
                check_server_event(out)
                self.seen.append(Seen(self.now, out))


def output_kinds(response: Event) -> list[str]:
    return [item["type"] for item in response["output"]]


def spoken(response: Event) -> list[str]:
    return [part["transcript"] for item in response["output"] if item["type"] == "message" for part in item["content"]]


def call_names(response: Event) -> list[str]:
    return [item["name"] for item in response["output"] if item["type"] == "function_call"]


def answer_tools(driver: Driver, response: Event, output: str = "Recorded.") -> None:
    for item in response["output"]:
        if item["type"] == "function_call":
            driver.send(
                {
                    "type": "conversation.item.create",
                    "item": {"type": "function_call_output", "call_id": item["call_id"], "output": output},
                }
            )
