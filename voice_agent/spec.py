"""The agent spec: what a business writes in YAML, validated strictly.

One spec describes one phone agent: persona, greeting and closing, languages, the fields to
capture (one tool each), call categories, providers and limits. Unknown keys are errors, so
a typo never silently disables a promise.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# Field names become tool names (record_<name>) and DynamoDB sort keys: keep them identifiers.
_IDENTIFIER = r"^[a-z][a-z0-9_]{0,47}$"
# ISO 639-1 language codes, optionally with a region (es, en-US). Structure only.
_LANGUAGE = r"^[a-z]{2}(-[A-Z]{2})?$"


class FieldType(StrEnum):
    TEXT = "text"
    PERSON_NAME = "person_name"
    PHONE_NUMBER = "phone_number"
    DATE = "date"
    EMAIL = "email"
    NUMBER = "number"
    CHOICE = "choice"
    BOOLEAN = "boolean"


class EvidenceRule(StrEnum):
    """How the post-call pass grounds a backfilled text value (docs/evidence.md)."""

    EXTRACTIVE = "extractive"  # the value is the caller's own words, word for word
    SUMMARY = "summary"  # the value may paraphrase; it is written with its quote, flagged as a summary


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class FieldSpec(_Strict):
    name: Annotated[str, Field(pattern=_IDENTIFIER)]
    type: FieldType
    required: bool = False
    description: str = ""
    read_back: bool = False
    choices: list[str] | None = None
    # Region used to parse national phone numbers (ISO 3166 alpha-2).
    default_region: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "US"
    # Text fields only: whether a backfilled value must be the caller's words or may summarise them.
    evidence: EvidenceRule = EvidenceRule.EXTRACTIVE

    @model_validator(mode="after")
    def _check_type_options(self) -> FieldSpec:
        if self.type is FieldType.CHOICE and not self.choices:
            raise ValueError("a choice field needs a non-empty 'choices' list")
        if self.type is not FieldType.CHOICE and self.choices is not None:
            raise ValueError("'choices' is only allowed on a choice field")
        if self.read_back and self.type is not FieldType.PHONE_NUMBER:
            raise ValueError("'read_back' is only supported on phone_number fields")
        if "evidence" in self.model_fields_set and self.type is not FieldType.TEXT:
            raise ValueError("'evidence' is only allowed on a text field (other types are checked by structure)")
        return self


class Languages(_Strict):
    supported: Annotated[list[Annotated[str, Field(pattern=_LANGUAGE)]], Field(min_length=1)]
    default: Annotated[str, Field(pattern=_LANGUAGE)]
    # Said word for word when the caller speaks a language the agent does not support.
    fallback: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _default_is_supported(self) -> Languages:
        if self.default not in self.supported:
            raise ValueError(f"default language {self.default!r} is not in 'supported'")
        return self


class Limits(_Strict):
    max_call_seconds: Annotated[int, Field(ge=30, le=3600)] = 900
    idle_seconds: Annotated[int, Field(ge=2, le=120)] = 8
    idle_prompts: Annotated[int, Field(ge=0, le=10)] = 2
    closing_teardown_ms: Annotated[int, Field(ge=0, le=60000)] = 6000


# The voices the realtime service offers; an unknown one is refused by session.update, which would
# leave a call without a session, so it is refused here, when the spec is loaded.
Voice = Literal["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"]
VOICES: tuple[str, ...] = get_args(Voice)


class AgentSpec(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    model: Annotated[str, Field(min_length=1)]
    voice: Voice = "marin"
    instructions: Annotated[str, Field(min_length=1)]
    greeting: Annotated[str, Field(min_length=1)]
    closing: Annotated[str, Field(min_length=1)]
    languages: Languages
    fields: Annotated[list[FieldSpec], Field(min_length=1)]
    categories: list[Annotated[str, Field(pattern=_IDENTIFIER)]] = []
    providers: list[Annotated[str, Field(min_length=1)]] = []
    limits: Limits = Limits()

    @model_validator(mode="after")
    def _unique_names(self) -> AgentSpec:
        for label, names in (
            ("field", [f.name for f in self.fields]),
            ("category", self.categories),
            ("provider", self.providers),
        ):
            seen: set[str] = set()
            for n in names:
                if n in seen:
                    raise ValueError(f"duplicate {label} {n!r}")
                seen.add(n)
        return self

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def required_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.required]


class SpecError(ValueError):
    """A spec that cannot be used. str() is one line that names the place and the problem."""


def _location(loc: tuple[int | str, ...], data: object) -> str:
    """Render a pydantic location as a YAML path, naming list items by their `name` when they have one."""
    parts: list[str] = []
    node = data
    for step in loc:
        if isinstance(step, int):
            item = node[step] if isinstance(node, list) and step < len(node) else None
            label = item.get("name") if isinstance(item, dict) else None
            parts[-1:] = [f"{parts[-1] if parts else ''}[{label or step}]"]
            node = item
        else:
            if step.startswith("function-after") or step in {"str", "int"}:
                continue  # pydantic's internal validator names, not user-facing keys
            parts.append(step)
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts) or "spec"


def _one_line(err: ValidationError, data: object) -> str:
    first = err.errors()[0]
    where = _location(tuple(first["loc"]), data)
    kind = first["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key"
    if kind == "enum":
        allowed = first.get("ctx", {}).get("expected", "")
        return f"{where}: {first['input']!r} is not a valid value (expected {allowed})"
    msg = first["msg"].removeprefix("Value error, ")
    more = len(err.errors()) - 1
    return f"{where}: {msg}" + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")


def parse_spec(data: object, source: str = "spec") -> AgentSpec:
    if not isinstance(data, dict):
        raise SpecError(f"{source}: the top level must be a mapping of keys, not {type(data).__name__}")
    try:
        return AgentSpec.model_validate(data)
    except ValidationError as err:
        raise SpecError(f"{source}: {_one_line(err, data)}") from None


def parse_spec_text(text: str, source: str = "spec") -> AgentSpec:
    """Validate a spec's YAML text (a file's, or an archived version's)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SpecError(f"{source}: not valid YAML{where}: {getattr(err, 'problem', err)}") from None
    return parse_spec(data, source)


def read_spec_text(path: str | Path) -> str:
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except OSError as err:
        raise SpecError(f"{p}: cannot read the file ({err.strerror or err})") from None


def spec_version(text: str) -> str:
    """A spec version is its content: the first 16 hex digits of the SHA-256 of its exact text, so
    the same text is the same version wherever it is pushed, and any edit is a new one."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_spec(path: str | Path) -> AgentSpec:
    """Load and validate an agent spec file; every failure is a SpecError with one clear line."""
    return parse_spec_text(read_spec_text(path), str(Path(path)))
