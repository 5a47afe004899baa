"""The bridge's model session: a narrow connect / send / events / close interface over
the OpenAI Realtime GA websocket, with every received event decoded strictly."""

from realtime_bridge.realtime.client import OpenAIRealtimeClient, RealtimeClient
from realtime_bridge.realtime.events import decode_server_event, encode_client_event

__all__ = ["OpenAIRealtimeClient", "RealtimeClient", "decode_server_event", "encode_client_event"]
