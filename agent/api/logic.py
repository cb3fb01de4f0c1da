"""Chat-completion logic between the HTTP routes and the Recommender: no FastAPI in here.

    to_rec_request(body, settings, adapters) -> RecRequest      (validates sizes, model, messages)
    render_content(rec_items, as_json)       -> assistant message text
    complete(recommender, body)              -> ChatCompletionResponse
    stream_events(recommender, body)         -> async iterator of chunk dicts (SSE payloads)
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

from agent.api.protocol import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    Choice,
    MarqueeInfo,
    RecommendationOut,
    ResponseMessage,
    Usage,
)
from agent.config import Settings
from agent.errors import InvalidRequest, ModelNotFound, RequestTooLarge
from agent.recommender import NO_MATCH, Prepared, Recommender, RecRequest
from agent.types import Item, RankedItem, Ranking, Recommendation


def model_names(settings: Settings, adapters: tuple[str, ...]) -> list[str]:
    return [settings.served_model_name, *adapters]


def to_rec_request(body: ChatCompletionRequest, settings: Settings, adapters: tuple[str, ...]) -> RecRequest:
    names = model_names(settings, adapters)
    if body.model not in names:
        raise ModelNotFound(f"model {body.model!r} does not exist; available: {', '.join(names)}", param="model")
    messages = [{"role": m.role, "content": m.text()} for m in body.messages]
    for out, m in zip(messages, body.messages, strict=True):
        shown = (m.model_extra or {}).get("marquee_recommendations")  # extension: exact ids of an earlier answer
        if m.role == "assistant" and shown is not None:
            if not isinstance(shown, list) or not all(
                    isinstance(x, str | int) or (isinstance(x, dict) and "item_id" in x) for x in shown):
                raise InvalidRequest("marquee_recommendations must be a list of item ids or of objects with "
                                     "an item_id", param="messages")
            out["marquee_recommendations"] = shown
    total = sum(len(m["content"]) for m in messages)
    if total > settings.max_input_chars:
        raise RequestTooLarge(
            f"messages hold {total} characters; the limit is {settings.max_input_chars}", param="messages"
        )
    if not any(m["role"] == "user" and m["content"].strip() for m in messages):
        raise InvalidRequest("messages must contain a non-empty user message", param="messages")
    max_tokens = body.max_completion_tokens or body.max_tokens
    generated = (body.ranking or settings.ranking) == "generate"
    if max_tokens is not None and max_tokens < (64 if generated else 1):
        raise InvalidRequest(
            "max_tokens must be at least 64 with ranking=generate: a ranked list with explanations does not fit in less"
            if generated else "max_tokens must be at least 1", param="max_tokens"
        )
    return RecRequest(
        messages=messages,
        user=body.user,
        n=body.num_recommendations,
        temperature=body.temperature if body.temperature is not None else 0.0,
        max_tokens=max_tokens,
        adapter=body.model if body.model in adapters else None,
        explain=body.explain,
        ranking=body.ranking,
    )


def item_out(r: RankedItem) -> RecommendationOut:
    """One list entry: `score` is what the order was made with (None: the LLM's own order), and
    `from_llm` says whether the LLM wrote the explanation (explanation_source "llm")."""
    return RecommendationOut(
        rank=r.rank, item_id=r.item.item_id, title=r.item.title, year=r.item.year, genres=list(r.item.genres),
        explanation=r.explanation, explanation_source=r.explanation_source, from_llm=r.explanation_source == "llm", score=r.score,
        evidence=r.evidence.as_dict() if r.evidence is not None else None,
    )


def head_for(rank: int, item: Item) -> str:
    return f"{rank}. {item.label}"


def tail_for(r: RankedItem) -> str:
    return f": {r.explanation}\n"


def line_for(r: RankedItem) -> str:
    """One recommendation as text: `1. Heat (1995): explanation` (head_for + tail_for)."""
    return head_for(r.rank, r.item) + tail_for(r)


def json_for(r: RankedItem) -> str:
    # the content is the answer; the evidence behind it stays in the `marquee` extension
    return json.dumps(item_out(r).model_dump(exclude={"evidence"}), ensure_ascii=False)


def render_content(items: tuple[RankedItem, ...], as_json: bool, notes: tuple[str, ...] = (),
                   remarks: tuple[str, ...] = (), question: str = "") -> str:
    if as_json:
        return '{"recommendations": [' + ", ".join(json_for(r) for r in items) + "]}"
    return lead_in(notes if not items else (), remarks) + "".join(line_for(r) for r in items) + tail_question(question)


def lead_in(notes: tuple[str, ...] = (), remarks: tuple[str, ...] = ()) -> str:
    """The text before the list (after any remarks: how remakes, typos and "#2" were read), or why
    there is none when the constraints ruled out every film."""
    said = "".join(r + "\n" for r in remarks) + ("\n" if remarks else "")
    why = next((n.split(": ", 1)[-1] for n in notes if n.startswith(NO_MATCH)), None)
    if why is None:
        return said + "Here is what I would watch next:\n\n"
    return said + f"No film in the catalog matches this request ({why}).\n"


def tail_question(question: str) -> str:
    """The one clarifying question, after the list (never instead of it)."""
    return f"\n{question}\n" if question else ""


def info(rec: Recommendation) -> MarqueeInfo:
    return MarqueeInfo(
        recommendations=[item_out(r) for r in rec.items], query=rec.query, history_size=len(rec.history.entries),
        candidates=len(rec.candidates), filled=rec.filled, dropped=list(rec.dropped), notes=list(rec.notes),
        remarks=list(rec.remarks), question=rec.question or None, diagnostics=list(rec.diagnostics),
    )


async def complete(recommender: Recommender, body: ChatCompletionRequest, req: RecRequest) -> ChatCompletionResponse:
    rec = await recommender.recommend(req)
    return ChatCompletionResponse(
        model=body.model,
        choices=[Choice(message=ResponseMessage(
            content=render_content(rec.items, body.wants_json, rec.notes, rec.remarks, rec.question)))],
        usage=Usage(prompt_tokens=rec.prompt_tokens, completion_tokens=rec.completion_tokens,
                    total_tokens=rec.prompt_tokens + rec.completion_tokens),
        marquee=info(rec),
    )


async def stream_events(
    recommender: Recommender, body: ChatCompletionRequest, req: RecRequest, prep: Prepared
) -> AsyncIterator[dict]:
    """OpenAI chat.completion.chunk dicts: role, lead-in, (one-pass) the order with the first film's
    title, one content delta per explained recommendation, finish. Beyond the spec: each chunk
    that completes a recommendation carries `marquee_recommendation`, the order chunk carries
    `marquee_ranking` ([{rank, item_id, title, year}]), the last carries `marquee`."""
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict, finish: str | None = None, **extra) -> dict:
        return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": body.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}

    as_json = body.wants_json
    yield chunk({"role": "assistant", "content": ""})
    yield chunk({"content": '{"recommendations": [' if as_json else lead_in(prep.notes, prep.remarks)})
    first = True
    head = None  # item id whose text line was started by the Ranking event
    async for ev in recommender.stream(req, prep):
        if isinstance(ev, Ranking):
            # one-pass: the order is final before any explanation exists, so the first film goes
            # out now ("1. Heat (1995)") and its explanation completes the line when checked
            order = [{"rank": i + 1, "item_id": it.item_id, "title": it.title, "year": it.year}
                     for i, it in enumerate(ev.items)]
            text = ""
            if not as_json and ev.items:
                head, text = ev.items[0].item_id, head_for(1, ev.items[0])
            yield chunk({"content": text}, marquee_ranking=order)  # extension field
        elif isinstance(ev, RankedItem):
            if as_json:
                text = ("" if first else ", ") + json_for(ev)
            elif head is not None:  # the Ranking event started this line (or, never in practice, another)
                text = tail_for(ev) if ev.item.item_id == head else "\n" + line_for(ev)
                head = None
            else:
                text = line_for(ev)
            first = False
            yield chunk({"content": text}, marquee_recommendation=item_out(ev).model_dump())  # extension field
        else:
            if head:  # an unfinished first line (its item never arrived): close it
                yield chunk({"content": "\n"})
            if as_json:
                yield chunk({"content": "]}"})
            elif ev.question:
                yield chunk({"content": tail_question(ev.question)})
            yield chunk({}, "stop", marquee=info(ev).model_dump())
            if body.stream_options and body.stream_options.include_usage:
                u = Usage(prompt_tokens=ev.prompt_tokens, completion_tokens=ev.completion_tokens,
                          total_tokens=ev.prompt_tokens + ev.completion_tokens)
                last = chunk({}, None, usage=u.model_dump())
                last["choices"] = []
                yield last
