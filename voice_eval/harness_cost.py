"""What the online tier's own model calls cost, beside the agent's (which its record prices): the
persona LLM's and the judge's tokens and the transcription of what the caller heard, counted per
call and priced from the project's price table (voice_agent/cost.py). The persona LLM and the judge
are priced at the post-call model's rates (all gpt-4.1-mini by default); transcription by tokens
when the service reports them, else by the minute.
"""

from __future__ import annotations

from openai.types.audio import Transcription
from openai.types.completion_usage import CompletionUsage
from pydantic import BaseModel

from voice_agent.cost import Prices

_PER_MILLION = 1_000_000


class HarnessUsage(BaseModel):
    persona_calls: int = 0
    persona_in: int = 0
    persona_out: int = 0
    transcriptions: int = 0
    transcription_in: int = 0
    transcription_out: int = 0
    transcription_s: float = 0.0  # duration-billed transcription
    judge_in: int = 0
    judge_out: int = 0

    def add_persona(self, usage: CompletionUsage | None) -> None:
        self.persona_calls += 1
        if usage is not None:
            self.persona_in += usage.prompt_tokens
            self.persona_out += usage.completion_tokens

    def add_judge(self, usage: CompletionUsage | None) -> None:
        if usage is not None:
            self.judge_in += usage.prompt_tokens
            self.judge_out += usage.completion_tokens

    def add_transcription(self, reply: Transcription) -> None:
        self.transcriptions += 1
        usage = reply.usage
        if usage is None:
            return
        if usage.type == "tokens":
            self.transcription_in += usage.input_tokens
            self.transcription_out += usage.output_tokens
        else:
            self.transcription_s += usage.seconds

    def cost_usd(self, prices: Prices) -> float:
        chat_in, chat_out = self.persona_in + self.judge_in, self.persona_out + self.judge_out
        persona = chat_in * prices.post_call_in + chat_out * prices.post_call_out
        tokens = self.transcription_in * prices.transcription_in + self.transcription_out * prices.transcription_out
        minutes = self.transcription_s / 60 * prices.transcription_per_minute
        return (persona + tokens) / _PER_MILLION + minutes
