"""Nothing lost: the bridge is killed mid-call (SIGKILL, no chance to flush). Every turn before
the one in flight is already in the store, and the call is findable as lost, so the reaper can
finish it. AWS state lives in a separate moto server process, as DynamoDB outlives a container."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from simulator.caller import SimulatedCaller
from simulator.caller_result import CallerEvent
from simulator.local_stack import LOCAL_BUCKET, LOCAL_BUS, attach_local_stack
from simulator.scenario import load_scenario
from voice_agent.archive_store import ArchiveStore
from voice_agent.decisions import DecisionLog, ListSink
from voice_agent.event_bus import BusPublisher
from voice_agent.reaper import Reaper
from voice_agent.record_store import RecordStore

from ..conftest import ROOT

SCENARIO = ROOT / "scenarios" / "riverside_happy_path.yaml"


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not come up")


@pytest.fixture
def moto_process() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/moto-api/")
        yield url
    finally:
        proc.kill()
        proc.wait()


def test_sigkill_mid_call_keeps_every_finished_turn_and_leaves_the_call_findable(moto_process: str) -> None:
    sip_port, health_port = _free_port(socket.SOCK_DGRAM), _free_port()
    bridge = subprocess.Popen(
        [sys.executable, "-m", "voice_agent_cli", "serve", "--local", "--scenario", str(SCENARIO),
         "--aws-endpoint", moto_process, "--sip-port", str(sip_port), "--health-port", str(health_port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        try:
            _wait_http(f"http://127.0.0.1:{health_port}/health", timeout=60)
        except TimeoutError:
            bridge.kill()
            raise AssertionError(f"the bridge did not start:\n{bridge.communicate()[1][-2000:]}") from None
        spoken: list[str] = []
        scenario = load_scenario(SCENARIO)

        def on_event(event: CallerEvent) -> None:
            if event.kind == "caller_turn_start" and event.turn is not None:
                if event.turn == 3:  # the fourth turn is in flight: kill the bridge now
                    os.kill(bridge.pid, signal.SIGKILL)
                else:
                    spoken.append(scenario.caller.turns[event.turn].say or "")

        async def call() -> None:
            caller = SimulatedCaller(scenario, "127.0.0.1", sip_port, on_event=on_event)
            task = asyncio.create_task(caller.run())
            while bridge.poll() is None and not task.done():
                await asyncio.sleep(0.1)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        asyncio.run(call())
        assert bridge.wait(timeout=10) == -signal.SIGKILL
        assert len(spoken) == 3
    finally:
        if bridge.poll() is None:
            bridge.kill()
            bridge.wait()

    stack = attach_local_stack(moto_process)
    store = RecordStore(stack.table)
    [meta] = store.scan_calls()
    turns = store.turns(meta.call_id)
    caller_said = [t.text for t in turns if t.speaker == "caller"]
    assert caller_said == spoken, "every finished caller turn is in the store, in order"
    agent_said = [t.text for t in turns if t.speaker == "agent"]
    assert agent_said[0].startswith("Thanks for calling Riverside Family Clinic")
    assert len(agent_said) >= 3  # the greeting and the answers to the finished turns
    assert [t.seq for t in turns] == sorted(t.seq for t in turns)

    # Findable as lost: still live in the store, its heartbeat about to go stale.
    assert meta.status == "ACTIVE"
    now_ms = int(time.time() * 1000)
    assert meta.call_id in [m.call_id for m in store.stale_live_calls(now_ms + 60_000)]
    reaper = Reaper(
        store=store,
        log=DecisionLog(ListSink()),
        archive=ArchiveStore(stack.client("s3"), LOCAL_BUCKET),
        bus=BusPublisher(stack.client("events"), LOCAL_BUS),
        clock_ms=lambda: now_ms + 120_000,
    )
    assert reaper.sweep() == [meta.call_id]
    ended = store.get_call(meta.call_id)
    assert ended is not None and (ended.status, ended.ended_reason) == ("ENDED", "bridge_lost")
