"""Deployment: every variant of a run's model against transformers' `pipeline`, on the same model and inputs, in one process.

    python benchmarks/deploy.py --run RUN_DIR [--data-dir DIR] [--variants fp32,bf16,int8,onnx,onnx-int8]
                                [--max-dev N] [--imdb N] [--batch-sizes 1,8,16,32,64,128] [--imdb-batch-sizes 1,8,16,32]
                                [--latency-n 200] [--out benchmarks/results/deploy.json]

For each input set (SST-2 dev: the GLUE dev sentences at the run's maximum length; IMDB: a seeded sample of test reviews,
truncated to 512 wordpieces, where padding dominates) and each variant (`deploy.Predictor`: length-sorted batches, no
gradients; fp32, bf16 weights where bf16 is native, PyTorch dynamic int8, ONNX Runtime fp32 and int8 after
`deploy.export_onnx`) and `pipeline("text-classification")` on the same `model/` folder: model size on disk, load
time, latency p50/p95 at batch 1, throughput (texts/s) at every batch size and at the best one (each timed on a second pass over
the set, after a first pass that is reported too: the first meets every padded shape for the first time), the process's peak RSS
while the variant ran (one process: allocations of earlier rows that are still held count too), and accuracy with a
95% bootstrap CI. `best_speedup_vs_pipeline` is, per set, the best throughput of a variant whose accuracy is within
0.5 points of fp32, over `pipeline`'s best; the top-level key is the smaller of the sets' (both must reach it).
Writes the JSON (with `machine`), a Markdown table and a plot beside it.
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from safetensors.torch import save_file
from transformers import pipeline

from harness import RESULTS, PeakRSS, command_line, machine_info, write_json, write_markdown
from basemodel_course.core import RunFolder, data_root, fast_bf16
from basemodel_course.deploy import ONNX_FILES, ONNX_VARIANTS, export_onnx, predictor_from_run
from basemodel_course.evaluation import mean_entry, resample_indices


def load_sets(data:Path, max_dev:int|None, n_imdb:int, seed:int=0) -> dict:
    "The input sets: (texts, labels, max_length or None for the run's)."
    rows = [l.rstrip("\n").split("\t") for l in (data/"sst2"/"dev.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    sets = {"sst2_dev": ([r[0] for r in rows][:max_dev], np.array([int(r[1]) for r in rows][:max_dev]), None)}
    if n_imdb:
        with open(data/"imdb"/"test.jsonl", encoding="utf-8") as f: reviews = [json.loads(l) for l in f if l.strip()]  # not splitlines(): reviews hold U+2028
        pick = random.Random(seed).sample(range(len(reviews)), min(n_imdb, len(reviews)))
        sets["imdb_sample"] = ([reviews[i]["text"].replace("<br />", " ") for i in pick], np.array([int(reviews[i]["label"]) for i in pick]), 512)
    return sets


def accuracy(pred:np.ndarray, labels:np.ndarray) -> dict:
    "Accuracy with a 95% bootstrap interval."
    return mean_entry(pred == labels, resample_indices(len(labels), 1000, 0))


def disk_mb(run:Path, variant:str, model) -> float:
    "What the variant takes on disk: its saved weights (bf16 and int8 saved here, to a temporary file, to be measured)."
    if variant in ONNX_VARIANTS: return (RunFolder(run).deploy/ONNX_FILES[variant]).stat().st_size / 1e6
    if variant == "fp32": return sum(f.stat().st_size for f in (run/"model").glob("*.safetensors")) / 1e6
    with tempfile.TemporaryDirectory() as d:
        path = Path(d)/"w"
        if variant == "bf16": save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
        else: torch.save(model.state_dict(), path)  # a quantised state dict holds packed parameters, which safetensors cannot store
        return path.stat().st_size / 1e6


def time_throughput(fn, texts:list[str]) -> tuple[float, float]:
    "Texts per second of `fn(texts)`: on a first pass (every padded shape new to the kernels) and on a second one."
    rates = []
    for _ in range(2):
        t0 = time.perf_counter(); fn(texts); rates.append(len(texts) / (time.perf_counter() - t0))
    return rates[0], rates[1]


def latencies(fn, texts:list[str]) -> dict:
    "p50 and p95 milliseconds of one text at a time."
    fn(texts[:1])
    ms = []
    for t in texts:
        t0 = time.perf_counter(); fn([t]); ms.append(1000 * (time.perf_counter() - t0))
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}


def measure(name:str, make, texts, labels, batch_sizes, latency_n, size_mb) -> dict:
    "One row: load, latency, throughput per batch size, accuracy, peak RSS. `make()` returns (predict(texts, bs) -> labels, model)."
    gc.collect()
    with PeakRSS() as rss:
        t0 = time.perf_counter(); predict, model = make(); load_s = time.perf_counter() - t0
        lat = latencies(lambda t: predict(t, 1), texts[:latency_n])
        both = {bs: time_throughput(lambda t, b=bs: predict(t, b), texts) for bs in batch_sizes}
        tput, first = {b: v[1] for b, v in both.items()}, {b: v[0] for b, v in both.items()}
        best_bs = max(tput, key=tput.get)
        acc = accuracy(np.asarray(predict(texts, best_bs)), labels)
        size = size_mb(model)
    print(f"  {name:<12} {tput[best_bs]:8.1f} texts/s (batch {best_bs}), acc {acc['value']:.4f}, {size:.1f} MB, p50 {lat['p50_ms']:.1f} ms", flush=True)
    return {"variant": name, "disk_mb": size, "load_s": load_s, **lat, "throughput": {str(b): v for b, v in tput.items()},
            "first_pass_throughput": {str(b): v for b, v in first.items()},
            "best_batch_size": best_bs, "best_throughput": tput[best_bs], "accuracy": acc, "peak_rss_mb": rss.peak_mb}


def ours(run:Path, variant:str, max_length:int|None):
    "A Predictor of `variant` as (predict(texts, batch_size) -> label indices, model)."
    def make():
        p = predictor_from_run(run, variant, device="cpu", max_length=max_length)
        names = p.label_names
        def predict(texts, bs):
            p.batch_size = bs
            return [names.index(a["label"]) for a in p.predict(texts)]
        return predict, getattr(p.logits_fn, "model", None)
    return make


def hf_pipeline(run:Path, max_length:int):
    "transformers' pipeline on the same model folder, as (predict(texts, batch_size) -> label indices, model)."
    def make():
        pipe = pipeline("text-classification", model=str(run/"model"), device=-1)
        l2i = pipe.model.config.label2id
        def predict(texts, bs):
            return [l2i[o["label"]] for o in pipe(texts, batch_size=bs, truncation=True, max_length=max_length)]
        return predict, pipe.model
    return make


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, help="a classification run folder (the README's SST-2 recipe)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--variants", default="fp32,bf16,int8,onnx,onnx-int8")
    p.add_argument("--max-dev", type=int, default=None, help="only the first N dev sentences (smoke tests)")
    p.add_argument("--imdb", type=int, default=300, help="IMDB test reviews in the long-input set (0: none)")
    p.add_argument("--batch-sizes", default="1,8,16,32,64,128")
    p.add_argument("--imdb-batch-sizes", default="1,8,16,32")
    p.add_argument("--latency-n", type=int, default=200)
    p.add_argument("--out", default=str(RESULTS/"deploy.json"))
    a = p.parse_args(argv)
    run, out = Path(a.run), Path(a.out)
    variants = [v for v in a.variants.split(",") if v != "bf16" or fast_bf16(torch.device("cpu"))]
    if any(v in ONNX_VARIANTS for v in variants) and not (RunFolder(run).deploy/"manifest.json").exists(): export_onnx(run)
    run_len = json.loads((run/"config.json").read_text())["config"]["data"]["max_length"]
    res = {"machine": machine_info(), "command": command_line(__file__, argv), "run": str(run), "sets": {}}
    for set_name, (texts, labels, max_length) in load_sets(data_root(a.data_dir), a.max_dev, a.imdb).items():
        bss = [int(b) for b in (a.imdb_batch_sizes if set_name.startswith("imdb") else a.batch_sizes).split(",")]
        L = max_length or run_len
        print(f"{set_name}: {len(texts)} texts, max length {L}", flush=True)
        rows = [measure("pipeline", hf_pipeline(run, L), texts, labels, bss, a.latency_n, lambda m: disk_mb(run, "fp32", m))]
        for v in variants:
            rows.append(measure(v, ours(run, v, L), texts, labels, bss, a.latency_n, lambda m, v=v: disk_mb(run, v, m)))
        base = {r["variant"]: r for r in rows}
        fp32_acc = base["fp32"]["accuracy"]["value"] if "fp32" in base else None
        ok = [r for r in rows[1:] if fp32_acc is None or abs(r["accuracy"]["value"] - fp32_acc) <= 0.005]
        pipe = base["pipeline"]
        best = max(ok, key=lambda r: r["best_throughput"])
        res["sets"][set_name] = {"n": len(texts), "max_length": L, "rows": rows, "best_variant": best["variant"],
                                 "best_speedup_vs_pipeline": best["best_throughput"] / pipe["best_throughput"],
                                 "best_speedup_vs_pipeline_batch1": best["best_throughput"] / pipe["throughput"].get("1", float("nan")),
                                 "int8_size_ratio": {v: base[v]["disk_mb"] / base["fp32"]["disk_mb"] for v in ("int8", "onnx-int8") if v in base and "fp32" in base}}
        write_json(out, res)  # after each set: a set measured is not lost
    res["best_speedup_vs_pipeline"] = min(s["best_speedup_vs_pipeline"] for s in res["sets"].values())
    write_json(out, res)
    lines = ["| set | variant | texts/s (best batch) | vs pipeline best | texts/s at batch 1 | first pass, best batch | p50 / p95 ms (batch 1) | accuracy [95% CI] | disk MB | load s | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s, r in res["sets"].items():
        pb = next(x for x in r["rows"] if x["variant"] == "pipeline")["best_throughput"]
        for x in r["rows"]:
            ci = x["accuracy"]["ci95"]
            lines.append(f"| {s} | {x['variant']} | {x['best_throughput']:.1f} ({x['best_batch_size']}) | {x['best_throughput'] / pb:.2f}x | "
                         f"{x['throughput'].get('1', float('nan')):.1f} | {x['first_pass_throughput'][str(x['best_batch_size'])]:.1f} | {x['p50_ms']:.1f} / {x['p95_ms']:.1f} | {100 * x['accuracy']['value']:.2f} [{100 * ci[0]:.2f}, {100 * ci[1]:.2f}] | "
                         f"{x['disk_mb']:.1f} | {x['load_s']:.1f} | {x['peak_rss_mb']:.0f} |")
    write_markdown(out.with_suffix(".md"), res["command"], "\n".join(lines) + f"\n\nMachine: {res['machine']['cpu']}, "
                   f"{res['machine']['torch_threads']} threads, torch {res['machine']['torch']}.\n")
    fig, axes = plt.subplots(1, len(res["sets"]), figsize=(5.5 * len(res["sets"]), 3.6), squeeze=False)
    for ax, (s, r) in zip(axes[0], res["sets"].items()):
        names = [x["variant"] for x in r["rows"]]
        ax.barh(names, [x["best_throughput"] for x in r["rows"]], color=["#999999"] + ["#3b75af"] * (len(names) - 1))
        ax.set_xlabel("texts / s (best batch size)"); ax.set_title(f"{s} (n={r['n']}, max length {r['max_length']})"); ax.invert_yaxis()
    fig.tight_layout(); fig.savefig(out.with_suffix(".png"), dpi=120); plt.close(fig)
    print(f"best speedup vs pipeline: {res['best_speedup_vs_pipeline']:.2f}x -> {out}")


if __name__ == "__main__":
    main()
