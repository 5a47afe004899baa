"""The per-call record in DynamoDB: metadata and gate state, fields, transcript turns, decisions.

One table, partition `call_id`, sort key `sk`:
  META              status, gate state and version, language, category, provider, liveness
  FIELD#<name>      value or refusal, source live|backfill, quote, turn, time
  CANDIDATE#<name>  a post-call value the quote could not prove (office to confirm); never a value
  TURN#<seq:06d>    one transcript turn, written as it happens
  DECISION#<ts>#<n> one decision line, so a call's decisions can be collected for S3
Conditional writes make the few races safe: the gate's CLOSING transition and backfill-only writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from .decisions import DecisionLine

GateState = Literal["ACTIVE", "CLOSING", "ENDED"]
ReconcileState = Literal["running", "reconciled", "failed"]
LIVE_INDEX = "live-calls"
AGENT_INDEX = "agent-calls"  # partition agent, sort started_ms: META items only (nothing else has both)
BATCH_WRITE_LIMIT = 25  # DynamoDB's BatchWriteItem maximum
TTL_DAYS = 90

# The table's shape, shared by local provisioning and documented for the CDK stack.
TABLE_DEFINITION: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "call_id", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    "AttributeDefinitions": [
        {"AttributeName": "call_id", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
        {"AttributeName": "live", "AttributeType": "S"},
        {"AttributeName": "heartbeat_ms", "AttributeType": "N"},
        {"AttributeName": "agent", "AttributeType": "S"},
        {"AttributeName": "started_ms", "AttributeType": "N"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": LIVE_INDEX,
            "KeySchema": [
                {"AttributeName": "live", "KeyType": "HASH"},
                {"AttributeName": "heartbeat_ms", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            "IndexName": AGENT_INDEX,
            "KeySchema": [
                {"AttributeName": "agent", "KeyType": "HASH"},
                {"AttributeName": "started_ms", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CallMeta(_Item):
    call_id: str
    agent: str
    started_ms: int
    spec_version: str | None = None  # the agent spec version the call runs with (agent_registry)
    status: GateState = "ACTIVE"
    gate_version: int = 0
    closings: int = 0
    language: str | None = None
    category: str | None = None
    provider: str | None = None
    heartbeat_ms: int | None = None
    idle_prompts_played: int = 0
    caller_silent_ms: int = 0
    ended_by: str | None = None
    ended_reason: str | None = None
    ended_ms: int | None = None
    cost_usd: float | None = None  # cost["total_usd"]: kept on its own for the audit queries
    cost: dict[str, Any] | None = None  # cost.CostBreakdown: the parts and the prices' date
    usage: dict[str, int] | None = None  # cost.Usage
    # The post-call pass's marker (claim_reconcile/finish_reconcile).
    reconcile_state: ReconcileState | None = None
    reconcile_pass: int | None = None
    reconcile_attempts: int = 0
    reconcile_error: str | None = None
    reconciled_ms: int | None = None


class FieldValue(_Item):
    name: str
    status: Literal["value", "declined"]
    value: str | None = None
    quote: str | None = None
    source: Literal["live", "backfill"] = "live"
    turn_seq: int | None = None
    recorded_ms: int
    corrections: int = 0
    readback_attempts: int = 0
    readback_verdict: str | None = None
    # Backfills only: the evidence rule that accepted the value (extractive, caller_wording, summary,
    # structure). caller_wording: the value is the caller's own words, not the extractor's.
    evidence: str | None = None


class Candidate(_Item):
    """A value the post-call pass found in the caller's words but could not prove by structure (a
    date or number said in words). Kept apart from FIELD# items, so nothing counts it as a value."""

    name: str
    value: str
    quote: str
    turn_seq: int
    reason: str
    numerals: str | None = None  # the extractor's reading of the quote's numbers: shown, never trusted
    recorded_ms: int


