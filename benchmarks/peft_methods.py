"""Parameter-efficient fine-tuning on SST-2: every method of `prepare_peft` under the same budget, one table.

    python benchmarks/peft_methods.py [--set table|frontier|all] [--configs NAME,...] [--max-train-samples N] [--epochs E]
                              [--out benchmarks/results/peft.json] [--data-dir DIR]

Each configuration runs in its own Python process (`harness.run_rows`, so its peak RSS is its own) and does exactly
what a user would:
`load_task("sst2")` -> `tokenize_dataset` (max length 66, which truncates no SST-2 sentence) -> `load_base_model`
(the packaged MiniLM, head seeded with the run seed) -> `prepare_peft(model, method, ...)` -> `train` (AdamW, linear
warm-up/decay, bf16 autocast where the hardware runs it natively, length-grouped batches of 32, the same seed and
data order for every method) -> dev accuracy of the *final* model on the full GLUE dev set (872 sentences) with a
95% bootstrap CI. Nothing is selected on dev: one evaluation per epoch, the last one is reported.

Per row: `method`, `config` (its hyper-parameters), `trainable_params`, `trainable_pct` (of all parameters of the
wrapped model, frozen ones included), `dev_accuracy`, `ci95`, `seconds_per_epoch` (training only: the dev
evaluations are timed and subtracted, the checkpoint writes are included), `peak_rss_mb` (the process's
`ru_maxrss`: data, model, training and evaluation), `checkpoint_mb` (what `train` saved as the model: the whole
model, or the adapter and head for peft methods), `samples`, `epochs`, `device`, `precision`, and `machine` (`harness.machine_info()`: CPU model and flags, threads,
torch version).

Sets: `table` is one row per method (the comparison the chapter plots); `frontier` is LoRA's rank / target-module /
learning-rate / epoch levers (the accuracy-against-parameters frontier). Results are written as a JSON list of rows;
`--append` keeps the rows of other configurations already in the file.
"""
from __future__ import annotations

import argparse, json, resource, sys, tempfile, time
from pathlib import Path

from harness import RESULTS, command_line, emit_row, machine_info, run_rows, write_json, write_markdown
ALL_LINEAR = ("query", "key", "value", "dense")  # "dense": attention output, intermediate, output (and the pooler)
ENC_LINEAR = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")

# name -> (method, options); lr is each method's own, from its usual range (the budget is what is held equal)
TABLE = {
    "full":            ("full",          {"lr": 3e-5}),
    "lora":            ("lora",          {"lr": 1e-3, "r": 16, "alpha": 32, "target_modules": ["query", "value"]}),
    "lora_scratch":    ("lora_scratch",  {"lr": 1e-3, "r": 16, "alpha": 32, "target_modules": ["query", "value"]}),
    "ia3":             ("ia3",           {"lr": 3e-3}),
    "prompt_tuning":   ("prompt_tuning", {"lr": 3e-2, "num_virtual_tokens": 20}),
    "p_tuning":        ("p_tuning",      {"lr": 3e-3, "num_virtual_tokens": 20}),
    "prefix_tuning":   ("prefix_tuning", {"lr": 1e-2, "num_virtual_tokens": 20}),
    "bitfit":          ("bitfit",        {"lr": 1e-3}),
    "freeze4":         ("freeze",        {"lr": 5e-5, "freeze_layers": 4}),
}
FRONTIER = {
    "lora_qv_r4":        ("lora", {"lr": 1e-3, "r": 4, "alpha": 8, "target_modules": ["query", "value"]}),
    "lora_qv_r16_lr2e-3": ("lora", {"lr": 2e-3, "r": 16, "alpha": 32, "target_modules": ["query", "value"]}),
    "lora_all_r4":       ("lora", {"lr": 1e-3, "r": 4, "alpha": 8, "target_modules": list(ENC_LINEAR)}),
    "lora_all_r4_lr2e-3": ("lora", {"lr": 2e-3, "r": 4, "alpha": 8, "target_modules": list(ENC_LINEAR)}),
    "lora_all_r4_2ep":   ("lora", {"lr": 1e-3, "r": 4, "alpha": 8, "target_modules": list(ENC_LINEAR), "epochs": 2}),
    "full_2ep":          ("full", {"lr": 3e-5, "epochs": 2}),
}
CONFIGS = TABLE | FRONTIER
PEFT_KEYS = ("r", "alpha", "dropout", "target_modules", "num_virtual_tokens", "freeze_layers")


