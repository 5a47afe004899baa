"""The deployment's agents: every spec version ever pushed, which one is current, and the number plan.

A version is the spec's content hash (`spec.spec_version`), with an optional human label. Its exact
text is archived once, in the archive bucket (Object Lock like the rest), at
`agents/<agent>/<version>.yaml`, before anything points at it, so every record's `spec_version`
names a text an auditor can read. The pointers live in the calls table, apart from any call:

  call_id AGENT#<agent>   sk VERSION#<version>  one item per version pushed (first push time, label)
  call_id AGENT#<agent>   sk CURRENT            the version new calls get
  call_id NUMBER#<e164>   sk ROUTE              the dialled number's agent
  call_id NUMBER#default  sk ROUTE              the explicit default route (absent: unknown numbers get 404)

A push makes the new version current for calls that start after it; a call keeps the version it
started with (it is on its record), so tools, policy and the post-call pass load that one.

The version item also carries the text, so whoever runs a call (the bridge, the functions) reads
it with the one table read it makes anyway, and needs no S3 client or grant: the functions' cold
start skips building one (about 50 ms). Either copy is checked against the version, its hash.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .record_store import all_pages
from .spec import AgentSpec, SpecError, parse_spec_text, read_spec_text, spec_version

E164 = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$")]
AgentName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Label = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")]
DEFAULT_ROUTE = "default"
SPEC_CACHE_SIZE = 128  # versions held parsed per process (immutable: never stale)
MAX_SPEC_BYTES = 200_000  # the text rides on its version item (DynamoDB items stop at 400 KB)


class RegistryError(ValueError):
    """A push or lookup that cannot be done; str() is one line naming the problem."""


def agent_archive_key(agent: str, version: str) -> str:
    return f"agents/{agent}/{version}.yaml"


class SpecVersion(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    agent: str
    version: str
    label: str | None = None
    pushed_ms: int
    archive_key: str


class NumberPlan(BaseModel):
    """numbers.yaml: dialled number (E.164) -> agent name, and an optional explicit default agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    numbers: dict[E164, AgentName] = {}
    default: AgentName | None = None

    @property
    def agents(self) -> set[str]:
        return set(self.numbers.values()) | ({self.default} if self.default else set())


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "plan"
    return f"{where}: {first['msg']}"


def load_number_plan(path: str | Path) -> NumberPlan:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise RegistryError(f"{p}: cannot read the file ({err.strerror or err})") from None
    except yaml.YAMLError as err:
        raise RegistryError(f"{p}: not valid YAML: {getattr(err, 'problem', err)}") from None
    try:
        return NumberPlan.model_validate(data)
    except ValidationError as err:
        raise RegistryError(f"{p}: {_first_error(err)}") from None


def read_agents_dir(agents_dir: str | Path) -> dict[str, str]:
    """Every spec file (*.yaml, *.yml) in a folder: path -> exact text. Validated when installed."""
    d = Path(agents_dir)
    if not d.is_dir():
        raise RegistryError(f"{d}: not a folder of agent specs")
    files = sorted([*d.glob("*.yaml"), *d.glob("*.yml")])
    if not files:
        raise RegistryError(f"{d}: no agent specs (*.yaml) in it")
    return {str(f): read_spec_text(f) for f in files}


def check_number(number: str) -> str:
    try:
        NumberPlan.model_validate({"numbers": {number: "x"}})
    except ValidationError:
        raise RegistryError(f"{number!r} is not an E.164 number like +12065550100") from None
    return number


def _not_found(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}


