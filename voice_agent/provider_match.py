"""Which listed provider a caller means: token overlap with fuzzy spelling, no word lists.

Names are compared as tokens after case folding and stripping accents, so "doctor nguyen",
"Nguyen" and "Dra. Alice Nguyên" all reach "Dr. Alice Nguyen". Titles need no special case:
a token that matches nothing simply scores nothing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

SIMILAR = 0.8  # one-letter slips in a surname ("Nguen", "Okafur") still count


def _tokens(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch))
    return [t for t in plain.split() if len(t) > 1]


def _score(spoken: list[str], provider: list[str]) -> float:
    score = 0.0
    for token in provider:
        best = max((SequenceMatcher(None, token, s).ratio() for s in spoken), default=0.0)
        if best >= SIMILAR:
            score += best
    return score


@dataclass(frozen=True, slots=True)
class ProviderMatch:
    match: str | None
    candidates: list[str]


def match_provider(spoken_name: str, providers: list[str]) -> ProviderMatch:
    spoken = _tokens(spoken_name)
    scored = [(p, _score(spoken, _tokens(p))) for p in providers]
    best = max((s for _, s in scored), default=0.0)
    if best == 0.0:
        return ProviderMatch(None, [])
    top = [p for p, s in scored if s == best]
    return ProviderMatch(top[0], top) if len(top) == 1 else ProviderMatch(None, top)
