"""IMDB at 512 tokens: head, head+tail and chunked training, each scored with every way of reading a test review.

    python benchmarks/imdb_strategies.py [--train 640] [--test 600] [--full] [--out benchmarks/results/imdb_strategies.json]

For each training strategy (head, head_tail with 128 + 382 word pieces, chunk with every window an example, chunk
with the loss pooled over a review's windows) one epoch of fine-tuning of the packaged MiniLM on the same `--train`
seeded training reviews (batch 16, lr 5e-5, warm-up 6%, attention dropout 0, freed memory reused: the `imdb` task's
defaults). Each model is then scored on the same `--test` seeded test reviews read three ways: head, head_tail and
chunk (windows of 510 word pieces overlapping by 127), the chunk windows pooled by mean of logits, mean of
probabilities and max (`evaluation.aggregate_windows`). Accuracy with 95% bootstrap intervals; the head_tail run
also records a learning curve (accuracy on 300 validation reviews every `--curve-every` steps).

`--full` trains on all 22,500 training reviews (validation carved out) and scores all 25,000 test reviews: about
a day per strategy on a 2-core CPU, an hour or so on a GPU. The results, with the machine, go to
`benchmarks/results/imdb_strategies.{json,md,png}`.
"""
from __future__ import annotations

import argparse, shutil, tempfile, time
from pathlib import Path

import numpy as np

from harness import RESULTS, command_line, machine_info, write_json, write_markdown

STRATEGIES = {"head": ("head", "windows"), "head_tail": ("head_tail", "windows"),
              "chunk (windows)": ("chunk", "windows"), "chunk (pooled loss)": ("chunk", "pooled")}
READERS = ("head", "head_tail", "chunk")


def accuracy_entry(pred:np.ndarray, y:np.ndarray) -> dict:
    from basemodel_course.evaluation import bootstrap_ci
    correct = (pred == y).astype(float)
    lo, hi = bootstrap_ci(lambda idx: correct[idx].mean(1), len(correct))
    return {"accuracy": float(correct.mean()), "ci": [float(lo), float(hi)]}


def score_readers(model, tok, test, max_length:int, batch_size:int, head_tokens:int=128) -> dict:
    "The test accuracy of `model` for each reader (and each chunk aggregate)."
    from basemodel_course.data import LongText, make_collator, tokenize_dataset
    from basemodel_course.evaluation import AGGREGATES, aggregate_windows, document_labels, predict
    out = {}
    for reader in READERS:
        enc = tokenize_dataset(test, tok, max_length=max_length, long=LongText(reader, head_tokens=head_tokens))
        t0 = time.perf_counter()
        logits, labels = predict(model, enc, make_collator(tok), batch_size=batch_size)
        wall = time.perf_counter() - t0
        if reader != "chunk":
            out[reader] = accuracy_entry(logits.argmax(-1), labels) | {"seconds": round(wall, 1), "rows": len(enc)}; continue
        doc = np.asarray(enc["doc"]); y = document_labels(labels, doc)
        for how in AGGREGATES:
            out[f"chunk, {how}"] = accuracy_entry(aggregate_windows(logits, doc, how)[1].argmax(-1), y) | {"seconds": round(wall, 1), "rows": len(enc)}
    return out


def run_strategy(name:str, train_raw, val_raw, test_raw, a) -> dict:
    import torch
    from basemodel_course.data import LongText, make_collator, nest_windows, tokenize_dataset
    from basemodel_course.evaluation import predict
    from basemodel_course.losses import PooledWindowLoss
    from basemodel_course.models import load_base_model, set_attention_dropout
    from basemodel_course.training import TrainConfig, train
    truncation, chunk_train = STRATEGIES[name]
    model, tok = load_base_model(None, "classification", label_names=["negative", "positive"], seed=a.seed)
    set_attention_dropout(model, 0.0)
    enc = tokenize_dataset(train_raw, tok, max_length=a.max_length, long=LongText(truncation, head_tokens=a.head_tokens))
    if truncation == "chunk": enc = nest_windows(enc) if chunk_train == "pooled" else enc.remove_columns("doc")
    curve, eval_fn = [], None
    if name == "head_tail" and a.curve_every:
        val_enc = tokenize_dataset(val_raw, tok, max_length=a.max_length, long=LongText("head_tail", head_tokens=a.head_tokens))
        def dev_accuracy(m):
            lg, y = predict(m, val_enc, make_collator(tok), batch_size=a.eval_batch_size)
            curve.append(float((lg.argmax(-1) == y).mean())); return {"accuracy": curve[-1]}
        eval_fn = dev_accuracy
    cfg = TrainConfig(epochs=1, batch_size=16, lr=a.lr, warmup_ratio=0.06, precision="auto", log_every=10**9, seed=a.seed,
                      save_every=None, reuse_host_memory=True, eval_every=a.curve_every if eval_fn else None, device=None)
    out = Path(tempfile.mkdtemp(prefix="imdb-strategy-"))
    t0 = time.perf_counter()
    try:
        res = train(model, enc, make_collator(tok), cfg, out, eval_fn=eval_fn, progress=a.progress,
                    loss_fn=PooledWindowLoss() if chunk_train == "pooled" else None)  # scored below: the last weights, for every strategy alike
    finally: shutil.rmtree(out, ignore_errors=True)
    train_s = time.perf_counter() - t0
    model.eval()
    with torch.inference_mode(): scores = score_readers(model, tok, test_raw, a.max_length, a.eval_batch_size, a.head_tokens)
    row = {"strategy": name, "truncation": truncation, "chunk_train": chunk_train, "train_reviews": len(train_raw),
           "train_rows": len(enc), "optimizer_steps": res.global_step, "train_s": round(train_s, 1), "scores": scores}
    if curve: row["learning_curve"] = {"every_steps": a.curve_every, "reviews_per_step": 16, "validation_reviews": len(val_raw),
                                       "accuracy": curve, "steps": [h["step"] for h in res.history]}
    return row