class AgentRegistry:
    """Reads and writes specs and the number plan. `table` is the calls table (boto3 Table
    resource), `s3` an S3 client on the archive bucket. Thread-safe: the bridge resolves numbers on
    worker threads, and a Lambda environment keeps one registry for its life."""

    def __init__(
        self,
        table: Any,
        s3: Any | None,
        bucket: str | None,
        clock_ms: Callable[[], int] | None = None,
        *,
        scope: str = "",
    ) -> None:
        """`s3`/`bucket`: the archive, needed to push and to read the archived copy; a reader of
        specs only (tools, policy, post-call) passes None. `scope`: a namespace for the pointers
        (never set in a deployment, which has one plan): local worlds sharing one in-process moto
        keep their plans apart. Texts are shared: a key is the text's own hash."""
        self._table, self._s3, self._bucket = table, s3, bucket
        self.scope = scope
        self._scope = f"{scope}#" if scope else ""
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._specs: OrderedDict[tuple[str, str], AgentSpec] = OrderedDict()
        self._lock = threading.Lock()

    def _pk(self, kind: str, name: str) -> str:
        return f"{self._scope}{kind}#{name}"

    # --- writes -----------------------------------------------------------------------
    def push(
        self,
        text: str,
        *,
        source: str = "spec",
        label: str | None = None,
        numbers: Iterable[str] = (),
        make_default: bool = False,
    ) -> SpecVersion:
        """Validate, archive and make current one spec text; route `numbers` to it. Archive first,
        then the version item, then the pointers: nothing ever points at a text that is not kept."""
        spec = parse_spec_text(text, source)
        size = len(text.encode())
        if size > MAX_SPEC_BYTES:
            raise RegistryError(f"{source}: {size} bytes; a spec may have at most {MAX_SPEC_BYTES}")
        numbers = [check_number(n) for n in numbers]
        if label is not None:
            _check_label(label)
        version = spec_version(text)
        key = agent_archive_key(spec.name, version)
        item = SpecVersion(agent=spec.name, version=version, label=label, pushed_ms=self._clock_ms(), archive_key=key)
        version_key = {"call_id": self._pk("AGENT", spec.name), "sk": f"VERSION#{version}"}
        # A version item exists only once its text is archived: the same text pushed again is
        # re-pointed, never archived twice (each put would be one more locked object version).
        if "Item" not in self._table.get_item(Key=version_key, ConsistentRead=True):
            self._archive(key, text, spec.name, version, label)
            try:
                self._table.put_item(
                    Item=version_key | item.model_dump(exclude_none=True) | {"text": text},
                    ConditionExpression="attribute_not_exists(sk)",
                )
            except ClientError as err:  # a concurrent push of the same text won: the same text is kept
                if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
        self._table.put_item(
            Item={"call_id": self._pk("AGENT", spec.name), "sk": "CURRENT"} | item.model_dump(exclude_none=True)
        )
        for number in numbers:
            self.set_route(number, spec.name)
        if make_default:
            self.set_route(DEFAULT_ROUTE, spec.name)
        return item

    def set_route(self, number: str, agent: str) -> None:
        if number != DEFAULT_ROUTE:
            check_number(number)
        if self.current(agent) is None:
            raise RegistryError(f"no agent {agent!r}: push its spec first")
        self._table.put_item(
            Item={
                "call_id": self._pk("NUMBER", number),
                "sk": "ROUTE",
                "number": number,
                "agent": agent,
                "set_ms": self._clock_ms(),
            }
        )

    def install(self, texts: Mapping[str, str], plan: NumberPlan, *, keep_existing: bool) -> list[SpecVersion]:
        """Push every spec (`texts`: source -> text) and route the plan's numbers. With
        `keep_existing` (a bridge seeding its baked plan at boot), an agent that already has a current
        version and a number that already has a route are left as they are: a push wins over a deploy.
        Without it (a local stack), the plan replaces the routes there were."""
        specs = {parse_spec_text(text, source).name: (source, text) for source, text in texts.items()}
        missing = sorted(plan.agents - set(specs))
        if missing:
            raise RegistryError(f"number plan: no spec for agent {', '.join(map(repr, missing))}")
        pushed = [
            self.push(text, source=source)
            for name, (source, text) in specs.items()
            if not (keep_existing and self.current(name) is not None)
        ]
        routes = dict(plan.numbers) | ({DEFAULT_ROUTE: plan.default} if plan.default else {})
        for number, agent in routes.items():
            if not (keep_existing and self._route_item(number) is not None):
                self.set_route(number, agent)
        if not keep_existing:  # the plan, exactly: a route it does not name answers nobody
            for number in set(self.routes()) - set(routes):
                self._table.delete_item(Key={"call_id": self._pk("NUMBER", number), "sk": "ROUTE"})
        return pushed

    def _archive(self, key: str, text: str, agent: str, version: str, label: str | None) -> None:
        if self._s3 is None or not self._bucket:
            raise RegistryError("pushing a spec needs the archive bucket: its text is archived first")
        metadata = {"agent": agent, "spec-version": version} | ({"label": label} if label else {})
        self._s3.put_object(
            Bucket=self._bucket, Key=key, Body=text.encode(), ContentType="application/yaml", Metadata=metadata
        )

    # --- reads ------------------------------------------------------------------------
    def current(self, agent: str) -> SpecVersion | None:
        item = self._table.get_item(
            Key={"call_id": self._pk("AGENT", agent), "sk": "CURRENT"}, ConsistentRead=True
        ).get("Item")
        return SpecVersion.model_validate(item) if item else None

    def route(self, number: str) -> SpecVersion | None:
        """The current version of the agent the dialled number reaches: its own route, else the
        explicit default route, else None (the caller gets 404)."""
        item = self._route_item(number) or self._route_item(DEFAULT_ROUTE)
        return self.current(str(item["agent"])) if item else None

    def _route_item(self, number: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._table.get_item(
            Key={"call_id": self._pk("NUMBER", number), "sk": "ROUTE"}, ConsistentRead=True
        ).get("Item")
        return item

    def text(self, agent: str, version: str) -> str:
        """The version's text, from its version item."""
        item = self._table.get_item(
            Key={"call_id": self._pk("AGENT", agent), "sk": f"VERSION#{version}"}, ConsistentRead=True
        ).get("Item")
        if not item or not isinstance(item.get("text"), str):
            raise RegistryError(f"no spec {agent}@{version}")
        return str(item["text"])

    def archived_text(self, agent: str, version: str) -> str:
        """The version's text as archived (Object Lock): what an auditor reads."""
        if self._s3 is None or not self._bucket:
            raise RegistryError("reading the archived spec needs the archive bucket")
        try:
            body: bytes = self._s3.get_object(Bucket=self._bucket, Key=agent_archive_key(agent, version))["Body"].read()
        except ClientError as err:
            if _not_found(err):
                raise RegistryError(f"no archived spec {agent}@{version}") from None
            raise
        return body.decode()

    def spec(self, agent: str, version: str) -> AgentSpec:
        """The spec a call runs with, from its version's text; cached (a version never changes)."""
        with self._lock:
            cached = self._specs.get((agent, version))
            if cached is not None:
                self._specs.move_to_end((agent, version))
                return cached
        text = self.text(agent, version)
        if spec_version(text) != version:
            raise RegistryError(f"spec {agent}@{version} does not hash to its version")
        spec = parse_spec_text(text, agent_archive_key(agent, version))
        if spec.name != agent:
            raise RegistryError(f"spec {agent}@{version} names agent {spec.name!r}")
        with self._lock:
            self._specs[(agent, version)] = spec
            while len(self._specs) > SPEC_CACHE_SIZE:
                self._specs.popitem(last=False)
        return spec

    def agents(self) -> list[SpecVersion]:
        """Every agent's current version (a Scan: for the operator's `agents list`, never on a call path)."""
        return [SpecVersion.model_validate(i) for i in self._scan(self._pk("AGENT", ""), "CURRENT")]

    def versions(self, agent: str) -> list[SpecVersion]:
        items = all_pages(
            self._table.query,
            KeyConditionExpression="call_id = :a AND begins_with(sk, :v)",
            ExpressionAttributeValues={":a": self._pk("AGENT", agent), ":v": "VERSION#"},
            ConsistentRead=True,
        )
        return sorted((SpecVersion.model_validate(i) for i in items), key=lambda v: v.pushed_ms)

    def routes(self) -> dict[str, str]:
        return {str(i["number"]): str(i["agent"]) for i in self._scan(self._pk("NUMBER", ""), "ROUTE")}

    def _scan(self, prefix: str, sk: str) -> list[dict[str, Any]]:
        return all_pages(
            self._table.scan,
            FilterExpression="begins_with(call_id, :p) AND sk = :s",
            ExpressionAttributeValues={":p": prefix, ":s": sk},
        )


def _check_label(label: str) -> None:
    try:
        _LabelCheck.model_validate({"label": label})
    except ValidationError:
        raise RegistryError(f"label {label!r}: letters, digits, '.', '_' or '-', at most 40") from None


class _LabelCheck(BaseModel):
    label: Label


__all__ = ["AgentRegistry", "NumberPlan", "RegistryError", "SpecError", "SpecVersion", "load_number_plan"]
