"""Adversarial training against plain fine-tuning on the same budget: clean accuracy, perturbation curves, attack success.

    python benchmarks/adversarial.py [--methods plain,fgm,pgd] [--max-train-samples N] [--epochs E] [--epsilon EPS]
                                     [--n-attack N] [--data-dir DIR] [--out benchmarks/results/adversarial.json]

Each method is one `run_training` on SST-2 (the packaged MiniLM, max length 66, batch 32, lr 5e-5, the same seed, so the
same head initialisation and data order; only `TrainConfig.adversarial` differs), then, on the GLUE dev set (872
sentences), exactly what `basemodel-course probe` measures: accuracy with a 95% bootstrap CI, `perturbation_curves`
(typos, case, punctuation, word drop at rates 0-0.5, seeded) and `attack` (gradient-guided word substitution) on the
first `--n-attack` dev sentences the model gets right. Every method is scored on the same sentences, so the differences
against plain fine-tuning get *paired* bootstrap intervals (resampling sentences, both models' outcomes together).

The budget is the number of optimizer steps and examples seen, not time: FGM costs two forward-backward passes per step
and PGD `adv_steps + 1`; the seconds are reported beside it. Nothing is selected on dev: the final model is scored.
Writes the JSON (one row per method, the paired differences, `machine`), a Markdown table and a plot beside it.
"""
from __future__ import annotations

import argparse, sys, tempfile, time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from harness import RESULTS, command_line, machine_info, write_json, write_markdown
from basemodel_course.core import auto_precision, get_device, set_seed
from basemodel_course.evaluation import metric_entry, resample_indices
from basemodel_course.probes import attack, perturbation_curves, plot_perturbation_curves, predict_proba
from basemodel_course.run import load_run, load_run_data, make_run_config, run_training

METHODS = ("plain", "fgm", "pgd")


def train_one(method:str, a, work:Path) -> tuple[object, float]:
    "Train one method into work/METHOD; returns the loaded run and the training seconds."
    train = {"epochs": a.epochs, "batch_size": 32, "lr": 5e-5, "seed": a.seed, "save_every": None,
             "precision": auto_precision(get_device(None))}
    if method != "plain": train |= {"adversarial": method, "adv_epsilon": a.epsilon}
    cfg = make_run_config({"task": "sst2", "data_dir": a.data_dir, "max_length": 66, "max_train_samples": a.max_train_samples},
                          None, None, train, str(work/method))
    t0 = time.perf_counter()
    run_training(cfg, progress=not a.no_progress)
    return load_run(work/method), time.perf_counter() - t0


def paired(a:np.ndarray, b:np.ndarray, idx) -> dict:
    "The mean of a - b with a paired bootstrap CI (the same resampled sentences for both)."
    d = np.asarray(a, float) - np.asarray(b, float)
    return metric_entry(d.mean(), None if idx is None else d[idx].mean(1))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--methods", default="plain,fgm", help=f"comma-separated, from {','.join(METHODS)}; the first is the reference")
    p.add_argument("--max-train-samples", type=int, default=20000, help="a fixed random subset of SST-2's 67,349 training sentences")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--epsilon", type=float, default=0.1, help="the adversarial radius on one sentence's input embeddings")
    p.add_argument("--n-attack", type=int, default=300, help="dev sentences given to the attack")
    p.add_argument("--max-dev", type=int, default=None, help="score the first N dev sentences only (smoke tests; default: all 872)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--data-dir", default=None, help="folder with sst2/ (default: $BASEMODEL_DATA)")
    p.add_argument("--out", default=str(RESULTS/"adversarial.json"))
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods: p.error(f"unknown method(s) {bad}; choose from {','.join(METHODS)}")
    out = Path(a.out)
    set_seed(a.seed)
    rows, outcomes = [], {}
    with tempfile.TemporaryDirectory(prefix="adv-") as work:
        for m in methods:
            print(f"== {m}", flush=True)
            run, secs = train_one(m, a, Path(work))
            data = load_run_data(run.config.data)
            dev = data.raw["validation"]
            if a.max_dev: dev = dev.select(range(min(a.max_dev, len(dev))))
            texts, y = dev["text"], np.array(dev["label"])
            clf = lambda t: predict_proba(run.model, run.tokenizer, t, max_length=66)
            correct = (clf(texts).argmax(1) == y).astype(float)
            curves = perturbation_curves(clf, texts, y, seed=a.seed, progress=not a.no_progress)
            att = attack(run.model, run.tokenizer, texts[:a.n_attack], y[:a.n_attack], max_length=66, seed=a.seed, progress=not a.no_progress)
            outcomes[m] = {"correct": correct, "curves": curves}
            rows.append({"method": m, "epsilon": None if m == "plain" else a.epsilon, "train_seconds": secs,
                         "train_samples": len(data.raw["train"]), "epochs": a.epochs,
                         "dev_n": int(len(y)), "dev_accuracy": metric_entry(correct.mean(), correct[resample_indices(len(y))].mean(1)),
                         "perturbation_curves": curves, "attack": att})
    ref = methods[0]
    idx = resample_indices(len(outcomes[ref]["correct"]))
    for r in rows[1:]:
        m = r["method"]
        r["vs_" + ref] = {"dev_accuracy": paired(outcomes[m]["correct"], outcomes[ref]["correct"], idx),
                          "attack_success_rate": {"value": r["attack"]["success_rate"]["value"] - rows[0]["attack"]["success_rate"]["value"],
                                                  "note": "different sentences are attacked (each model's correct ones): compare the two intervals"}}
    result = {"command": command_line(__file__, argv), "task": "sst2", "methods": methods, "rows": rows, "machine": machine_info()}
    write_json(out, result)
    fig = plot_perturbation_curves({r["method"]: r["perturbation_curves"] for r in rows},
                                   title=f"SST-2 dev: accuracy under perturbation ({a.max_train_samples or 'all'} training sentences, {a.epochs} epoch)")
    fig.savefig(out.with_suffix(".png"), dpi=120); plt.close(fig)
    lines = ["| method | train s | dev accuracy [95% CI] | typo 0.3 | word drop 0.3 | attack success [95% CI] | words changed | queries |",
             "|---|---|---|---|---|---|---|---|"]
    ci = lambda e: f"{100 * e['value']:.1f} [{100 * e['ci95'][0]:.1f}, {100 * e['ci95'][1]:.1f}]"
    at = lambda r, k: next(x for x in r["perturbation_curves"]["curves"][k] if abs(x["rate"] - 0.3) < 1e-9)["accuracy"]
    for r in rows:
        wc = r["attack"]["words_changed_mean"]
        lines.append(f"| {r['method']} | {r['train_seconds']:.0f} | {ci(r['dev_accuracy'])} | {ci(at(r, 'typo'))} | {ci(at(r, 'word_drop'))} | "
                     f"{ci(r['attack']['success_rate'])} | {'-' if wc is None else f'{wc:.2f}'} | {r['attack']['queries_mean']:.1f} |")
    for r in rows[1:]:
        d = r["vs_" + ref]["dev_accuracy"]
        lines.append(f"\n{r['method']} minus {ref}, dev accuracy (paired bootstrap): {100 * d['value']:+.2f} points [{100 * d['ci95'][0]:+.2f}, {100 * d['ci95'][1]:+.2f}]")
    m = result["machine"]
    lines.append(f"\nMachine: {m['cpu']}, {m['torch_threads']} threads, torch {m['torch']}" + (f", GPU {m['gpu']}" if "gpu" in m else ""))
    write_markdown(out.with_suffix(".md"), result["command"], "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__": sys.exit(main())
