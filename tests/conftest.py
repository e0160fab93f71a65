import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# property tests: derandomised in CI (the same examples everywhere, every time); `HYPOTHESIS_PROFILE=long` for a
# longer randomised search (see tests/test_losses.py and `make test-properties`)
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("long", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT/"data"/"examples"
CLI = [sys.executable, "-m", "basemodel_course.cli"]


def run_cli(*args, check=False, **kw):
    "Run the CLI in a fresh process; returns the CompletedProcess."
    env = {**os.environ, "TRANSFORMERS_VERBOSITY": "error", "PYTHONUNBUFFERED": "1"}
    r = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env, **kw)
    if check and r.returncode != 0: raise AssertionError(f"exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r


def tiny_args(out, *extra):
    "A tiny local training run on the project's own example sentences."
    return ["train", "--task", "local", "--train-file", EXAMPLES/"tiny_sentiment_train.csv",
            "--validation-file", EXAMPLES/"tiny_sentiment_validation.csv", "--test-file", EXAMPLES/"tiny_sentiment_test.csv",
            "--batch-size", "8", "--epochs", "2", "--lr", "1e-4", "--max-length", "32", "--no-progress", "--out", out, *extra]


def pytest_configure(config):
    config.addinivalue_line("markers", "shared_data: reads the benchmark data (BASEMODEL_DATA); CI runs these again with it (make test-data)")


def pytest_collection_modifyitems(items):
    "Every test that asks for the benchmark data is marked, so `pytest -m shared_data` selects what the data changes."
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()): item.add_marker(pytest.mark.shared_data)


@pytest.fixture
def shared_data():
    d = os.environ.get("BASEMODEL_DATA")
    if not d or not (Path(d)/"sst2").is_dir(): pytest.skip("BASEMODEL_DATA with sst2/ not available")
    return Path(d)


def assert_user_error(r, *fragments, code=2):
    "A single line on stderr naming the problem, no traceback; exit status 2 for a usage error, 1 for a data error."
    assert r.returncode == code, (r.returncode, r.stderr[-1500:])
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("basemodel-course: error: "), r.stderr[-1500:]
    for f in fragments: assert f in err[0], err[0]
    return err[0]
