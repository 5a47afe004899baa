"""What was said on a call, in the order it was said: caller turns take their place when the
caller starts speaking and get their words when transcription completes (often after the reply
has started); agent turns are staged when their response is done and written once heard (played
out, cut or dropped), with what was heard. It also keeps the history a new model session is
seeded with. Sans-I/O, like call control, which owns it: it returns actions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from realtime_bridge.call_events import Action, Decide, FillCallerTurn, ReserveTurn, WriteTurn
from realtime_bridge.playback import PlaybackTracker
from realtime_bridge.realtime.model_events import HistoryEntry


@dataclass
class CallerTurnSlot:
    item_id: str
    echo: bool  # speech_started with no sound on the caller's line: kept only if words turn up
    text: str | None = None


@dataclass
class CallTranscript:
    playback: PlaybackTracker
    played_ms: Callable[[str], int]  # what the pacer has sent of an item
    _slots: dict[str, CallerTurnSlot] = field(default_factory=dict)
    _history: list[HistoryEntry | CallerTurnSlot] = field(default_factory=list)
    _staged: list[str] = field(default_factory=list)  # agent items generated, written once heard
    _partials: dict[str, list[str]] = field(default_factory=dict)

    # ---- caller --------------------------------------------------------------------------------
    def caller_started(self, item_id: str, t_ms: int, *, echo: bool) -> list[Action]:
        slot = self._slots[item_id] = CallerTurnSlot(item_id, echo)
        self._history.append(slot)
        return [] if echo else [ReserveTurn(item_id, t_ms)]

    def caller_words(self, item_id: str, text: str | None, t_ms: int, failure: str = "") -> list[Action]:
        """Transcription completed (`text`) or failed (None, with `failure`)."""
        slot = self._slots.pop(item_id, None)
        if slot is None:
            return []
        slot.text = text = (text or "").strip()
        if slot.echo:  # the caller did say something after all: keep it, in its place
            return [ReserveTurn(item_id, t_ms), FillCallerTurn(item_id, text, "transcribed")] if text else []
        out: list[Action] = []
        if failure:
            out.append(Decide("transcription", "fail", f"caller turn not transcribed: {failure}"))
        elif not text:
            out.append(Decide("transcription", "fail", "caller turn transcribed empty"))
        out.append(FillCallerTurn(item_id, text, "transcribed" if text else "untranscribed"))
        return out

    def lose_pending(self, t_ms: int, reason: str) -> list[Action]:
        """Transcriptions that will never come (the session died, the call ended)."""
        out: list[Action] = []
        for item_id in list(self._slots):
            out += self.caller_words(item_id, None, t_ms, reason)
        return out

    def caller_awaits_answer(self) -> bool:
        """The caller's words are the last thing said: a new session owes them an answer. (Words
        lost with a dropped session are not: the audio kept through the gap brings them again.)"""
        for entry in reversed(self._history):
            if isinstance(entry, HistoryEntry):
                return False
            if not entry.echo:
                return bool(entry.text)
        return False

    # ---- agent ---------------------------------------------------------------------------------
    def agent_partial(self, item_id: str, text: str) -> None:
        self._partials.setdefault(item_id, []).append(text)

    def stage(self, messages: tuple[tuple[str, str], ...], first_item: str | None) -> str:
        """A response is done: stage its messages; returns the text of `first_item` if it plays."""
        played = ""
        for item_id, transcript in messages:
            partial = "".join(self._partials.pop(item_id, [])).strip()
            audio = self.playback.items.get(item_id)
            if audio is None:
                continue
            audio.text = transcript or partial  # a cut item may carry only what streamed before the cut
            self._staged.append(item_id)
            if audio.text and not audio.dropped and not (audio.interrupted and not audio.heard_ms):
                self._history.append(HistoryEntry("agent", audio.text))  # being heard: a reseed tells it
            if not (audio.interrupted or audio.dropped) and item_id == first_item:
                played = audio.text
        return played

    def write_heard(self, t_ms: int, *, final: bool = False) -> tuple[list[Action], list[str]]:
        """Write the staged agent turns that have been heard, in order: a turn waits for every turn
        staged before it. At the end of the call (`final`) whatever is left counts as cut where it
        stopped. Returns the actions and the items written."""
        out: list[Action] = []
        written: list[str] = []
        while self._staged:
            item_id = self._staged[0]
            audio = self.playback.items[item_id]
            played = self.played_ms(item_id)
            if not (audio.interrupted or audio.dropped or played >= audio.generated_ms):
                if not final:
                    break
                audio.interrupted, audio.heard_ms = True, played
            self._staged.pop(0)
            written.append(item_id)
            if audio.text:
                heard = 0 if audio.dropped else (audio.heard_ms if audio.interrupted else played)
                cut = audio.interrupted or audio.dropped
                out.append(WriteTurn("agent", audio.text, audio.started_ms or t_ms, item_id, cut, heard))
        return out, written

    # ---- a new session -------------------------------------------------------------------------
    def seed(self) -> list[tuple[Literal["user", "assistant"], str]]:
        """(role, text) of everything said so far, for a new session."""
        return [("assistant" if isinstance(e, HistoryEntry) else "user", e.text) for e in self._history if e.text]
