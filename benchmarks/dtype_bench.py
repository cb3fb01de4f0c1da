"""One bare vLLM forward pass (prefill of a ~560-token prompt, 1 token out, prefix caching off)
in a given dtype: how much emulated bfloat16 costs on a CPU without AVX512-BF16.

    python benchmarks/dtype_bench.py float32     # then: bfloat16
Prints the engine start time and six pass times (s); the first includes warm-up.
"""

import os
import sys
import time

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_USE_AOT_COMPILE", "0")

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from vllm import LLM, SamplingParams

    from agent.modelpack import resolve_model

    dtype = sys.argv[1] if len(sys.argv) > 1 else "float32"
    model = sys.argv[2] if len(sys.argv) > 2 else "pack:smollm2-135m"
    t = time.time()
    llm = LLM(model=resolve_model(model, None), dtype=dtype, max_model_len=4096, enable_prefix_caching=False,
              max_num_batched_tokens=2048)
    print(f"start {dtype} {time.time() - t:.1f} s", flush=True)
    sp = SamplingParams(max_tokens=1, logprobs=20)
    words = "the quick brown fox jumps over a lazy dog while films about space and crime play".split()
    times = []
    for i in range(6):
        prompt = f"{i} " + " ".join(words[(i + j) % len(words)] for j in range(560))
        t = time.time()
        llm.generate([prompt], sp, use_tqdm=False)
        times.append(time.time() - t)
    n = len(llm.get_tokenizer().encode(prompt))
    print(f"RESULT dtype={dtype} prompt_tokens={n} pass_s={[round(x, 2) for x in times]}", flush=True)
