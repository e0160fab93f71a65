# The two commands of the README. Both set up .venv first (idempotent; see scripts/setup.sh).
SHELL := /bin/bash
BASEMODEL_DATA ?= $(abspath ../shared/data)
export BASEMODEL_DATA

.PHONY: setup demo test test-notebooks test-pytest test-properties test-latest constraints sync-check readme docs-check

setup:
	bash scripts/setup.sh

## the main job: fine-tune the default model on the embedded default data (Rotten Tomatoes), a few minutes on CPU
demo: setup
	.venv/bin/basemodel-course train --task rotten_tomatoes

## every test: all notebooks (nbdev-test), the pytest suite, and the docs pages (processed and rendered without Quarto)
test: setup test-notebooks test-pytest docs-check

test-notebooks:
	.venv/bin/nbdev-test --n-workers 2 --timing

test-pytest:
	.venv/bin/pytest -n 2 --durations=15 tests

docs-check:
	.venv/bin/python scripts/docs_check.py

## the property tests with hypothesis's `long` profile: fresh random examples, 20 times as many (CI runs them derandomised)
test-properties: setup
	HYPOTHESIS_PROFILE=long .venv/bin/pytest -n 2 tests/test_losses.py

## the pytest suite against the newest releases of every dependency, in .venv-latest (setup pins constraints.txt)
test-latest:
	VENV=.venv-latest BASEMODEL_LATEST=1 bash scripts/setup.sh
	.venv-latest/bin/pytest -n 2 tests

## after a green CI run: record the exact versions that passed
constraints:
	{ head -2 constraints.txt; .venv/bin/pip freeze | grep -v -E "^#|^-e |^basemodel-course" | sed 's/^torch==\([0-9.]*\)+cpu$$/torch==\1/'; } > constraints.txt.new && mv constraints.txt.new constraints.txt

## README.md is generated from nbs/index.ipynb (nbdev-readme where Quarto exists, else our converter)
readme:
	command -v quarto >/dev/null && .venv/bin/nbdev-readme || .venv/bin/python scripts/make_readme.py

## nbdev-clean, nbdev-export and the README converter must leave git clean
sync-check:
	.venv/bin/nbdev-clean && .venv/bin/nbdev-export && .venv/bin/python scripts/make_readme.py
	@test -z "$$(git status --porcelain)" || { echo "nbdev-clean/nbdev-export changed files:"; git status --porcelain; exit 1; }
