"""The event shapes between the bridge and the tool/policy functions.

The same shapes travel as Lambda payloads in AWS and as in-process calls locally, so the bridge
has one code path for both.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from .directives import Directive

CallId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolCall(_Event):
    """One function call from the model. `arguments` is the model's raw JSON text."""

    call_id: CallId
    name: Annotated[str, Field(min_length=1, max_length=64)]
    arguments: str = "{}"
    tool_call_id: str | None = None
    turn_seq: int | None = None


class ToolReply(_Event):
    ok: bool
    output: str  # what the model sees, always with steering
    directives: list[Directive] = []
    error: str | None = None


class CallStarted(_Event):
    """The bridge answered a call for `agent` at `spec_version` (what the dialled number routed
    to); every later event finds them on the call's record."""

    action: Literal["call_started"] = "call_started"
    call_id: CallId
    started_ms: int | None = None
    agent: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")] | None = None
    spec_version: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")] | None = None


class CallerHungUp(_Event):
    action: Literal["caller_hung_up"] = "caller_hung_up"
    call_id: CallId


class CallerIdle(_Event):
    """The bridge measured the caller's silence and counted its idle prompts."""

    action: Literal["caller_idle"] = "caller_idle"
    call_id: CallId
    idle_prompts_played: Annotated[int, Field(ge=0)]
    caller_silent_ms: Annotated[int, Field(ge=0)]


class MaxDuration(_Event):
    action: Literal["max_duration"] = "max_duration"
    call_id: CallId


class BridgeDraining(_Event):
    """The bridge is shutting down and this call outlived the drain deadline."""

    action: Literal["bridge_draining"] = "bridge_draining"
    call_id: CallId


class ModelUnavailable(_Event):
    """No realtime session could be opened, configured or kept: the call cannot go on."""

    action: Literal["model_unavailable"] = "model_unavailable"
    call_id: CallId
    reason: Annotated[str, Field(max_length=300)]


class ClosingPlayed(_Event):
    action: Literal["closing_played"] = "closing_played"
    call_id: CallId


class VerifyReadback(_Event):
    action: Literal["verify_readback"] = "verify_readback"
    call_id: CallId
    field: str
    transcript: str


PolicyEvent = Annotated[
    CallStarted
    | CallerHungUp
    | CallerIdle
    | MaxDuration
    | BridgeDraining
    | ModelUnavailable
    | ClosingPlayed
    | VerifyReadback,
    Field(discriminator="action"),
]


class PolicyReply(_Event):
    ok: bool
    verdict: str | None = None
    state: str | None = None
    directives: list[Directive] = []
    error: str | None = None
