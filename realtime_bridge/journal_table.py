"""The two DynamoDB requests the journal writer makes, spoken directly: BatchWriteItem for turns and
decision lines, and the heartbeat's conditional UpdateItem.

The items are `RecordStore.turn_item`/`decision_item`, the library's format; only the transport is
the bridge's. Through boto3's resource a batch of 25 cost about 3 ms of CPU and a heartbeat 1.6 ms
(type conversion, a deep copy, validation, hooks, response parsing); signed JSON on a kept
connection costs about a quarter of that, on the writer's thread, which holds the GIL that much
less while the loop paces audio. DynamoDB's refusals come back as botocore's `ClientError` with
DynamoDB's error code, so the writer tells throttles from bad items exactly as it did with boto3.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from realtime_bridge.aws_http import BlockingSignedHttp, Response, endpoint_of, frozen_credentials
from voice_agent.record_store import BATCH_WRITE_LIMIT

Item = dict[str, Any]
_TARGET = "DynamoDB_20120810."
_SERIALIZER = TypeSerializer()


class JournalTable(Protocol):
    def put_batch(self, items: Sequence[Item]) -> list[Item]:
        """Up to 25 puts of distinct keys; returns those DynamoDB left unprocessed (throttled)."""
        ...

    def heartbeat(self, call_id: str, now_ms: int) -> None: ...


def attribute(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB AttributeValue: the journal's strings and integers directly,
    anything else as boto3 would write it."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is int:
        return {"N": str(value)}
    if kind is float:
        value = Decimal(str(value))
    serialized: dict[str, Any] = dict(_SERIALIZER.serialize(value))
    return serialized


class DynamoJournalTable:
    def __init__(self, http: BlockingSignedHttp, table_name: str) -> None:
        self._http, self.name = http, table_name

    def put_batch(self, items: Sequence[Item]) -> list[Item]:
        if not 0 < len(items) <= BATCH_WRITE_LIMIT:
            raise ValueError(f"a batch holds 1 to {BATCH_WRITE_LIMIT} items, got {len(items)}")
        by_key = {(i["call_id"], i["sk"]): i for i in items}
        puts = [{"PutRequest": {"Item": {k: attribute(v) for k, v in i.items()}}} for i in items]
        reply = self._call("BatchWriteItem", {"RequestItems": {self.name: puts}})
        left = reply.get("UnprocessedItems", {}).get(self.name, [])
        return [by_key[(r["PutRequest"]["Item"]["call_id"]["S"], r["PutRequest"]["Item"]["sk"]["S"])] for r in left]

    def heartbeat(self, call_id: str, now_ms: int) -> None:
        """The call's META gets `heartbeat_ms`, if the call has a record (never creates one)."""
        self._call(
            "UpdateItem",
            {
                "TableName": self.name,
                "Key": {"call_id": {"S": call_id}, "sk": {"S": "META"}},
                "UpdateExpression": "SET heartbeat_ms = :h",
                "ConditionExpression": "attribute_exists(call_id)",
                "ExpressionAttributeValues": {":h": {"N": str(now_ms)}},
            },
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(params, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": _TARGET + operation}
        response = self._http.request("POST", "/", body, headers)
        if response.status != 200:
            raise _client_error(response, operation)
        reply: dict[str, Any] = json.loads(response.body) if response.body else {}
        return reply


def _client_error(response: Response, operation: str) -> ClientError:
    """`ClientError` as botocore raises it: `com.amazonaws.dynamodb.v20120810#ThrottlingException` -> code
    `ThrottlingException`."""
    data: dict[str, Any] = {}
    with contextlib.suppress(ValueError):
        data = json.loads(response.body)
    code = str(data.get("__type") or f"HTTP{response.status}").rsplit("#", 1)[-1]
    message = str(data.get("message") or data.get("Message") or "")
    error = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": response.status}}
    return ClientError(error, operation)  # type: ignore[arg-type]


def journal_table(session: Any, table_name: str, endpoint_url: str | None = None) -> DynamoJournalTable:
    """The calls table for the journal writer, with the session's endpoint and credentials."""
    endpoint = endpoint_of(session, "dynamodb", endpoint_url)
    return DynamoJournalTable(BlockingSignedHttp(endpoint, "dynamodb", frozen_credentials(session)), table_name)
