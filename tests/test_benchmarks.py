"""The benchmark scripts run end to end (tiny sizes; the figures themselves come from full runs, see benchmarks/)."""
import json
import subprocess
import sys

from conftest import ROOT


def run_benchmark(script:str, *args):
    "Run benchmarks/SCRIPT with ARGS in a fresh process; fails the test with its stderr if it exits non-zero."
    r = subprocess.run([sys.executable, ROOT/"benchmarks"/script, *map(str, args)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_speed_benchmark_smoke(tmp_path, shared_data):
    out = tmp_path/"speed.json"
    r = run_benchmark("speed.py", "--max-train-samples", "64", "--peak-seconds", "0.05", "--data-dir", shared_data, "--out", out)
    res = json.loads(out.read_text())
    for k in ("ours_samples_per_s", "trainer_default_samples_per_s", "trainer_tuned_samples_per_s", "ours_fraction_of_peak"):
        assert res[k] > 0, k
    assert set(res["peak_gflops"]) >= {"fp32", "bf16"} and all(v > 0 for v in res["peak_gflops"].values())
    for name, run in res["runs"].items():
        assert run["samples"] == 64 and 0 <= run["dev_accuracy"] <= 1, name
        assert run["real_tokens"] <= run["padded_tokens"], name
    assert "| ours |" in r.stdout and "HF Trainer, tuned" in r.stdout


def test_peft_benchmark_smoke(tmp_path, shared_data):
    out = tmp_path/"peft.json"
    run_benchmark("peft.py", "--configs", "full,lora,bitfit", "--max-train-samples", "64", "--data-dir", shared_data, "--out", out)
    rows = json.loads(out.read_text())
    assert [x["name"] for x in rows] == ["full", "lora", "bitfit"]
    for x in rows:
        for k in ("method", "trainable_params", "trainable_pct", "dev_accuracy", "ci95", "seconds_per_epoch", "peak_rss_mb"): assert k in x, k
        assert x["samples"] == 64 and 0 <= x["dev_accuracy"] <= 1 and x["ci95"][0] <= x["dev_accuracy"] <= x["ci95"][1]
    full, lora, bitfit = rows
    assert full["trainable_pct"] == 100 and lora["trainable_pct"] < 1 and bitfit["trainable_pct"] < 1
    assert lora["checkpoint_mb"] < full["checkpoint_mb"] / 10  # an adapter, not a model
    assert (tmp_path/"peft.png").exists() and "| lora | lora |" in (tmp_path/"peft.md").read_text()


def test_decoder_benchmark_smoke(tmp_path, shared_data):
    out = tmp_path/"decoder.json"
    run_benchmark("decoder.py", "--rows", "zero_shot,lora", "--max-dev", "16", "--train-samples", "16", "--data-dir", shared_data,
                  "--out", out, "--peft-results", tmp_path/"none.json")
    rows = json.loads(out.read_text())
    assert [x["name"] for x in rows] == ["zero_shot", "lora"]
    zs, lora = rows
    assert zs["trainable_params"] == 0 and zs["train_s"] == 0 and lora["trainable_params"] > 0 and lora["train_s"] > 0
    assert all(x["n_dev"] == 16 and x["gguf_file_mb"] < x["dequantised_mb"] for x in rows)
