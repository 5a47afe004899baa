"""Language policy: the model reports what the caller speaks, the policy decides.

No detection here: the model understands languages. The policy only checks the reported code
against the spec and answers with a switch, or a fallback line and the default language.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import steering
from .directives import LanguageFallback, SwitchLanguage
from .spec import AgentSpec


@dataclass(frozen=True, slots=True)
class LanguageDecision:
    supported: bool
    language: str  # the language the call continues in
    output: str
    directive: SwitchLanguage | LanguageFallback


def _base(code: str) -> str:
    return code.split("-")[0].lower()


def decide_language(spec: AgentSpec, reported: str, step: str = "") -> LanguageDecision:
    supported = {_base(c): c for c in spec.languages.supported}
    code = supported.get(_base(reported))
    if code is not None:
        return LanguageDecision(True, code, steering.language_supported(code, step), SwitchLanguage(language=code))
    default = spec.languages.default
    line = spec.languages.fallback
    return LanguageDecision(
        False,
        default,
        steering.language_fallback(reported, default, line is not None, step),
        LanguageFallback(language=default, text=line),
    )
