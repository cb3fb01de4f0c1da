"""OpenAI chat-completions request/response models (the subset Marquee serves) and error JSON.

Fields beyond the OpenAI spec are marked `# extension`. Unknown request fields that official
clients send (top_p, seed, ...) are accepted and ignored, as vLLM does; wrong values of fields
we do use are rejected with HTTP 400.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content)


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text", "json_object", "json_schema"] = "text"


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    user: str | None = Field(None, max_length=256)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int = Field(1, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    num_recommendations: int | None = Field(None, ge=1, le=20)  # extension
    ranking: Literal["one-pass", "generate"] | None = None  # extension: default from the server's settings
    explain: bool | None = None  # extension: False = ranking only (one forward pass), fact-only explanations

    @field_validator("n")
    @classmethod
    def _one_choice(cls, v: int) -> int:
        if v != 1:
            raise ValueError("only n=1 is supported")
        return v

    @property
    def wants_json(self) -> bool:
        return self.response_format is not None and self.response_format.type in ("json_object", "json_schema")


class RecommendationOut(BaseModel):  # extension
    rank: int
    item_id: str
    title: str
    year: int | None
    genres: list[str]
    explanation: str
    explanation_source: Literal["llm", "facts"]
    from_llm: bool  # == (explanation_source == "llm")
    score: float | None = None
    evidence: dict | None = None  # the facts the explanation is written from (agent/explain/evidence.Evidence.as_dict)


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: Literal["stop", "length"] = "stop"
    logprobs: None = None


class MarqueeInfo(BaseModel):  # extension
    recommendations: list[RecommendationOut]
    query: str
    history_size: int
    candidates: int
    filled: int
    dropped: list[str]
    notes: list[str]
    remarks: list[str] = []  # told to the user before the list (which remake, spelling or "#2" was taken)
    question: str | None = None  # the one clarifying question asked after the list, if any
    diagnostics: list[str] = []  # for developers: why explanations were resampled or replaced (never shown as text)


class ChatCompletionResponse(BaseModel):
    id: str = Field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[Choice]
    usage: Usage
    marquee: MarqueeInfo  # extension


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=lambda: int(time.time()))
    owned_by: str = "marquee"
    root: str | None = None
    parent: str | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def error_body(message: str, type_: str, *, param: str | None = None, code: str | int | None = None) -> dict[str, Any]:
    """The one error JSON shape every failure uses (OpenAI's)."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
