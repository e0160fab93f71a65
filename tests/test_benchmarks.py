"""The benchmark scripts run end to end (tiny sizes; the figures themselves come from full runs, see benchmarks/)."""
import json
import subprocess
import sys

from conftest import ROOT


def test_speed_benchmark_smoke(tmp_path, shared_data):
    out = tmp_path/"speed.json"
    r = subprocess.run([sys.executable, ROOT/"benchmarks"/"speed.py", "--max-train-samples", "64", "--peak-seconds", "0.05",
                        "--data-dir", shared_data, "--out", out], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(out.read_text())
    for k in ("ours_samples_per_s", "trainer_default_samples_per_s", "trainer_tuned_samples_per_s", "ours_fraction_of_peak"):
        assert res[k] > 0, k
    assert set(res["peak_gflops"]) >= {"fp32", "bf16"} and all(v > 0 for v in res["peak_gflops"].values())
    for name, run in res["runs"].items():
        assert run["samples"] == 64 and 0 <= run["dev_accuracy"] <= 1, name
        assert run["real_tokens"] <= run["padded_tokens"], name
    assert "| ours |" in r.stdout and "HF Trainer, tuned" in r.stdout
