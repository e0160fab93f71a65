"""The command line as a user meets it: bad input, a SIGKILL mid-epoch and its resume, reproducibility."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import CLI, EXAMPLES, ROOT, assert_user_error, run_cli, tiny_args


# ---------------------------------------------------------------- bad input: one sentence, nothing written
def test_unknown_task(tmp_path):
    assert_user_error(run_cli("train", "--task", "sst3", "--out", tmp_path/"run"), "unknown task 'sst3'", "sst2")
    assert not (tmp_path/"run").exists()


def test_missing_data_file(tmp_path):
    (tmp_path/"data"/"sst2").mkdir(parents=True)
    (tmp_path/"data"/"sst2"/"train.tsv").write_text("sentence\tlabel\ngood\t1\n")
    r = run_cli("train", "--task", "sst2", "--data-dir", tmp_path/"data", "--out", tmp_path/"run")
    assert_user_error(r, "dev.tsv", "does not exist")
    assert not (tmp_path/"run").exists()


def write_sst2(tmp_path, train_rows, dev_rows="sentence\tlabel\nfine\t1\n"):
    d = tmp_path/"data"/"sst2"; d.mkdir(parents=True)
    (d/"train.tsv").write_text(train_rows); (d/"dev.tsv").write_text(dev_rows)
    return tmp_path/"data"


def test_wrong_column_count(tmp_path):
    data = write_sst2(tmp_path, "sentence\tlabel\ngood\t1\nbad film\t0\textra\n")
    r = run_cli("train", "--task", "sst2", "--data-dir", data, "--out", tmp_path/"run")
    assert_user_error(r, "train.tsv line 3", "expected 2 tab-separated columns, found 3", code=1)
    assert not (tmp_path/"run").exists()


def test_label_outside_label_set(tmp_path):
    data = write_sst2(tmp_path, "sentence\tlabel\ngood\t1\nbad\t2\n")
    assert_user_error(run_cli("train", "--task", "sst2", "--data-dir", data, "--out", tmp_path/"run"),
                      "train.tsv line 3", "label '2' is not in the label set", code=1)
    assert not (tmp_path/"run").exists()


def test_empty_text(tmp_path):
    data = write_sst2(tmp_path, "sentence\tlabel\ngood\t1\n \t0\n")
    assert_user_error(run_cli("train", "--task", "sst2", "--data-dir", data, "--out", tmp_path/"run"), "train.tsv line 3", "empty text", code=1)


def test_empty_split(tmp_path):
    data = write_sst2(tmp_path, "sentence\tlabel\ngood\t1\n", dev_rows="sentence\tlabel\n")
    assert_user_error(run_cli("train", "--task", "sst2", "--data-dir", data, "--out", tmp_path/"run"), "dev.tsv", "has no examples", code=1)
    assert not (tmp_path/"run").exists()


def test_model_path_missing(tmp_path):
    r = run_cli(*tiny_args(tmp_path/"run", "--model", tmp_path/"no_such_model"))
    assert_user_error(r, "does not exist", "no_such_model")
    assert not (tmp_path/"run").exists()


def test_resume_without_checkpoint(tmp_path):
    (tmp_path/"run").mkdir(); (tmp_path/"run"/"config.json").write_text("{}")
    assert_user_error(run_cli("train", "--resume", tmp_path/"run"), "has no checkpoint to resume from")
    assert_user_error(run_cli("train", "--resume", tmp_path/"empty"), "not a run folder")


def test_local_task_bad_label_in_jsonl(tmp_path):
    (tmp_path/"t.jsonl").write_text('{"text": "a", "label": "pos"}\n{"text": "b", "label": "neg"}\n')
    (tmp_path/"v.jsonl").write_text('{"text": "c", "label": "pos"}\n{"text": "d", "label": "meh"}\n')
    r = run_cli("train", "--task", "local", "--train-file", tmp_path/"t.jsonl", "--validation-file", tmp_path/"v.jsonl", "--out", tmp_path/"run")
    assert_user_error(r, "v.jsonl line 2", "label 'meh'", code=1)


# ---------------------------------------------------------------- runs
def weights(run):
    return load_file(run/"model"/"model.safetensors")


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path):
    extra = ["--epochs", "3", "--save-every", "4", "--eval-every", "10", "--seed", "3"]
    ref = tmp_path/"ref"
    run_cli(*tiny_args(ref, *extra), check=True)

    killed = tmp_path/"killed"
    env = {**os.environ, "TRANSFORMERS_VERBOSITY": "error"}
    p = subprocess.Popen([*CLI, *map(str, tiny_args(killed, *extra))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    state = killed/"checkpoint"/"state.json"
    t0 = time.time()
    while time.time() - t0 < 300:  # wait for a mid-epoch checkpoint past step 8 (20 steps per epoch)
        if state.exists():
            try: s = json.loads(state.read_text())
            except json.JSONDecodeError: s = {}
            if s.get("global_step", 0) >= 8 and s.get("micro_done", 0) > 0: break
        if p.poll() is not None: break
        time.sleep(0.05)
    assert p.poll() is None, "the run finished before it could be killed"
    os.kill(p.pid, signal.SIGKILL); p.wait()
    s = json.loads(state.read_text())
    assert not s["finished"] and s["micro_done"] > 0 and s["global_step"] < 60, s
    assert not (killed/"metrics.json").exists()

    r = run_cli("train", "--resume", killed, "--no-progress", check=True)
    m_ref = json.loads((ref/"metrics.json").read_text()); m_res = json.loads((killed/"metrics.json").read_text())
    assert m_res == m_ref
    w_ref, w_res = weights(ref), weights(killed)
    assert all(torch.equal(w_ref[k], w_res[k]) for k in w_ref)
    evals = lambda run: [l for l in map(json.loads, (run/"log.jsonl").read_text().splitlines()) if "eval" in l]
    assert evals(killed) == evals(ref)


def test_same_seed_same_metrics_and_a_different_seed_differs(tmp_path):
    a, b, c = tmp_path/"a", tmp_path/"b", tmp_path/"c"
    for run, seed in ((a, "5"), (b, "5"), (c, "6")): run_cli(*tiny_args(run, "--seed", seed, "--epochs", "1"), check=True)
    ma, mb, mc = (json.loads((r/"metrics.json").read_text()) for r in (a, b, c))
    assert ma == mb
    wa, wb, wc = weights(a), weights(b), weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)  # the seed really matters: the test can fail


def test_evaluate_command_and_plain_transformers_loading(tmp_path):
    run = tmp_path/"run"
    run_cli(*tiny_args(run, "--epochs", "1"), check=True)
    for f in ("config.json", "log.jsonl", "metrics.json", "curves.png", "confusion_matrix.png", "model/model.safetensors"):
        assert (run/f).exists(), f
    m = json.loads((run/"metrics.json").read_text())
    assert m["task"] == "local" and m["split"] == "test"
    for v in m["metrics"].values(): assert v["ci95"][0] <= v["value"] <= v["ci95"][1]
    conf = json.loads((run/"config.json").read_text())
    assert conf["metadata"]["data_source"].startswith("local:") and conf["config"]["train"]["seed"] == 42
    assert sorted(Path(f).name for f in conf["metadata"]["data_files"]) == ["tiny_sentiment_test.csv", "tiny_sentiment_train.csv", "tiny_sentiment_validation.csv"]
    assert sorted(p.name for p in (run/"checkpoint").iterdir()) == ["checksums.json", "state.json"]  # a finished run keeps no optimizer state
    r = run_cli("evaluate", run, "--split", "validation", check=True)
    assert (run/"metrics-validation.json").exists() and "accuracy" in r.stdout
    from transformers import AutoModelForSequenceClassification
    model = AutoModelForSequenceClassification.from_pretrained(run/"model")
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert_user_error(run_cli("evaluate", run, "--split", "nope"), "has no split 'nope'")


# ---------------------------------------------------------------- adversarial training (see nbs/api/04_training.ipynb)
def test_adversarial_run_records_its_options(tmp_path):
    run = tmp_path/"run"
    run_cli(*tiny_args(run, "--max-train-samples", "64", "--epochs", "1", "--adversarial", "fgm", "--adv-epsilon", "0.5"), check=True)
    train = json.loads((run/"config.json").read_text())["config"]["train"]
    assert (train["adversarial"], train["adv_epsilon"], train["adv_steps"], train["adv_step_size"]) == ("fgm", 0.5, 3, None)
    assert (run/"metrics.json").exists() and (run/"model"/"model.safetensors").exists()


@pytest.mark.parametrize("flags, fragments", [
    (["--adv-epsilon", "0"], ["train.adv_epsilon must be a positive number, got 0.0", "(--adv-epsilon)"]),
    (["--adversarial", "bogus"], ["train.adversarial must be one of ['fgm', 'pgd'] (or unset), got 'bogus'", "(--adversarial)"]),
    (["--adversarial", "pgd", "--adv-steps", "0"], ["train.adv_steps must be at least 1, got 0", "(--adv-steps)"]),
])
def test_adversarial_bad_options(tmp_path, flags, fragments):
    assert_user_error(run_cli(*tiny_args(tmp_path/"run", *flags)), *fragments)
    assert not (tmp_path/"run").exists()
