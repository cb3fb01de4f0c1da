"""The jump-forward regex decoder of the vLLM backend (agent/llm/vllm_engine._jump_forward): the
engine is a scripted fake that records each request (the real vLLM path runs in
tests/test_integration.py); the tokenizer and the grammar compiler are the real ones."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace

import pytest

from agent.explain.evidence import Evidence, Link, Reason
from agent.explain.frames import frames_regex
from agent.llm.base import GenerationRequest
from tests.test_hostile_input import smollm_tokenizer

pytest.importorskip("xgrammar")  # comes with vLLM (scripts/install.sh)
pytest.importorskip("vllm")


class ScriptedEngine:
    """Answers each one-token request with the allowed token `pick` chooses; records the requests."""

    def __init__(self, pick):
        self.pick = pick
        self.calls: list[dict] = []

    async def generate(self, prompt, params, rid, lora_request=None):
        assert params.max_tokens == 1 and params.allowed_token_ids
        self.calls.append({"ids": list(prompt["prompt_token_ids"]), "allowed": list(params.allowed_token_ids), "rid": rid})
        token = self.pick(params.allowed_token_ids)
        yield SimpleNamespace(outputs=[SimpleNamespace(token_ids=[token])], finished=True)

    async def abort(self, rid):
        pass


def engine_with(pick):
    from agent.llm.vllm_engine import VLLMEngine

    tok = smollm_tokenizer()
    eng = VLLMEngine("pack:smollm2-135m")  # never started: the scripted engine answers
    eng._tokenizer, eng._special = tok, VLLMEngine.tokenizer_special_tokens(tok)
    eng._engine = ScriptedEngine(pick)
    return eng, tok


EV = Evidence("5", "Ronin", "Ronin (1998)", 1998, ("Action", "Crime"), plot="Mercenaries chase a case.",
              links=(Link("2", "Heat (1995)", ("heist", "tense"), ("Crime",), liked=True),),
              themes=("mercenary", "Paris"), reasons=(Reason("sequence", "Heat (1995)"),))


def run(eng, regex, temperature=0.0, max_tokens=60):
    req = GenerationRequest(messages=[{"role": "user", "content": "Why may you enjoy Ronin?"}], regex=regex,
                            max_tokens=max_tokens, temperature=temperature, prefix="Since you liked Heat (1995), you may enjoy Ronin (1998)")
    return asyncio.run(eng.complete(req))


@pytest.mark.parametrize("which", [min, max])
def test_the_text_is_in_the_grammar_and_forced_text_costs_no_model_call(which):
    eng, tok = engine_with(which)
    rx = frames_regex(EV, EV.links[0], plot=False)
    out = run(eng, rx)
    assert re.fullmatch(rx, out.text), out.text
    assert out.finish_reason == "stop"
    calls = eng._engine.calls
    assert 0 < len(calls) < out.completion_tokens  # the model was asked only at branch points
    prefix_ids = eng._checked_prompt([{"role": "user", "content": "Why may you enjoy Ronin?"}], 60,
                                     "Since you liked Heat (1995), you may enjoy Ronin (1998)")
    for c in calls:  # each step's prompt continues the request's prompt, and offers a real choice
        assert c["ids"][: len(prefix_ids)] == prefix_ids
        assert len(c["allowed"]) > 1
    assert len({c["rid"] for c in calls}) == len(calls)
    assert out.prompt_tokens == len(prefix_ids)


def test_a_branch_inside_a_word_is_left_to_the_model_whole():
    """"about car chase" and "about cartel" share " about car": the decoder forces " about" and
    lets the model write the word, rather than forcing " car" and asking for "tel" or " chase"."""
    tok = smollm_tokenizer()
    about = tok.encode(" about", add_special_tokens=False)
    eng, _ = engine_with(lambda allowed: about[0] if about[0] in allowed else max(allowed))
    ev = Evidence("7", "Up", "Up (2009)", None, ("Action",), themes=("car chase", "cartel"))
    rx = frames_regex(ev, None, plot=False)
    out = run(eng, rx)
    assert re.fullmatch(rx, out.text) and " about " in out.text, out.text
    after = next(c for c in eng._engine.calls if tok.decode(c["ids"]).endswith(" about"))
    assert {" car", " cart"} & {tok.decode([t]) for t in after["allowed"]}
    assert not any(tok.decode(c["ids"]).endswith(" about car") for c in eng._engine.calls)
    assert not any(tok.decode(c["ids"]).endswith(" ") for c in eng._engine.calls)  # the space goes with the next word


def test_max_tokens_cuts_the_text():
    eng, _ = engine_with(min)
    out = run(eng, frames_regex(EV, EV.links[0], plot=False), max_tokens=3)
    assert out.finish_reason == "length" and out.completion_tokens <= 4


def test_the_engine_decoding_setting_keeps_vllms_own_path():
    from agent.llm.vllm_engine import VLLMEngine

    assert VLLMEngine("pack:smollm2-135m").regex_decoding == "jump-forward"
    assert VLLMEngine("pack:smollm2-135m", engine_kwargs={"regex_decoding": "engine"}).regex_decoding == "engine"
