"""The simulated realtime model: what to say and which tools to call, decided from a
scenario (or generic replies in free mode). Pure: no I/O, no clock; seeded.

It hears caller turns as VAD segments in order (the Nth segment is the Nth of
`Caller.segments()`: one per spoken turn, two for a turn with a mid-turn pause) and
perceives each turn's `means` perfectly once its last segment is in; the knobs make it
misbehave the way real models do.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

from simulator.scenario import CATEGORY, DECLINED, LANGUAGE, PROVIDER, ModelKnobs, Scenario, Segment, Turn

EXACT_MARKER = "Say exactly:"  # docs/CONTRACTS-internal.md: the exact-words convention
GREETING = "Hello, thanks for calling. How can I help you today?"
FREE_REPLIES = (
    "I see. Could you tell me a little more?",
    "Thank you. What else can I help you with?",
    "Got it. Is there anything else?",
)
EXTRA_GOODBYE = "Goodbye, and take care!"
TOOL_PREAMBLE = "One moment, let me note that."  # speech_with_tool_calls
FAREWELL = "Thanks so much for calling. Goodbye!"  # goodbye_before_end_call
PREAMBLE = "Okay."  # multi_message_responses: the first of two messages
GO_ON = "Mm-hm, go on."  # the answer to the first half of a turn the caller paused in


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Call:
    name: str
    arguments: dict[str, str]

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)


Output = Say | Call


@dataclass(frozen=True)
class ResponseRequest:
    """What the model can see when a response starts."""

    declared_tools: frozenset[str]
    instructions: str | None = None  # response-level instructions (response.create)
    tool_outputs: tuple[tuple[str, str], ...] = ()  # (tool name, output) since the last response


def exact_text(instructions: str | None) -> str | None:
    if not instructions or EXACT_MARKER not in instructions:
        return None
    return instructions.split(EXACT_MARKER, 1)[1].strip()


def misread(text: str, rng: random.Random) -> str:
    """One digit wrong, the kind of slip a read-back check must catch."""
    positions = [i for i, ch in enumerate(text) if ch.isdigit()]
    if not positions:
        return text
    i = rng.choice(positions)
    return text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1 :]


def _human(field_name: str) -> str:
    return field_name.replace("_", " ")


@dataclass
class ScriptedModel:
    scenario: Scenario | None
    seed: int = 0
    heard: int = 0  # VAD segments committed so far (echo excluded: the session never reports it)
    processed: int = 0  # spoken turns whose `means` have been acted on
    acknowledged: int = 0  # segments answered so far with GO_ON (the first half of a paused turn)
    ended: bool = False  # end_call has been called
    tried_early: bool = False
    misread_done: bool = False
    greeted: bool = False
    _rng: random.Random = field(init=False)
    _segments: list[Segment] = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"model:{self.seed}")
        self._segments = self.scenario.caller.segments() if self.scenario else []

    @property
    def knobs(self) -> ModelKnobs:
        return self.scenario.model if self.scenario else ModelKnobs()

    def hear_segment(self) -> None:
        self.heard += 1

    def segment(self, index: int) -> Segment | None:
        """The scripted segment the index-th commit is (None: beyond the script, noise)."""
        return self._segments[index] if index < len(self._segments) else None

    def recall(self, turn_index: int) -> None:
        """The turn is in the (seeded) history: heard and acted on already."""
        last = max((n for n, s in enumerate(self._segments) if s.turn == turn_index), default=turn_index)
        self.heard = max(self.heard, last + 1)
        self.processed = max(self.processed, turn_index + 1)
        self.greeted = True

    def recall_texts(self, texts: set[str]) -> None:
        """A seeded caller text item: a whole turn, or a paused turn's first half (heard, not acted on)."""
        for n, segment in enumerate(self._segments):
            turn = self._turns()[segment.turn]
            if turn.say in texts or (segment.last and segment.text in texts):
                self.recall(segment.turn)
            elif segment.text in texts:
                self.heard = max(self.heard, n + 1)
                self.acknowledged = max(self.acknowledged, n + 1)
                self.greeted = True

    def respond(self, request: ResponseRequest) -> list[Output]:
        exact = exact_text(request.instructions)
        if exact is not None:
            return self._exact(exact)
        if self.scenario is None:
            return self._free(request)
        outputs = self._scripted(request)
        if self.knobs.multi_message_responses and len(outputs) == 1 and isinstance(outputs[0], Say):
            outputs = [Say(PREAMBLE), outputs[0]]  # newer models' preamble: a message of its own
        return outputs

    def _turns(self) -> list[Turn]:
        return self.scenario.caller.spoken_turns if self.scenario else []

    def _turns_heard(self) -> int:
        """Spoken turns whose last segment is in (segments beyond the script count as turns of noise)."""
        if self.heard <= len(self._segments):
            return sum(1 for s in self._segments[: self.heard] if s.last)
        return len(self._turns()) + self.heard - len(self._segments)

    def _half_heard(self) -> bool:
        """The newest segment is the first half of a turn, not yet answered."""
        newest = self.segment(self.heard - 1) if self.heard else None
        return newest is not None and not newest.last and self.acknowledged < self.heard

    # -- exact words -------------------------------------------------------
    def _exact(self, text: str) -> list[Output]:
        self.greeted = True
        knobs = self.scenario.model if self.scenario else None
        if knobs and knobs.misread_digits and not self.misread_done and any(c.isdigit() for c in text):
            self.misread_done = True
            text = misread(text, self._rng)
        outputs: list[Output] = [Say(text)]
        if knobs and knobs.extra_goodbye and self.ended:
            outputs.append(Say(EXTRA_GOODBYE))  # the model adds a goodbye of its own
        return outputs

    # -- free mode -----------------------------------------------------------
    def _free(self, request: ResponseRequest) -> list[Output]:
        if not self.greeted:
            self.greeted = True
            return [Say(GREETING)]
        if self.processed < self.heard:
            self.processed = self.heard
            return [Say(self._rng.choice(FREE_REPLIES))]
        return [Say("Thank you.")]

    # -- scenario mode ---------------------------------------------------------
    def _scripted(self, request: ResponseRequest) -> list[Output]:
        assert self.scenario is not None
        turns = self.scenario.caller.spoken_turns
        if self.processed < self._turns_heard():
            return self._perceive(request, turns)
        if self._half_heard():
            self.acknowledged = self.heard
            return [Say(GO_ON)]  # the caller paused mid-answer: encourage, do not act yet
        if request.tool_outputs:
            return self._after_tools(request, turns)
        if not self.greeted:
            self.greeted = True
            return [Say(GREETING)]
        return [Say(self._next_question(turns))]

    def _perceive(self, request: ResponseRequest, turns: list[Turn]) -> list[Output]:
        calls: list[Output] = []
        forgot = False
        while self.processed < self._turns_heard():
            index = self.processed
            self.processed += 1
            if index >= len(turns):
                continue  # more segments than the script: noise, a cough
            new, missed = self._calls_for(turns[index], request.declared_tools)
            calls.extend(new)
            forgot = forgot or missed
        if calls:
            return [Say(TOOL_PREAMBLE), *calls] if self.knobs.speech_with_tool_calls else calls
        if self._all_heard(turns) and "end_call" in request.declared_tools and not self.ended:
            return self._end_call("the caller has given everything")
        prefix = "Got it, thank you. " if forgot else ""
        return [Say(prefix + self._next_question(turns))]

    def _after_tools(self, request: ResponseRequest, turns: list[Turn]) -> list[Output]:
        knobs = self.scenario.model if self.scenario else None
        if any(name == "end_call" for name, _ in request.tool_outputs):
            # An allowed end_call is followed by the bridge's exact-words closing; a plain
            # response.create here means the gate said no: follow its steering, no goodbye.
            self.ended = False  # the call goes on: it will try again later
            return [Say(self._next_question(turns))]
        if "end_call" in request.declared_tools and not self.ended:
            if self._all_heard(turns):
                return self._end_call("all required information collected")
            if knobs and knobs.try_end_early and not self.tried_early:
                self.tried_early = True
                return self._end_call("the caller's request is handled")
        return [Say("Thank you. " + self._next_question(turns))]

    def _all_heard(self, turns: list[Turn]) -> bool:
        # The practical "required fields are in": the last turn has been acted on. A
        # caller who hangs up leaves first, so the model never gets there.
        assert self.scenario is not None
        return self.processed >= len(turns) and not self.scenario.caller.hangs_up

    def _end_call(self, reason: str) -> list[Output]:
        self.ended = True
        call = Call("end_call", {"reason": reason})
        # Real models say goodbye and hang up in one response.
        return [Say(FAREWELL), call] if self.knobs.goodbye_before_end_call else [call]

    def _calls_for(self, turn: Turn, declared: frozenset[str]) -> tuple[list[Output], bool]:
        assert self.scenario is not None
        forget = set(self.scenario.model.forget_tool_calls)
        calls: list[Output] = []
        missed = False
        for key, value in turn.means.items():
            if key == CATEGORY:
                call = Call("categorize_call", {"category": value})
            elif key == PROVIDER:
                call = Call("resolve_provider", {"spoken_name": value})
            elif key == LANGUAGE:
                call = Call("set_language", {"language": value})
            elif key == DECLINED:
                call = Call("decline_field", {"field": value, "quote": turn.say or ""})
            else:
                if key in forget:
                    missed = True
                    continue
                # A misheard value is recorded as confidently as a right one.
                call = Call(f"record_{key}", {"value": self.scenario.model.mishear.get(key, value)})
            if call.name in declared:  # a model can only call what the session declared
                calls.append(call)
        return calls, missed

    def _next_question(self, turns: list[Turn]) -> str:
        if self.processed >= len(turns):
            return "Is there anything else I can help you with?"
        means = turns[self.processed].means
        fields = [k for k in means if k not in (CATEGORY, PROVIDER, LANGUAGE, DECLINED)]
        if DECLINED in means:
            fields.append(means[DECLINED])
        if fields:
            return "Could I have your " + " and ".join(_human(f) for f in fields) + "?"
        return "How can I help you today?"
