"""OpenAI chat-completions request/response models (the subset Marquee serves) and error JSON.

Fields beyond the OpenAI spec are marked `# extension`. Unknown request fields that official
clients send (top_p, seed, ...) are accepted and ignored, as vLLM does; wrong values of fields
we do use are rejected with HTTP 400, and so are strings where our booleans or integers belong
(`"stream": "0"`, `"explain": "0"`, `"temperature": "0.7"` or `true`): those fields are strict.

parse_json(raw, max_depth, max_number_chars) reads a request body with limits, so hostile bodies
are 400s rather than 500s: nesting deeper than max_depth, numbers longer than max_number_chars
(Python refuses ints over 4,300 digits with ValueError), NaN/Infinity and numbers that overflow to
infinity (`1e999`), and strings holding lone
UTF-16 surrogates ("\\ud800", which no UTF-8 text can carry): those are rejected, not replaced,
with the JSON path of the first one in `param`.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StrictBool, TypeAdapter, field_validator

StrictInt = Annotated[int, Strict()]
_BRACKETS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')  # strings (skipped) and brackets outside them
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadJSON(ValueError):
    """A body parse_json refuses; `param` is the JSON path of the offending value, when known."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


def json_depth(raw: bytes) -> int:
    """Deepest nesting of arrays/objects, brackets inside strings ignored (one regex pass).

    >>> json_depth(b'{"a": [1, {"b": "[[["}]}'), json_depth(b'3')
    (3, 0)
    """
    depth = deepest = 0
    for m in _BRACKETS.finditer(raw):
        c = m.group()
        if c in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif c in (b"]", b"}"):
            depth -= 1
    return deepest


def parse_json(raw: bytes, max_depth: int = 32, max_number_chars: int = 40):
    """JSON with limits; raises BadJSON (-> HTTP 400).

    >>> parse_json(b'{"n": 5}')
    {'n': 5}
    >>> parse_json(b'[[[1]]]', max_depth=2)
    Traceback (most recent call last):
    ...
    agent.api.protocol.BadJSON: JSON nested 3 deep; the limit is 2
    """
    if json_depth(raw) > max_depth:
        raise BadJSON(f"JSON nested {json_depth(raw)} deep; the limit is {max_depth}")

    def number(kind):
        def parse(text: str):
            if len(text) > max_number_chars:
                raise BadJSON(f"a JSON number has {len(text)} characters; the limit is {max_number_chars}")
            value = kind(text)
            if kind is float and not math.isfinite(value):  # 1e999: Infinity spelled as a number
                raise BadJSON(f"the JSON number {text} is out of range (it would be infinite)")
            return value
        return parse

    def constant(name: str):
        raise BadJSON(f"{name} is not valid JSON")

    try:
        data = json.loads(raw, parse_int=number(int), parse_float=number(float), parse_constant=constant)
    except BadJSON:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadJSON(f"request body is not valid JSON: {e}") from None
    except (ValueError, RecursionError) as e:  # belt and braces: the limits above should catch these first
        raise BadJSON(f"request body is not acceptable JSON: {type(e).__name__}") from None
    where = surrogate_path(data)
    if where is not None:
        raise BadJSON("text holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not a character: "
                      "send valid Unicode", param=where or None)
    return data


def surrogate_path(data, path: str = "") -> str | None:
    """The dotted path of the first string (key or value) holding a lone surrogate, else None.

    >>> surrogate_path({"messages": [{"content": "ok"}, {"content": "bad" + chr(0xD800)}]})
    'messages.1.content'
    """
    if isinstance(data, str):
        return path if _SURROGATE.search(data) else None
    if isinstance(data, dict):
        for k, v in data.items():
            sub = f"{path}.{k}" if path else str(k)
            if _SURROGATE.search(k):
                return sub
            found = surrogate_path(v, sub)
            if found is not None:
                return found
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found = surrogate_path(v, f"{path}.{i}" if path else str(i))
            if found is not None:
                return found
    return None


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
    include_usage: StrictBool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(examples=["marquee"])  # examples: what /docs and schema fuzzers start from
    messages: list[ChatMessage] = Field(min_length=1, examples=[[{"role": "user", "content": "I loved Alien. What next?"}]])
    user: str | None = Field(None, max_length=256)
    temperature: Annotated[float, Strict()] | None = Field(None, ge=0.0, le=2.0)  # strict: 1 and 0.7, not "0.7" or true
    max_tokens: StrictInt | None = Field(None, ge=1)
    max_completion_tokens: StrictInt | None = Field(None, ge=1)
    n: StrictInt = Field(1, ge=1)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    num_recommendations: StrictInt | None = Field(None, ge=1, le=20)  # extension
    ranking: Literal["one-pass", "generate"] | None = None  # extension: default from the server's settings
    explain: StrictBool | None = None  # extension: False = ranking only (one forward pass), fact-only explanations

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
    """The one error JSON shape every failure uses (OpenAI's). Text echoed from the request that
    no UTF-8 can carry (lone surrogates) is shown as `\\ud800`, so the error itself always encodes."""
    def safe(v):
        return v.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(v, str) else v

    return {"error": {"message": safe(message), "type": type_, "param": safe(param), "code": code}}


def openapi_body(tp) -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenAPI `requestBody` of a route that reads its body itself (parse_json's limits, then
    the model), so /openapi.json and /docs still describe it; and the component schemas it refers to.

    >>> extra, defs = openapi_body(StreamOptions)
    >>> extra["requestBody"]["content"]["application/json"]["schema"]["properties"]["include_usage"]["type"], defs
    ('boolean', {})
    """
    schema = TypeAdapter(tp).json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}, defs
