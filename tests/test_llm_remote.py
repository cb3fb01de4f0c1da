"""OpenAIRemote against a small emulation of a vLLM OpenAI server (records what it was sent)."""

import json

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from agent.errors import LLMError
from agent.llm.base import GenerationRequest
from agent.llm.openai_remote import OpenAIRemote


def fake_vllm(answer: str, seen: list):
    app = FastAPI()

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": "base-model", "object": "model", "owned_by": "x", "created": 0}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        seen.append(body)
        if body["model"] == "broken":
            return JSONResponse({"error": {"message": "no", "type": "x", "param": None, "code": None}}, 500)

        def events():
            for i in range(0, len(answer), 5):
                d = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                     "choices": [{"index": 0, "delta": {"content": answer[i : i + 5]}, "finish_reason": None}]}
                yield f"data: {json.dumps(d)}\n\n"
            d = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                 "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(d)}\n\n"
            u = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"], "choices": [],
                 "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}
            yield f"data: {json.dumps(u)}\n\ndata: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


async def test_remote_sends_schema_and_collects_stream():
    seen = []
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake_vllm('{"recommendations": []}', seen)))
    llm = OpenAIRemote("http://fake/v1", http_client=client, adapters=("marquee-lora",))
    schema = {"type": "object"}
    out = await llm.complete(GenerationRequest(messages=[{"role": "user", "content": "x"}], json_schema=schema,
                                               max_tokens=50, adapter="marquee-lora"))
    assert out.text == '{"recommendations": []}' and (out.prompt_tokens, out.completion_tokens) == (11, 7)
    assert out.finish_reason == "stop"
    body = seen[0]
    assert body["model"] == "marquee-lora" and body["max_tokens"] == 50
    assert body["response_format"]["json_schema"]["schema"] == schema

    await llm.complete(GenerationRequest(messages=[{"role": "user", "content": "x"}]))
    assert seen[1]["model"] == "base-model" and "response_format" not in seen[1]  # discovered via /v1/models


async def test_remote_failure_is_typed():
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake_vllm("", [])))
    llm = OpenAIRemote("http://fake/v1", model="broken", http_client=client)
    with pytest.raises(LLMError, match="failed"):
        await llm.complete(GenerationRequest(messages=[{"role": "user", "content": "x"}]))


def test_remote_needs_url():
    with pytest.raises(LLMError, match="MARQUEE_LLM_URL"):
        OpenAIRemote("")