def run_one(name:str, method:str, opts:dict, data_dir:str|None, max_train:int|None, epochs:int, seed:int, max_dev:int|None=None) -> dict:
    "Train and score one configuration in this process; returns its row."
    import torch, transformers
    from basemodel_course.core import fast_bf16, get_device
    from basemodel_course.data import load_task, make_collator, tokenize_dataset
    from basemodel_course.evaluation import classification_metrics, predict
    from basemodel_course.models import count_parameters, load_base_model, prepare_peft
    from basemodel_course.core import RunFolder
    from basemodel_course.training import TrainConfig, train
    transformers.logging.set_verbosity_error()
    import datasets; datasets.disable_progress_bars()
    device = get_device()
    precision = "bf16" if fast_bf16(device) else "fp32"
    dsd = load_task("sst2", data_dir).data
    if max_dev: dsd["validation"] = dsd["validation"].select(range(min(max_dev, len(dsd["validation"]))))  # smoke tests only
    if max_train: dsd["train"] = dsd["train"].shuffle(seed=0).select(range(min(max_train, len(dsd["train"]))))
    model, tok = load_base_model(None, "classification", label_names=dsd["train"].features["label"].names, seed=seed)
    enc = tokenize_dataset(dsd, tok, max_length=66)
    coll = make_collator(tok)
    model = prepare_peft(model, method, **{k: (tuple(v) if k == "target_modules" else v) for k, v in opts.items() if k in PEFT_KEYS})
    params = count_parameters(model)
    epochs = opts.get("epochs", epochs)
    cfg = TrainConfig(epochs=epochs, batch_size=32, lr=opts["lr"], weight_decay=0.01, warmup_ratio=0.06, precision=precision,
                      save_every=None, log_every=50, seed=seed, device=str(device), reuse_host_memory=True)
    names = dsd["train"].features["label"].names
    evals, eval_s = [], [0.0]
    def eval_fn(m):
        t = time.perf_counter()
        logits, labels = predict(m, enc["validation"], coll, precision="fp32")
        rep = classification_metrics(labels, logits.argmax(-1), names, n_resamples=1000)
        evals.append(rep["metrics"]["accuracy"]); eval_s[0] += time.perf_counter() - t
        return {"accuracy": rep["metrics"]["accuracy"]["value"]}
    with tempfile.TemporaryDirectory(prefix=f"peft-{name}-") as run:
        t0 = time.perf_counter()
        train(model, enc["train"], coll, cfg, run, eval_fn=eval_fn, progress=False)
        wall = time.perf_counter() - t0
        ckpt = sum(f.stat().st_size for f in RunFolder(run).model.rglob("*") if f.is_file())
    last = evals[-1]
    return {"name": name, "method": method, "config": opts, "trainable_params": params["trainable"],
            "total_params": params["total"], "trainable_pct": params["trainable_pct"],
            "dev_accuracy": last["value"], "ci95": last["ci95"], "dev_accuracy_per_epoch": [e["value"] for e in evals],
            "seconds_per_epoch": (wall - eval_s[0]) / epochs, "wall_s": wall,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "checkpoint_mb": ckpt / 2**20,
            "samples": len(enc["train"]), "epochs": epochs, "batch_size": cfg.batch_size, "seed": seed,
            "device": str(device), "precision": precision, "torch_threads": torch.get_num_threads(), "machine": machine_info()}


def table(rows:list[dict]) -> str:
    head = "| config | method | trainable | % | dev acc (95% CI) | s/epoch | peak RSS MB | ckpt MB |\n|---|---|---|---|---|---|---|---|\n"
    return head + "".join(
        f"| {r['name']} | {r['method']} | {r['trainable_params']:,} | {r['trainable_pct']:.2f} | {100*r['dev_accuracy']:.2f} "
        f"[{100*r['ci95'][0]:.1f}, {100*r['ci95'][1]:.1f}] | {r['seconds_per_epoch']:.0f} | {r['peak_rss_mb']:.0f} | {r['checkpoint_mb']:.1f} |\n"
        for r in rows)


def plot(rows:list[dict], path:Path) -> None:
    "Dev accuracy (with CI) against the trainable share, log scale."
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in rows:
        x, y = r["trainable_pct"], 100 * r["dev_accuracy"]
        ax.errorbar(x, y, yerr=[[y - 100 * r["ci95"][0]], [100 * r["ci95"][1] - y]], fmt="o", capsize=3)
        ax.annotate(r["name"], (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xscale("log"); ax.set_xlabel("trainable parameters (% of the model, log scale)"); ax.set_ylabel("SST-2 dev accuracy (%)")
    ax.set_title(f"{rows[0]['samples']:,} training sentences, same budget per method"); ax.grid(alpha=.3)
    fig.tight_layout(); fig.savefig(path, dpi=120); plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--set", default="table", choices=["table", "frontier", "all"])
    p.add_argument("--configs", default=None, help="comma-separated configuration names (overrides --set); known: " + ", ".join(CONFIGS))
    p.add_argument("--max-train-samples", type=int, default=None, help="train on a fixed random subset (default: all 67,349)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--data-dir", default=None, help="folder with sst2/ (default: $BASEMODEL_DATA)")
    p.add_argument("--out", default=str(RESULTS/"peft.json"))
    p.add_argument("--append", action="store_true", help="keep rows of other configurations already in --out")
    p.add_argument("--max-dev", type=int, default=None, help="score the first N dev sentences only (smoke tests; default: all 872)")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: run one configuration, print its row
    a = p.parse_args(argv)
    if a.one:
        method, opts = CONFIGS[a.one]
        emit_row(run_one(a.one, method, opts, a.data_dir, a.max_train_samples, a.epochs, a.seed, a.max_dev))
        return 0
    names = a.configs.split(",") if a.configs else list({"table": TABLE, "frontier": FRONTIER, "all": CONFIGS}[a.set])
    bad = [n for n in names if n not in CONFIGS]
    if bad: p.error(f"unknown configuration(s) {bad}; known: {list(CONFIGS)}")
    out = Path(a.out)
    rows = [r for r in json.loads(out.read_text()) if r["name"] not in names] if a.append and out.exists() else []
    child_args = ["--epochs", a.epochs, "--seed", a.seed] + (["--max-train-samples", a.max_train_samples] if a.max_train_samples else []) \
                 + (["--data-dir", a.data_dir] if a.data_dir else []) + (["--max-dev", a.max_dev] if a.max_dev else [])
    for name, row in run_rows(__file__, names, child_args):
        rows.append(row)
        print(f"    dev {100*row['dev_accuracy']:.2f} [{100*row['ci95'][0]:.1f}, {100*row['ci95'][1]:.1f}], "
              f"{row['trainable_pct']:.2f}% trainable, {row['seconds_per_epoch']:.0f} s/epoch", flush=True)
        write_json(out, rows)  # after every row: a kill loses nothing already measured
    md = table(rows)
    print(md)
    write_markdown(out.with_suffix(".md"), command_line(__file__, argv), md)
    plot(rows, out.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
