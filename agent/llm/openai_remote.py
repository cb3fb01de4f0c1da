"""Remote OpenAI-compatible backend: an existing vLLM (or other) server by URL, the scale-out path.

The JSON schema is sent as `response_format={"type": "json_schema", ...}`, which vLLM enforces
with structured decoding; other servers may not, so ranking.py validates every answer anyway.
A LoRA adapter is selected by model name, as vLLM's `--lora-modules name=dir` exposes it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from agent.errors import LLMError
from agent.llm.base import LLM, GenerationChunk, GenerationRequest


class OpenAIRemote(LLM):
    name = "openai"

    def __init__(self, base_url: str, api_key: str = "EMPTY", model: str | None = None,
                 adapters: tuple[str, ...] = (), http_client=None):
        import openai

        if not base_url:
            raise LLMError("llm_backend=openai needs MARQUEE_LLM_URL, e.g. http://127.0.0.1:8001/v1")
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=1, timeout=300,
                                          http_client=http_client)
        self.base_url = base_url
        self.model = model
        self.adapters = adapters

    @classmethod
    def from_settings(cls, s) -> OpenAIRemote:
        return cls(s.llm_url or "", s.llm_api_key, s.llm_remote_model, (s.lora_name,) if s.lora else ())

    async def start(self) -> None:
        if self.model is None:
            try:
                models = await self._client.models.list()
            except Exception as e:
                raise LLMError(f"cannot reach the LLM server at {self.base_url}: {e}") from e
            if not models.data:
                raise LLMError(f"the LLM server at {self.base_url} serves no model")
            self.model = models.data[0].id

    async def close(self) -> None:
        await self._client.close()  # its HTTP connection pool (a given http_client too)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        if self.model is None:
            await self.start()
        kwargs = {}
        if request.json_schema:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "recommendations", "schema": request.json_schema, "strict": True},
            }
        try:
            stream = await self._client.chat.completions.create(
                model=request.adapter or self.model,
                messages=request.messages,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                stop=request.stop or None,
                stream=True,
                stream_options={"include_usage": True},
                **kwargs,
            )
            finish, usage = None, None
            async for ev in stream:
                if ev.usage is not None:
                    usage = ev.usage
                for choice in ev.choices:
                    finish = choice.finish_reason or finish
                    if choice.delta and choice.delta.content:
                        yield GenerationChunk(choice.delta.content)
            yield GenerationChunk(
                "",
                finish_reason=finish or "stop",
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
            )
        except LLMError:
            raise
        except Exception as e:
            raise LLMError(f"LLM server at {self.base_url} failed: {type(e).__name__}: {e}") from e
