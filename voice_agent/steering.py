"""Every word the model reads from us: tool descriptions and tool-result steering.

This is an API surface. The model's behaviour depends on these strings, so they live in one
reviewed place and tests/test_steering_snapshots.py pins them; change them on purpose and
update the snapshots in the same commit (UPDATE_SNAPSHOTS=1 make test).
"""

from __future__ import annotations

from .spec import FieldSpec

# --- tool descriptions ---------------------------------------------------------------


def record_tool_description(field: FieldSpec) -> str:
    need = "Required." if field.required else "Optional."
    extra = " Call it again with the new value if the caller corrects it."
    return f"Record the caller's answer for '{field.name}': {_what(field)}. {need}{extra}"


DECLINE_FIELD = (
    "Record that the caller refuses to give one of the fields. Only when the caller clearly says "
    "they will not give it; pass their own words as 'quote'."
)
CATEGORIZE_CALL = "Record what the call is about, as one of the categories."
RESOLVE_PROVIDER = (
    "Find which of the practice's providers the caller means. Pass the name as the caller said it; "
    "the result is the match or the candidates to ask about."
)
SET_LANGUAGE = "Report the language the caller is speaking, as an ISO 639-1 code (for example 'en', 'es')."
END_CALL = (
    "End the call when the caller's request is fully captured. Denied while a required answer is "
    "missing; the result then says what to ask. On success the closing is played for you: do not "
    "say goodbye yourself."
)

ARG_VALUE = "The value, as the caller gave it."
ARG_DECLINE_FIELD = "The field the caller refuses to give."
ARG_DECLINE_QUOTE = "The caller's own words refusing, verbatim."
ARG_CATEGORY = "The category of the call."
ARG_SPOKEN_NAME = "The provider's name as the caller said it."
ARG_LANGUAGE = "ISO 639-1 code of the caller's language."
ARG_REASON = "Why the call can end now."

# --- steering after a tool call --------------------------------------------------------


def _what(field: FieldSpec) -> str:
    return (field.description or field.name.replace("_", " ")).rstrip(".")


def _ask(field: FieldSpec) -> str:
    return f"Next, ask for {field.name}: {_what(field)}"


def next_step(missing: list[FieldSpec], optional_open: list[FieldSpec]) -> str:
    if missing:
        return _ask(missing[0]) + "."
    tail = ""
    if optional_open:
        names = ", ".join(f.name for f in optional_open)
        tail = f" Optional, only if relevant to this call: {names}."
    return "Every required answer is in." + tail + " Ask if there is anything else, then call end_call."


def recorded(field: str, step: str) -> str:
    return f"Recorded {field}. {step}"


def corrected(field: str, step: str) -> str:
    return f"Corrected {field}; the new value replaces the old one. {step}"


def recorded_with_readback(field: str) -> str:
    return (
        f"Recorded {field}. It is now read back to the caller digit by digit; do not read it yourself. "
        f"If the caller says it is wrong, call record_{field} with the corrected number."
    )


def invalid_value(field: FieldSpec, reason: str) -> str:
    return f"Nothing was recorded for {field.name}: {reason}. Ask the caller again for {field.name}: {_what(field)}."


def declined(field: str, step: str) -> str:
    return f"Recorded that the caller declines to give {field}; do not ask for it again. {step}"


def decline_rejected(reason: str) -> str:
    return f"Nothing was recorded: {reason}."


def categorized(category: str, step: str) -> str:
    return f"Recorded category {category}. {step}"


def provider_match(name: str, step: str) -> str:
    return f"The caller means {name}; recorded. {step}"


def provider_candidates(candidates: list[str]) -> str:
    return "Several providers could match: " + "; ".join(candidates) + ". Ask the caller which one."


def provider_none(providers: list[str]) -> str:
    listed = "; ".join(providers) if providers else "(none listed)"
    return f"No provider matches that name. The providers are: {listed}. Ask the caller which one, or continue."


def language_supported(language: str, step: str) -> str:
    return f"Continue in language '{language}'. {step}"


def language_fallback(language: str, default: str, has_line: bool, step: str) -> str:
    said = "A fallback line is being played for you. " if has_line else ""
    return f"Language '{language}' is not supported. {said}Continue in '{default}'. {step}"


def end_call_allowed() -> str:
    return "The call is ending: the closing is being played for you. Do not say anything else."


def end_call_denied(missing: list[FieldSpec]) -> str:
    names = ", ".join(f.name for f in missing)
    return f"The call cannot end yet: still missing {names}. {_ask(missing[0])}."


def end_call_already() -> str:
    return "The call is already ending; the closing has been played. Do not say goodbye again; say nothing."


def bad_arguments(tool: str, reason: str) -> str:
    return f"The {tool} call was not understood ({reason}). Nothing was recorded; call it again with valid arguments."


def unknown_tool(tool: str) -> str:
    return f"There is no tool named {tool}. Nothing was recorded."


def call_not_active() -> str:
    return "The call is over; nothing was recorded. Say nothing."
