"""The benchmark scripts run end to end (tiny sizes; the figures themselves come from full runs, see benchmarks/)."""
import json
import subprocess
import sys

from conftest import ROOT, run_cli, tiny_args


def assert_machine(m:dict):
    "A result records the machine it ran on: CPU model and flags, threads, versions."
    assert m["cpu"] and isinstance(m["cpu_flags"], list) and m["torch_threads"] >= 1 and m["torch"] and m["python"], m


def run_benchmark(script:str, *args):
    "Run benchmarks/SCRIPT with ARGS in a fresh process; fails the test with its stderr if it exits non-zero."
    r = subprocess.run([sys.executable, ROOT/"benchmarks"/script, *map(str, args)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_speed_benchmark_smoke(tmp_path, shared_data):
    out = tmp_path/"speed.json"
    r = run_benchmark("speed.py", "--max-train-samples", "64", "--peak-seconds", "0.05", "--repeats", "2", "--max-dev", "64",
                      "--data-dir", shared_data, "--out", out)
    res = json.loads(out.read_text())
    assert len(res["speedup_vs_trainer_tuned_trials"]) == 2 and len(res["runs"]["ours"]["trials_samples_per_s"]) == 2
    assert res["runs"]["ours"]["samples_per_s"] in res["runs"]["ours"]["trials_samples_per_s"]  # the median trial
    for k in ("ours_samples_per_s", "trainer_default_samples_per_s", "trainer_tuned_samples_per_s", "ours_fraction_of_peak"):
        assert res[k] > 0, k
    assert set(res["peak_gflops"]) >= {"fp32", "bf16"} and all(v > 0 for v in res["peak_gflops"].values())
    assert_machine(res["machine"]); assert res["full_train_samples"] == 67349  # from the data, not a constant
    for name, run in res["runs"].items():
        assert run["samples"] == 64 and 0 <= run["dev_accuracy"] <= 1, name
        assert run["real_tokens"] <= run["padded_tokens"], name
    assert "| ours |" in r.stdout and "HF Trainer, tuned" in r.stdout


def test_exact_levers_benchmark_smoke(tmp_path, shared_data):
    out = tmp_path/"levers.json"
    r = run_benchmark("exact_levers.py", "--rounds", "1", "--steps-per-round", "1", "--data-dir", shared_data, "--out", out)
    res = json.loads(out.read_text())
    assert 0 < res["matmul_share"] < 1 and res["amdahl_ceiling"] > 1
    assert set(res["variants"]) == {"baseline", "sparse_rows", "clip_in_adamw", "fast_dropout_mask", "all"}
    assert res["variants"]["baseline"]["speedup_median"] == 1.0
    assert_machine(res["machine"])
    # the sparse-row gradient and the clip folded into AdamW change rounding only, not the update
    assert res["exactness"]["embedding_grad_max_diff"] < 1e-6 and res["exactness"]["weights_max_diff_after_3_steps"] < 1e-5
    assert "| sparse_rows |" in r.stdout


def test_peft_benchmark_smoke(tmp_path, shared_data):
    out = tmp_path/"peft.json"
    run_benchmark("peft_methods.py", "--configs", "full,lora,bitfit", "--max-train-samples", "64", "--max-dev", "64", "--data-dir", shared_data, "--out", out)
    rows = json.loads(out.read_text())
    assert [x["name"] for x in rows] == ["full", "lora", "bitfit"]
    for x in rows:
        for k in ("method", "trainable_params", "trainable_pct", "dev_accuracy", "ci95", "seconds_per_epoch", "peak_rss_mb"): assert k in x, k
        assert x["samples"] == 64 and 0 <= x["dev_accuracy"] <= 1 and x["ci95"][0] <= x["dev_accuracy"] <= x["ci95"][1]
    for x in rows: assert_machine(x["machine"])
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
    for x in rows: assert_machine(x["machine"])


def test_adversarial_benchmark_smoke(tmp_path, shared_data):
    out = tmp_path/"adversarial.json"
    r = run_benchmark("adversarial.py", "--methods", "plain,fgm", "--max-train-samples", "48", "--max-dev", "24", "--n-attack", "6",
                      "--data-dir", shared_data, "--out", out, "--no-progress")
    res = json.loads(out.read_text())
    assert res["methods"] == ["plain", "fgm"] and [x["method"] for x in res["rows"]] == ["plain", "fgm"]
    assert_machine(res["machine"])
    for x in res["rows"]:
        assert x["train_samples"] == 48 and x["dev_n"] == 24 and 0 <= x["dev_accuracy"]["value"] <= 1
        assert set(x["perturbation_curves"]["curves"]) == {"typo", "case", "punctuation", "word_drop"}
        assert x["attack"]["n"] == 6 and "success_rate" in x["attack"]
    d = res["rows"][1]["vs_plain"]["dev_accuracy"]
    assert d["ci95"][0] <= d["value"] <= d["ci95"][1]
    assert (tmp_path/"adversarial.png").exists() and "| fgm |" in (tmp_path/"adversarial.md").read_text() and "| fgm |" in r.stdout


def test_deploy_benchmark_smoke(tmp_path, shared_data):
    run_cli(*tiny_args(tmp_path/"run"), check=True)
    out = tmp_path/"deploy.json"
    run_benchmark("deploy.py", "--run", tmp_path/"run", "--data-dir", shared_data, "--max-dev", "32", "--imdb", "8", "--latency-n", "3",
                  "--batch-sizes", "1,8", "--imdb-batch-sizes", "4", "--out", out)
    res = json.loads(out.read_text())
    assert_machine(res["machine"]); assert set(res["sets"]) == {"sst2_dev", "imdb_sample"}
    assert res["best_speedup_vs_pipeline"] == min(s["best_speedup_vs_pipeline"] for s in res["sets"].values()) > 0
    for s in res["sets"].values():
        names = [r["variant"] for r in s["rows"]]
        assert names[0] == "pipeline" and {"fp32", "int8", "onnx", "onnx-int8"} <= set(names)
        for r in s["rows"]:
            assert r["best_throughput"] > 0 and r["p50_ms"] <= r["p95_ms"] and r["disk_mb"] > 0 and r["peak_rss_mb"] > 0
            assert set(r["first_pass_throughput"]) == set(r["throughput"]) and min(r["first_pass_throughput"].values()) > 0
            lo, hi = r["accuracy"]["ci95"]; assert lo <= r["accuracy"]["value"] <= hi
        assert s["int8_size_ratio"]["onnx-int8"] <= 0.4 and s["int8_size_ratio"]["int8"] <= 0.4  # word embeddings in 8 bits too
    assert (tmp_path/"deploy.md").exists() and (tmp_path/"deploy.png").exists()


def test_sft_tasks_benchmark_smoke(tmp_path, shared_data):
    out = tmp_path/"sft.json"
    run_benchmark("sft_tasks.py", "--data-dir", shared_data, "--tasks", "rotten_tomatoes,wnut17", "--n-train", "8", "--n-eval", "4",
                  "--leave-out", "wnut17", "--run-dir", tmp_path/"run", "--out", out)
    res = json.loads(out.read_text())
    assert_machine(res["machine"]); assert res["n_mixture"] == 8  # the held-out task adds nothing to the mixture
    assert [(r["task"], r["held_out"], r["n"]) for r in res["rows"]] == [("rotten_tomatoes", False, 4), ("wnut17", True, 4)]
    for r in res["rows"]:
        for k in ("before", "after", "difference"): lo, hi = r[k]["ci95"]; assert lo <= r[k]["value"] <= hi
        assert abs(r["after"]["value"] - r["before"]["value"] - r["difference"]["value"]) < 1e-9
    assert (tmp_path/"run"/"generations.jsonl").exists() and "| wnut17 | yes | 4 |" in (tmp_path/"sft.md").read_text()


def test_long_inputs_benchmark_smoke(tmp_path, shared_data):
    "One option row (at 4 x 64 tokens) and one training row of each loop, each in its own process, as the full run does."
    rows = {}
    for name in ("attention dropout 0 + reuse (imdb default)", "HF Trainer tuned", "ours (imdb defaults)"):
        r = run_benchmark("long_inputs.py", "--one", name, "--steps", "1", "--shape", "4", "64", "--train", "16", "--test", "8",
                          "--data-dir", shared_data)
        rows[name] = json.loads([l for l in r.stdout.splitlines() if l.startswith("ROW ")][-1][4:])
    opt = rows["attention dropout 0 + reuse (imdb default)"]
    assert opt["batch"] == [4, 64] and opt["reuse_host_memory"] and opt["attention_dropout"] == 0.0 and opt["peak_rss_mb"] > 0
    assert any("flash" in k for k in opt["sdpa_kernels"]), opt["sdpa_kernels"]  # dropout 0: the fused kernel runs
    for name in ("HF Trainer tuned", "ours (imdb defaults)"):
        t = rows[name]
        assert t["train_reviews"] == 16 and t["optimizer_steps"] == 1 and t["test_reviews"] == 8 and 0 <= t["test_accuracy"] <= 1, t
    assert rows["ours (imdb defaults)"]["reuse_host_memory"] and not rows["HF Trainer tuned"]["reuse_host_memory"]


def test_imdb_strategies_benchmark_smoke(tmp_path, shared_data):
    out = tmp_path/"strategies.json"
    run_benchmark("imdb_strategies.py", "--train", "16", "--test", "8", "--only", "head_tail", "chunk (pooled loss)", "--curve-every", "1",
                  "--max-length", "64", "--head-tokens", "16", "--data-dir", shared_data, "--out", out)
    res = json.loads(out.read_text())
    assert_machine(res["machine"]); assert [r["strategy"] for r in res["rows"]] == ["head_tail", "chunk (pooled loss)"]
    for r in res["rows"]:
        assert set(r["scores"]) == {"head", "head_tail", "chunk, mean_logits", "chunk, mean_probs", "chunk, max"}
        assert r["scores"]["chunk, mean_logits"]["rows"] > 8  # reviews longer than one window of 62 word pieces
    assert len(res["rows"][0]["learning_curve"]["accuracy"]) == res["rows"][0]["optimizer_steps"]
    assert out.with_suffix(".png").exists() and "| head_tail |" in out.with_suffix(".md").read_text()
