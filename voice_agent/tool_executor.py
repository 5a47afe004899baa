"""Runs one tool call: validate, write to the store, answer with steering and directives.

Every answer tells the model what happened and what to ask next. Nothing here trusts the
model: values are validated by type, the gate reads the store, read-back words come from the
stored value.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import steering
from . import tool_catalog as names
from .call_runtime import CallRuntime
from .decisions import Verdict, mask
from .directives import Directive, PlayClosing, ReadBack
from .end_call_gate import GateAction, missing_required
from .field_values import Invalid, validate_value
from .invocation import ToolCall, ToolReply
from .language_policy import decide_language
from .provider_match import match_provider
from .readback import readback_words
from .record_store import CallMeta, FieldValue
from .spec import FieldSpec, FieldType


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordArgs(_Args):
    value: Any


class DeclineArgs(_Args):
    field: str
    quote: Annotated[str, Field(min_length=1)]


class CategoryArgs(_Args):
    category: str


class ProviderArgs(_Args):
    spoken_name: Annotated[str, Field(min_length=1)]


class LanguageArgs(_Args):
    language: Annotated[str, Field(pattern=r"^[A-Za-z]{2}(-[A-Za-z]{2})?$")]


class EndCallArgs(_Args):
    reason: str = ""  # logged by nobody: the gate decides from the store


def _reply(output: str, ok: bool = True, *directives: Directive) -> ToolReply:
    return ToolReply(ok=ok, output=output, directives=list(directives))


class ToolExecutor:
    def __init__(self, rt: CallRuntime) -> None:
        self.rt = rt

    def execute(self, call: ToolCall, meta: CallMeta | None = None) -> ToolReply:
        """`meta`: the call's record as the caller already read it (else it is read here)."""
        rt = self.rt
        meta = meta or rt.store.get_call(call.call_id)
        if meta is None:
            return ToolReply(ok=False, output=steering.call_not_active(), error=f"unknown call {call.call_id}")
        try:
            raw = json.loads(call.arguments or "{}")
        except json.JSONDecodeError as err:
            return self._bad(call, f"arguments are not JSON: {err.msg}")
        if not isinstance(raw, dict):
            return self._bad(call, "arguments must be a JSON object")
        if call.name == names.END_CALL:
            return self._end_call(call, raw)
        if meta.status == "ENDED":
            return _reply(steering.call_not_active(), False)
        try:
            return self._dispatch(call, meta, raw)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "arguments"
            return self._bad(call, f"{where}: {first['msg']}")

    def _dispatch(self, call: ToolCall, meta: CallMeta, raw: dict[str, Any]) -> ToolReply:
        spec = self.rt.spec
        if call.name.startswith(names.RECORD_PREFIX):
            field = spec.field(call.name.removeprefix(names.RECORD_PREFIX))
            if field is not None:
                return self._record(call, meta, field, RecordArgs.model_validate(raw).value)
        elif call.name == names.DECLINE_FIELD:
            return self._decline(call, meta, DeclineArgs.model_validate(raw))
        elif call.name == names.CATEGORIZE_CALL and spec.categories:
            return self._categorize(call, meta, CategoryArgs.model_validate(raw).category)
        elif call.name == names.RESOLVE_PROVIDER and spec.providers:
            return self._provider(call, meta, ProviderArgs.model_validate(raw).spoken_name)
        elif call.name == names.SET_LANGUAGE:
            return self._language(call, meta, LanguageArgs.model_validate(raw).language)
        self.rt.log.record(call.call_id, "tool_validation", "reject", "unknown tool", tool=call.name)
        return _reply(steering.unknown_tool(call.name), False)

    # --- helpers ------------------------------------------------------------------------
    def _bad(self, call: ToolCall, reason: str) -> ToolReply:
        self.rt.log.record(call.call_id, "tool_validation", "reject", f"bad arguments: {reason}", tool=call.name)
        return _reply(steering.bad_arguments(call.name, reason), False)

    def _next_step(self, call_id: str, meta: CallMeta) -> str:
        if meta.status != "ACTIVE":
            return steering.end_call_already()
        fields = self.rt.store.get_fields(call_id)
        optional_open = [f for f in self.rt.spec.fields if not f.required and f.name not in fields]
        return steering.next_step(missing_required(self.rt.spec, fields), optional_open)

    # --- tools --------------------------------------------------------------------------
    def _record(self, call: ToolCall, meta: CallMeta, field: FieldSpec, raw: Any) -> ToolReply:
        rt = self.rt
        checked = validate_value(field, raw)
        if isinstance(checked, Invalid):
            rt.log.record(
                call.call_id, "tool_validation", "reject", checked.reason,
                tool=call.name, field=field.name, masked=mask(str(raw)), turn_seq=call.turn_seq,
            )  # fmt: skip
            return _reply(steering.invalid_value(field, checked.reason), False)
        previous = rt.store.get_fields(call.call_id).get(field.name)
        is_correction = previous is not None and (previous.status, previous.value) != ("value", checked.value)
        rt.store.put_field(
            call.call_id,
            FieldValue(
                name=field.name,
                status="value",
                value=checked.value,
                source="live",
                turn_seq=call.turn_seq,
                recorded_ms=rt.clock_ms(),
                corrections=(previous.corrections + 1) if previous and is_correction else 0,
            ),
        )
        rt.log.record(
            call.call_id, "tool_validation", "accept", "correction" if is_correction else "valid",
            tool=call.name, field=field.name, masked=mask(checked.value),
            previous_masked=mask(previous.value) if is_correction and previous else None, turn_seq=call.turn_seq,
        )  # fmt: skip
        if field.read_back and field.type is FieldType.PHONE_NUMBER and meta.status == "ACTIVE":
            words, digits = readback_words(checked.value)
            directive = ReadBack(field=field.name, text=words, expected_digits=digits)
            return _reply(steering.recorded_with_readback(field.name), True, directive)
        step = self._next_step(call.call_id, meta)
        text = steering.corrected(field.name, step) if is_correction else steering.recorded(field.name, step)
        return _reply(text)

    def _decline(self, call: ToolCall, meta: CallMeta, args: DeclineArgs) -> ToolReply:
        rt = self.rt
        field = rt.spec.field(args.field)
        quote = " ".join(args.quote.split())
        if field is None:
            reason = f"there is no field named {args.field}"
        elif (prev := rt.store.get_fields(call.call_id).get(field.name)) and prev.status == "value":
            reason = f"{field.name} already holds a value; record the new value instead if the caller changed it"
        else:
            rt.store.put_field(
                call.call_id,
                FieldValue(
                    name=field.name, status="declined", quote=quote, source="live",
                    turn_seq=call.turn_seq, recorded_ms=rt.clock_ms(),
                ),
            )  # fmt: skip
            rt.log.record(
                call.call_id, "tool_validation", "accept", "caller declined, quote kept",
                tool=call.name, field=field.name, turn_seq=call.turn_seq,
            )  # fmt: skip
            return _reply(steering.declined(field.name, self._next_step(call.call_id, meta)))
        rt.log.record(call.call_id, "tool_validation", "reject", reason, tool=call.name, field=args.field)
        return _reply(steering.decline_rejected(reason), False)

    def _categorize(self, call: ToolCall, meta: CallMeta, category: str) -> ToolReply:
        rt = self.rt
        if category not in rt.spec.categories:
            reason = f"expected one of: {', '.join(rt.spec.categories)}"
            rt.log.record(call.call_id, "category", "reject", reason, tool=call.name)
            return self._bad(call, reason)
        rt.store.set_meta(call.call_id, category=category)
        rt.log.record(call.call_id, "category", "accept", category, tool=call.name)
        return _reply(steering.categorized(category, self._next_step(call.call_id, meta)))

    def _provider(self, call: ToolCall, meta: CallMeta, spoken: str) -> ToolReply:
        rt = self.rt
        found = match_provider(spoken, rt.spec.providers)
        if found.match:
            rt.store.set_meta(call.call_id, provider=found.match)
            rt.log.record(call.call_id, "provider", "accept", f"matched {found.match}", tool=call.name)
            return _reply(steering.provider_match(found.match, self._next_step(call.call_id, meta)))
        if found.candidates:
            rt.log.record(call.call_id, "provider", "retry", f"{len(found.candidates)} candidates", tool=call.name)
            return _reply(steering.provider_candidates(found.candidates), False)
        rt.log.record(call.call_id, "provider", "reject", "no provider matches", tool=call.name)
        return _reply(steering.provider_none(rt.spec.providers), False)

    def _language(self, call: ToolCall, meta: CallMeta, reported: str) -> ToolReply:
        rt = self.rt
        decision = decide_language(rt.spec, reported, self._next_step(call.call_id, meta))
        rt.store.set_meta(call.call_id, language=decision.language)
        verdict: Verdict = "accept" if decision.supported else "reject"
        reason = "supported" if decision.supported else f"unsupported; fallback to {decision.language}"
        rt.log.record(call.call_id, "language", verdict, reason, tool=call.name, language=reported)
        return _reply(decision.output, decision.supported, decision.directive)

    def _end_call(self, call: ToolCall, raw: dict[str, Any]) -> ToolReply:
        EndCallArgs.model_validate(raw)  # shape only: the reason is never trusted
        outcome = self.rt.gate.request_end(call.call_id, tool=call.name)
        match outcome.action:
            case GateAction.PLAY_CLOSING:
                closing = PlayClosing(text=self.rt.spec.closing, teardown_ms=self.rt.spec.limits.closing_teardown_ms)
                return _reply(steering.end_call_allowed(), True, closing)
            case GateAction.DENY_MISSING:
                return _reply(steering.end_call_denied(outcome.missing), False)
            case GateAction.DENY_CLOSING:
                return _reply(steering.end_call_already(), False)
            case GateAction.DENY_ENDED | GateAction.HANG_UP | GateAction.NONE:
                return _reply(steering.call_not_active(), False)
