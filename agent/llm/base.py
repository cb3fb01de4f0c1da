"""The LLM interface: one abstract streaming method; the base class adds `complete()`.

    request = GenerationRequest(messages=[{"role": "system", ...}, {"role": "user", ...}],
                                json_schema={...}, max_tokens=600, temperature=0.0)
    async for chunk in llm.stream(request): chunk.text  # deltas, usage on the last chunk

One-pass ranking uses the optional `score_labels()`: one forward pass, the log-probabilities of
single-token labels ("A", "B", ...) as the answer's first token. Backends that cannot read
next-token log-probabilities set `scores_labels = False` and the recommender generates instead.

Backends: vllm_engine.VLLMEngine (in-process vLLM, default) and openai_remote.OpenAIRemote
(any OpenAI-compatible server, e.g. `vllm serve` on a GPU box). Tests use a scripted fake.
Left out: tool calling, multimodal inputs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class GenerationRequest:
    messages: list[dict[str, str]]
    json_schema: dict | None = None  # constrain output to this JSON schema (structured decoding)
    regex: str | None = None  # or to this regular expression (the explanation verbalizer's vocabulary)
    frequency_penalty: float = 0.0  # > 0 lowers a token's logit by this much per time it was generated (0 = off)
    max_tokens: int = 600
    temperature: float = 0.0
    adapter: str | None = None  # LoRA adapter name, None = base model
    request_id: str = ""
    stop: list[str] = field(default_factory=list)
    # The answer's first words, written by the caller: the model continues them and the returned
    # text is the continuation only. Only for backends with `continues_prefix` (LLM attribute).
    prefix: str = ""


@dataclass(frozen=True)
class LabelRequest:
    """Score the answer's first token: log P(label | prompt) for each label (one forward pass)."""

    messages: list[dict[str, str]]
    labels: tuple[str, ...]  # e.g. ("A", "B", "C"); each must be a single token of the model
    adapter: str | None = None
    request_id: str = ""


@dataclass(frozen=True)
class LabelScores:
    logprobs: tuple[float, ...]  # one per label, same order; full-vocabulary log-probabilities
    prompt_tokens: int = 0


@dataclass(frozen=True)
class GenerationChunk:
    text: str  # new text since the previous chunk
    finish_reason: str | None = None
    prompt_tokens: int = 0  # set on the final chunk
    completion_tokens: int = 0


class LLM(ABC):
    name: str = "llm"
    constrains_output: bool = True  # False when the backend cannot enforce json_schema
    adapters: tuple[str, ...] = ()  # LoRA adapter names this backend can serve
    scores_labels: bool = False  # True when score_labels() is implemented
    continues_prefix: bool = False  # True when GenerationRequest.prefix is honoured (the answer continues it)

    @abstractmethod
    def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        """Yield text deltas; the last chunk has finish_reason and token counts."""

    async def complete(self, request: GenerationRequest) -> GenerationChunk:
        parts, last = [], GenerationChunk("")
        async for chunk in self.stream(request):
            parts.append(chunk.text)
            last = chunk
        return GenerationChunk("".join(parts), last.finish_reason, last.prompt_tokens, last.completion_tokens)

    async def score_labels(self, request: LabelRequest) -> LabelScores:
        """Log-probabilities of `request.labels` as the first answer token (one-pass ranking)."""
        from agent.errors import LLMError

        raise LLMError(f"the {self.name} backend cannot score labels: set MARQUEE_RANKING=generate")

    def special_tokens(self) -> tuple[str, ...]:
        """The tokenizer's control-token strings (`<|im_start|>`, ...), when the backend has one;
        prompts neutralise them in data (agent/prompts.neutralise)."""
        return ()

    def count_tokens(self, messages: list[dict[str, str]]) -> int | None:
        """Prompt tokens for these messages, when the backend has a tokenizer (else None)."""
        return None

    async def start(self) -> None:
        """Load weights / check the connection. Called once before serving."""

    async def close(self) -> None:
        """Release the engine and its connections; returns when they are gone."""