def plot(res:dict, path:Path) -> None:
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = res["rows"]; readers = ["head", "head_tail", "chunk, mean_logits"]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    w = 0.8 / len(readers)
    for j, rd in enumerate(readers):
        acc = [100 * r["scores"][rd]["accuracy"] for r in rows]
        err = np.array([[100 * (r["scores"][rd]["accuracy"] - r["scores"][rd]["ci"][0]), 100 * (r["scores"][rd]["ci"][1] - r["scores"][rd]["accuracy"])] for r in rows]).T
        ax.bar(np.arange(len(rows)) + (j - 1) * w, acc, w, yerr=err, capsize=3, label=f"read as {rd}")
    ax.set_xticks(range(len(rows)), [r["strategy"] for r in rows])
    lo = min(100 * r["scores"][rd]["ci"][0] for r in rows for rd in readers)
    ax.set(ylim=(max(0, lo - 5), 100), ylabel="test accuracy (%)", xlabel="trained as",
           title=f"IMDB, {rows[0]['train_reviews']} training reviews, {res['test_reviews']} test reviews (95% CIs)")
    ax.legend(fontsize=8, loc="lower right"); ax.grid(axis="y", alpha=0.3); fig.tight_layout()
    fig.savefig(path, dpi=120); plt.close(fig)


def format_table(res:dict) -> str:
    cols = ["head", "head_tail", "chunk, mean_logits", "chunk, mean_probs", "chunk, max"]
    lines = ["| trained as | steps | train (min) | " + " | ".join(f"read as {c}" for c in cols) + " |", "|---" * (3 + len(cols)) + "|"]
    for r in res["rows"]:
        cell = lambda e: f"{100 * e['accuracy']:.1f} [{100 * e['ci'][0]:.1f}, {100 * e['ci'][1]:.1f}]"
        lines.append(f"| {r['strategy']} | {r['optimizer_steps']} | {r['train_s'] / 60:.1f} | " + " | ".join(cell(r["scores"][c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", type=int, default=640, help="seeded training reviews (default 640)")
    p.add_argument("--test", type=int, default=600, help="seeded test reviews (default 600)")
    p.add_argument("--full", action="store_true", help="all 22,500 training and 25,000 test reviews")
    p.add_argument("--only", nargs="*", choices=list(STRATEGIES), default=None, help="train these strategies only")
    p.add_argument("--max-length", type=int, default=512); p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--head-tokens", type=int, default=128, help="head_tail: word pieces kept from the start (default 128)")
    p.add_argument("--seed", type=int, default=42); p.add_argument("--eval-batch-size", type=int, default=32)
    p.add_argument("--curve-every", type=int, default=10, help="head_tail run: validation accuracy every N steps (0: none)")
    p.add_argument("--progress", action="store_true"); p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=str(RESULTS/"imdb_strategies.json"))
    a = p.parse_args(argv)
    import transformers; transformers.logging.set_verbosity_error()
    from basemodel_course.data import load_task
    from basemodel_course.training import reuse_host_memory
    reuse_host_memory()
    dsd = load_task("imdb", a.data_dir).data
    pick = lambda ds, n: ds if a.full else ds.shuffle(seed=a.seed).select(range(min(n, len(ds))))
    train_raw, test_raw, val_raw = pick(dsd["train"], a.train), pick(dsd["test"], a.test), dsd["validation"].shuffle(seed=a.seed).select(range(300))
    res = {"command": command_line(__file__, argv), "machine": machine_info(), "train_reviews": len(train_raw), "test_reviews": len(test_raw),
           "max_length": a.max_length, "head_tokens": a.head_tokens, "lr": a.lr, "rows": []}
    t0 = time.perf_counter()
    for name in a.only or list(STRATEGIES):
        print(f"{name} ...", flush=True)
        res["rows"].append(run_strategy(name, train_raw, val_raw, test_raw, a))
        res["benchmark_wall_s"] = round(time.perf_counter() - t0, 1)
        write_json(a.out, res)  # each finished strategy is kept, whatever happens to the next
        print(format_table(res), flush=True)
    out = Path(a.out)
    write_markdown(out.with_suffix(".md"), res["command"], format_table(res)); plot(res, out.with_suffix(".png"))
    print(f"wrote {out}")


if __name__ == "__main__": main()
