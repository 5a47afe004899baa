"""The null relay: SIP answer + RTP <-> realtime websocket and back, nothing else.

The yardstick `bench/bridge_load.py` measures the bridge against, in the same run and under the
same load: the bridge's own SIP server and RTP session (so the SIP/RTP core is common to both),
caller frames forwarded as `input_audio_buffer.append`, audio deltas played out, and a tool call
answered at once with an empty output so the model does not stall. No records, no policy, no
validation, no tools, no journal.

    python bench/null_relay.py --model-url http://127.0.0.1:PORT/v1   # prints "READY <sip port>"
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import signal
import sys
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from realtime_bridge.event_loop import LOOPS, run
from realtime_bridge.realtime.events import audio_append_json
from realtime_bridge.rtp.session import AudioFrame, RtpSession
from realtime_bridge.sip.config import SipConfig
from realtime_bridge.sip.events import CallInfo, EndReason
from realtime_bridge.sip.server import Accept, Decision, SipServer

log = logging.getLogger("null_relay")
DELTA = '"type":"response.output_audio.delta"'
TOOL = '"type":"response.function_call_arguments.done"'


class NullRelay:
    """The SIP server's CallHandler: one websocket per answered call."""

    def __init__(self, model_url: str) -> None:
        self.ws_url = model_url.replace("http", "ws", 1).rstrip("/") + "/realtime?model=gpt-realtime"
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}

    async def on_offer(self, call: CallInfo) -> Decision:
        return Accept()

    async def on_answered(self, call: CallInfo, media: RtpSession) -> None:
        headers = {"Authorization": "Bearer sk-local-null-relay"}
        async with connect(self.ws_url, additional_headers=headers, max_size=None, compression=None) as ws:
            tasks = [asyncio.create_task(_uplink(media, ws)), asyncio.create_task(_downlink(media, ws))]
            self._tasks[call.call_id] = tasks
            await asyncio.gather(*tasks, return_exceptions=True)

    async def on_ended(self, call: CallInfo, reason: EndReason) -> None:
        for task in self._tasks.pop(call.call_id, []):
            task.cancel()


async def _uplink(media: RtpSession, ws: ClientConnection) -> None:
    async for event in media.inbound():
        if isinstance(event, AudioFrame):
            await ws.send(audio_append_json(event.payload))


async def _downlink(media: RtpSession, ws: ClientConnection) -> None:
    try:
        async for raw in ws:
            text = raw if isinstance(raw, str) else raw.decode()
            if DELTA in text:
                event: dict[str, Any] = json.loads(text)
                media.send_audio(event["item_id"], base64.b64decode(event["delta"]))
            elif TOOL in text:
                call_id = json.loads(text)["call_id"]
                item = {"type": "function_call_output", "call_id": call_id, "output": "{}"}
                await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
                await ws.send('{"type":"response.create"}')
    except ConnectionClosed:
        pass


async def main_async(model_url: str, sip_port: int) -> None:
    config = SipConfig(bind_host="127.0.0.1", sip_port=sip_port, transports=("udp", "tcp"), max_calls=10_000)
    sip = SipServer(config, NullRelay(model_url), public_ip="127.0.0.1")
    await sip.start()
    print(f"READY {sip.sip_port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sip.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-url", required=True, help="the model's base URL (its /realtime websocket)")
    parser.add_argument("--sip-port", type=int, default=0)
    parser.add_argument("--event-loop", choices=LOOPS, default=LOOPS[0], help="the same loop the bridge runs on")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    run(main_async(args.model_url, args.sip_port), args.event_loop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