class Turn(_Item):
    call_id: str
    seq: int
    t_ms: int
    speaker: Literal["caller", "agent", "system"]
    text: str
    item_id: str | None = None
    interrupted: bool = False
    heard_ms: int | None = None
    untranscribed: bool = False  # a caller turn whose words were lost (transcription failed or empty)


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the models want ints."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def all_pages(request: Callable[..., dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a Query or Scan, page after page."""
    items: list[dict[str, Any]] = []
    while True:
        page = request(**kwargs)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _conditional_failed(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _expires_at(now_ms: int) -> int:
    return now_ms // 1000 + TTL_DAYS * 86400


class RecordStore:
    """All reads and writes of the calls table. `table` is a boto3 DynamoDB Table resource."""

    def __init__(self, table: Any) -> None:
        self._table = table

    # --- call metadata and gate -------------------------------------------------------
    def create_call(
        self, call_id: str, agent: str, started_ms: int, language: str, spec_version: str | None = None
    ) -> CallMeta:
        meta = CallMeta(
            call_id=call_id,
            agent=agent,
            spec_version=spec_version,
            started_ms=started_ms,
            language=language,
            heartbeat_ms=started_ms,
        )
        item = meta.model_dump(exclude_none=True) | {
            "sk": "META",
            "live": "1",
            "expires_at": _expires_at(started_ms),
        }
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(call_id)")
        except ClientError as err:
            if not _conditional_failed(err):
                raise
            existing = self.get_call(call_id)
            assert existing is not None
            return existing  # a retried start is idempotent
        return meta

    def get_call(self, call_id: str) -> CallMeta | None:
        item = self._table.get_item(Key={"call_id": call_id, "sk": "META"}, ConsistentRead=True).get("Item")
        return CallMeta.model_validate(_plain(item)) if item else None

    def transition_gate(self, call_id: str, expected_version: int, to_state: GateState, **attrs: Any) -> bool:
        """Move the gate if nobody moved it since `expected_version` was read. False if someone did."""
        names = {"#s": "status", "#v": "gate_version"}
        values: dict[str, Any] = {":to": to_state, ":v": expected_version, ":one": 1}
        sets = ["#s = :to", "#v = #v + :one"]
        for i, (key, val) in enumerate(attrs.items()):
            names[f"#a{i}"] = key
            values[f":a{i}"] = val
            sets.append(f"#a{i} = :a{i}")
        update = "SET " + ", ".join(sets)
        if to_state == "ENDED":
            update += " REMOVE #live"  # leaves the live-calls index: the reaper stops looking
            names["#live"] = "live"
        return self._update_meta_if(call_id, update, "#v = :v", names, values)

    def set_meta(self, call_id: str, **attrs: Any) -> None:
        names = {f"#a{i}": k for i, k in enumerate(attrs)}
        values = {f":a{i}": v for i, v in enumerate(attrs.values())}
        self._table.update_item(
            Key={"call_id": call_id, "sk": "META"},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(attrs))),
            ConditionExpression="attribute_exists(call_id)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def heartbeat(self, call_id: str, now_ms: int | None = None) -> None:
        self.set_meta(call_id, heartbeat_ms=now_ms if now_ms is not None else int(time.time() * 1000))

    def stale_live_calls(self, older_than_ms: int) -> list[CallMeta]:
        """Calls still marked live whose last heartbeat is older than `older_than_ms`."""
        items = all_pages(
            self._table.query,
            IndexName=LIVE_INDEX,
            KeyConditionExpression="#l = :one AND heartbeat_ms < :t",
            ExpressionAttributeNames={"#l": "live"},
            ExpressionAttributeValues={":one": "1", ":t": older_than_ms},
        )
        return [CallMeta.model_validate(_plain(i)) for i in items]

    def agent_calls(self, agent: str, since_ms: int = 0) -> list[CallMeta]:
        """One agent's calls, newest first: a Query on the index partitioned by agent, so no other
        agent's call can be in the answer."""
        items = all_pages(
            self._table.query,
            IndexName=AGENT_INDEX,
            KeyConditionExpression="agent = :a AND started_ms >= :t",
            ExpressionAttributeValues={":a": agent, ":t": since_ms},
            ScanIndexForward=False,
        )
        return [CallMeta.model_validate(_plain(i)) for i in items]

    def scan_calls(self) -> list[CallMeta]:
        """Every call's metadata (a Scan: for the operator's `calls list`, never on a call path)."""
        items = all_pages(self._table.scan, FilterExpression="sk = :m", ExpressionAttributeValues={":m": "META"})
        return [CallMeta.model_validate(_plain(i)) for i in items]

    # --- post-call reconciliation marker --------------------------------------------
    def claim_reconcile(self, call_id: str, token: str, now_ms: int, lease_until_ms: int, pass_version: int) -> bool:
        """Take the call's post-call pass: only if no pass of this version finished it, none failed
        holding it, and nobody holds an unexpired lease. Exactly one of concurrent claims wins."""
        return self._update_meta_if(
            call_id,
            "SET #st = :running, #tok = :tok, #lease = :lease, #pass = :pass ADD #att :one REMOVE #err",
            "attribute_exists(call_id) AND (attribute_not_exists(#st) OR #st = :failed "
            "OR (#st = :running AND #lease < :now) OR (#st = :done AND #pass < :pass))",
            {
                "#st": "reconcile_state",
                "#tok": "reconcile_token",
                "#lease": "reconcile_lease_ms",
                "#pass": "reconcile_pass",
                "#att": "reconcile_attempts",
                "#err": "reconcile_error",
            },
            {
                ":running": "running",
                ":failed": "failed",
                ":done": "reconciled",
                ":tok": token,
                ":lease": lease_until_ms,
                ":pass": pass_version,
                ":now": now_ms,
                ":one": 1,
            },
        )

    def finish_reconcile(self, call_id: str, token: str, state: ReconcileState, **attrs: Any) -> bool:
        """Record the pass's outcome, only if this pass (`token`) still holds the claim."""
        names = {"#st": "reconcile_state", "#tok": "reconcile_token", "#lease": "reconcile_lease_ms"}
        values: dict[str, Any] = {":st": state, ":tok": token}
        sets = ["#st = :st"]
        for i, (key, val) in enumerate(attrs.items()):
            names[f"#a{i}"], values[f":a{i}"] = key, val
            sets.append(f"#a{i} = :a{i}")
        return self._update_meta_if(call_id, "SET " + ", ".join(sets) + " REMOVE #lease", "#tok = :tok", names, values)

    def _update_meta_if(
        self, call_id: str, update: str, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> bool:
        """One conditional update of the call's META item; False when the condition did not hold."""
        try:
            self._table.update_item(
                Key={"call_id": call_id, "sk": "META"},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as err:
            if _conditional_failed(err):
                return False
            raise
        return True

    # --- fields ---------------------------------------------------------------------
    def put_field(self, call_id: str, field: FieldValue, *, only_if_empty: bool = False) -> bool:
        """Write a field. With only_if_empty (backfill), never replaces an existing value."""
        item = {"call_id": call_id, "sk": f"FIELD#{field.name}"} | field.model_dump(exclude_none=True)
        try:
            self._table.put_item(
                Item=item,
                **({"ConditionExpression": "attribute_not_exists(sk)"} if only_if_empty else {}),
            )
        except ClientError as err:
            if only_if_empty and _conditional_failed(err):
                return False
            raise
        return True

    def get_fields(self, call_id: str) -> dict[str, FieldValue]:
        items = self._query_prefix(call_id, "FIELD#")
        return {i["name"]: FieldValue.model_validate(_plain(i)) for i in items}

    def put_candidate(self, call_id: str, candidate: Candidate) -> None:
        item = {"call_id": call_id, "sk": f"CANDIDATE#{candidate.name}"} | candidate.model_dump(exclude_none=True)
        self._table.put_item(Item=item)

    def get_candidates(self, call_id: str) -> dict[str, Candidate]:
        return {i["name"]: Candidate.model_validate(_plain(i)) for i in self._query_prefix(call_id, "CANDIDATE#")}

    def count_readback(self, call_id: str, field: str, verdict: str) -> int:
        """Atomically count a read-back attempt on a stored field; returns the attempt number."""
        res = self._table.update_item(
            Key={"call_id": call_id, "sk": f"FIELD#{field}"},
            UpdateExpression="ADD readback_attempts :one SET readback_verdict = :v",
            ConditionExpression="attribute_exists(sk)",
            ExpressionAttributeValues={":one": 1, ":v": verdict},
            ReturnValues="UPDATED_NEW",
        )
        return int(res["Attributes"]["readback_attempts"])

    # --- transcript turns and decisions ---------------------------------------------
    def append_turn(self, turn: Turn) -> None:
        self._table.put_item(Item=self.turn_item(turn))

    @staticmethod
    def turn_item(turn: Turn) -> dict[str, Any]:
        return turn.model_dump(exclude_none=True) | {"sk": f"TURN#{turn.seq:06d}"}

    def turns(self, call_id: str) -> list[Turn]:
        return [Turn.model_validate(_plain(i)) for i in self._query_prefix(call_id, "TURN#")]

    def append_decision(self, line: DecisionLine) -> None:
        self._table.put_item(Item=self.decision_item(line))

    @staticmethod
    def decision_item(line: DecisionLine) -> dict[str, Any]:
        sk = f"DECISION#{int(line.ts * 1000):013d}#{time.monotonic_ns() % 10**9:09d}"
        return {"call_id": line.call_id, "sk": sk, "line": line.to_json()}

    def decisions(self, call_id: str) -> list[DecisionLine]:
        return [DecisionLine.model_validate_json(i["line"]) for i in self._query_prefix(call_id, "DECISION#")]

    def _query_prefix(self, call_id: str, prefix: str) -> list[dict[str, Any]]:
        return all_pages(
            self._table.query,
            KeyConditionExpression="call_id = :c AND begins_with(sk, :p)",
            ExpressionAttributeValues={":c": call_id, ":p": prefix},
            ConsistentRead=True,
        )
