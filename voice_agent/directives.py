"""Directives: what the policy layer tells the bridge to do, beside the text the model sees.

The model owns the conversation; these are the few places where exact words or call control
matter, so the bridge acts on them itself (and verifies where it can).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Directive(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReadBack(_Directive):
    """Say these words exactly, then verify the spoken transcript against `expected_digits`."""

    kind: Literal["read_back"] = "read_back"
    field: str
    text: str
    expected_digits: str
    attempt: int = 1


class PlayClosing(_Directive):
    """Say the spec's closing exactly once; after closing_teardown_ms, hang up."""

    kind: Literal["play_closing"] = "play_closing"
    text: str
    teardown_ms: int


class SwitchLanguage(_Directive):
    kind: Literal["switch_language"] = "switch_language"
    language: str


class LanguageFallback(_Directive):
    """The caller's language is unsupported: say `text` (if the spec has one), continue in `language`."""

    kind: Literal["language_fallback"] = "language_fallback"
    language: str
    text: str | None = None


class HangUp(_Directive):
    """End the call now (the caller is gone or the closing has played)."""

    kind: Literal["hang_up"] = "hang_up"
    reason: str


Directive = Annotated[ReadBack | PlayClosing | SwitchLanguage | LanguageFallback | HangUp, Field(discriminator="kind")]
