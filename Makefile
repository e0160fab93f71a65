# The two commands of the README. Both set up .venv first (idempotent; see scripts/setup.sh).
SHELL := /bin/bash
# the benchmark data beside the clone, if it is there; a newcomer has none and the chapters use the embedded data
BASEMODEL_DATA ?= $(wildcard $(abspath ../shared/data))
ifneq ($(BASEMODEL_DATA),)
export BASEMODEL_DATA
endif

.PHONY: setup demo test test-data execute test-notebooks test-pytest docs docs-preview browser-check docs-quarto test-properties test-latest constraints sync-check readme

setup:
	bash scripts/setup.sh

## the main job: fine-tune the default model on the embedded default data (Rotten Tomatoes), a few minutes on CPU
demo: setup
	.venv/bin/basemodel-course train --task rotten_tomatoes

## every test: all notebooks executed (their copies with outputs in _exec/), the pytest suite, and the docs:
## the preview built from the executed notebooks and opened page by page in headless Chromium
test: setup test-notebooks test-pytest docs

## two jobs at a time, one thread each: on a 2-core machine, two processes of two threads each fight for the cores
PARALLEL = OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

## run every notebook top to bottom as nbdev-test does (its own test_nb), keeping the executed copies (with figures) in
## _exec/ for the docs; scripts/execute.py queues them longest first, so no long chapter starts last
execute:
	rm -rf _exec && mkdir -p _exec && cp -r nbs/. _exec/
	$(PARALLEL) .venv/bin/python scripts/execute.py _exec --n-workers 2

test-notebooks: execute

test-pytest:
	$(PARALLEL) .venv/bin/pytest -n 2 --durations=15 tests

## with the benchmark data (BASEMODEL_DATA): again the notebooks whose code takes another path with it (02_data reads
## every local copy; chapter 03 trains on WNUT-17 instead of the tiny template set; their executed copies replace the
## newcomer's in _exec/, so the site shows WNUT-17) and every test marked shared_data, then the docs. The notebooks
## (one after the other, a minute or two) and the tests (two workers, about five minutes of one core) run side by side:
## one test worker would leave a core idle most of the time. Chapters 04, 05 and 07 only swap the task's name (sst2 for rotten_tomatoes), whose loading 02_data runs, so they run once, in make test.
DATA_NOTEBOOKS = api/02_data course/03_token_classification
test-data: setup
	@test -n "$(BASEMODEL_DATA)" || { echo "make test-data: set BASEMODEL_DATA to the benchmark data folder"; exit 2; }
	@test -d _exec || $(MAKE) execute
	for nb in $(DATA_NOTEBOOKS); do cp nbs/$$nb.ipynb _exec/$$nb.ipynb; done
	$(PARALLEL) .venv/bin/python scripts/execute.py _exec --n-workers 0 --file-re '^(02_data|03_token_classification)\.ipynb$$' & nbs=$$!; \
	  $(PARALLEL) .venv/bin/pytest -n 2 --durations=8 -m shared_data tests; tests=$$?; \
	  wait $$nbs; notebooks=$$?; echo "test-data: notebooks exit $$notebooks, tests exit $$tests"; \
	  test $$notebooks = 0 && test $$tests = 0
	$(MAKE) docs

## the docs preview (_docs_html/, open _docs_html/index.html) from the executed notebooks, then the browser check
docs: docs-preview browser-check

docs-preview:
	@test -d _exec || $(MAKE) execute
	.venv/bin/python scripts/docs.py

browser-check:
	.venv/bin/python scripts/browser_check.py

## the real site, where Quarto is installed: the same processed notebooks rendered by Quarto into _docs/
docs-quarto: docs-preview
	cd _proc && quarto render --output-dir ../_docs

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
