"""Long inputs (IMDB reviews at 512 tokens): what each memory and time option costs, and our loop against HF Trainer.

    python benchmarks/long_inputs.py [--steps 3] [--train 320] [--test 400] [--out benchmarks/results/long_inputs.json]

Every row runs in its own fresh process (`harness.run_rows`), so that its peak RSS, its page faults and its
process-wide switches (glibc's `mallopt`) are its own. Two groups of rows:

1. **Options at 16 x 512** (`--steps` timed steps after one untimed one, on the longest training reviews, so every
   batch is exactly 16 x 512 tokens): BERT's defaults; freed host memory kept for reuse (`reuse_host_memory`);
   attention dropout 0 (`--attention-dropout 0`: SDPA's fused kernel instead of its math path); gradient
   checkpointing; and their combinations. Each row records the step time, peak RSS (`ru_maxrss`), user and system CPU
   time, minor page faults, and which SDPA kernel ran (from a torch.profiler trace of one step).
2. **Training, ours against HF Trainer tuned**: one epoch on `--train` seeded training reviews (head truncation at 512,
   batch 16, lr 5e-5, fp32 or bf16 as this CPU runs best), scored on `--test` seeded test reviews. Trainer is tuned as in
   `benchmarks/speed.py` (length-grouped sampling, fused AdamW, bf16 where native) and given the same model with the
   same attention dropout. Ours runs with the `imdb` task's defaults (attention dropout 0, freed memory reused),
   and once more under a token budget (`--max-tokens 8192`: batches of up to 64 short reviews).

The results (with the machine) go to `benchmarks/results/long_inputs.{json,md}`.
"""
from __future__ import annotations

import argparse, gc, resource, shutil, tempfile, time
from pathlib import Path

from harness import RESULTS, command_line, emit_row, machine_info, run_rows, write_json, write_markdown

OPTION_ROWS = {  # name: (attention dropout, reuse host memory, gradient checkpointing)
    "BERT defaults (attention dropout 0.1)": (0.1, False, False),
    "+ reuse freed memory": (0.1, True, False),
    "+ gradient checkpointing": (0.1, False, True),
    "attention dropout 0": (0.0, False, False),
    "attention dropout 0 + reuse (imdb default)": (0.0, True, False),
    "attention dropout 0 + reuse + checkpointing": (0.0, True, True),
}
TRAIN_ROWS = ("HF Trainer tuned", "ours (imdb defaults)", "ours, token budget 8192")


def _cpu() -> dict:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {"user": r.ru_utime, "sys": r.ru_stime, "minflt": r.ru_minflt}


def _usage(before:dict, after:dict, wall:float) -> dict:
    user, sys_ = after["user"] - before["user"], after["sys"] - before["sys"]
    return {"user_s": round(user, 2), "sys_s": round(sys_, 2), "sys_share": sys_ / max(user + sys_, 1e-9),
            "minor_faults": after["minflt"] - before["minflt"], "wall_s": round(wall, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _precision():
    import torch
    from basemodel_course.core import fast_bf16
    return torch.bfloat16 if fast_bf16(torch.device("cpu")) else None


def _model(dropout:float):
    import transformers
    transformers.logging.set_verbosity_error()
    from basemodel_course.models import load_base_model, set_attention_dropout
    model, tok = load_base_model(None, "classification", label_names=["negative", "positive"], seed=42)
    set_attention_dropout(model, dropout)
    return model, tok


def _imdb(data_dir, n_train:int, n_test:int, seed:int):
    from basemodel_course.data import load_task
    dsd = load_task("imdb", data_dir).data
    pick = lambda ds, n: ds.shuffle(seed=seed).select(range(min(n, len(ds))))
    return pick(dsd["train"], n_train), pick(dsd["test"], n_test)


def sdpa_kernels(model, batch) -> list[str]:
    "The scaled-dot-product attention kernels one training step runs (from a torch.profiler trace)."
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as p:
        model(**batch).loss.backward()
    model.zero_grad(set_to_none=True)
    return sorted({e.key for e in p.key_averages() if "scaled_dot_product" in e.key or "_attention" in e.key and e.key.startswith("aten::_")})


def option_row(name:str, steps:int, data_dir, shape=(16, 512)) -> dict:
    "One option set at exactly `shape` (16 x 512) tokens per batch, in this fresh process."
    dropout, reuse, ckpt = OPTION_ROWS[name]
    import torch
    from basemodel_course.data import make_collator, tokenize_dataset
    from basemodel_course.training import TrainConfig, enable_gradient_checkpointing, make_optimizer, reuse_host_memory
    applied = reuse_host_memory() if reuse else False
    train, _ = _imdb(data_dir, 2000, 0, 0)
    model, tok = _model(dropout)
    B, L = shape
    enc = tokenize_dataset(train, tok, max_length=L)
    long = [i for i, x in enumerate(enc["input_ids"]) if len(x) == L][:B * (steps + 1)]
    if len(long) < B * (steps + 1): raise SystemExit(f"only {len(long)} reviews of {L}+ tokens in the sample")
    coll = make_collator(tok)
    batches = [coll([enc[i] for i in long[j:j + B]]) for j in range(0, len(long), B)]
    if ckpt: enable_gradient_checkpointing(model)
    opt = make_optimizer(model, TrainConfig(lr=5e-5)); model.train()
    dt = _precision()
    def step(b):
        with torch.autocast("cpu", dtype=dt, enabled=dt is not None): loss = model(**b).loss
        loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); opt.zero_grad(set_to_none=True)
    step(batches[0])
    before, t0, times = _cpu(), time.perf_counter(), []
    for b in batches[1:]:
        t = time.perf_counter(); step(b); times.append(time.perf_counter() - t)
    row = {"name": name, "attention_dropout": dropout, "reuse_host_memory": applied, "gradient_checkpointing": ckpt,
           "precision": "bf16" if dt else "fp32", "batch": [B, L], "steps": len(times), "step_s": sum(times) / len(times),
           "samples_per_s": B * len(times) / sum(times), **_usage(before, _cpu(), time.perf_counter() - t0)}
    with torch.autocast("cpu", dtype=dt, enabled=dt is not None): row["sdpa_kernels"] = sdpa_kernels(model, batches[0])
    return row


def train_row(name:str, n_train:int, n_test:int, data_dir, seed:int=42) -> dict:
    "One epoch of training and a test score, ours or HF Trainer's, in this fresh process."
    from basemodel_course.data import make_collator, tokenize_dataset
    from basemodel_course.evaluation import predict
    from basemodel_course.training import TrainConfig, reuse_host_memory, train
    ours = name.startswith("ours")
    applied = reuse_host_memory() if ours else False  # the imdb task's default; Trainer has no such switch
    tr, te = _imdb(data_dir, n_train, n_test, seed)
    model, tok = _model(0.0)  # the same model for both: attention dropout 0
    enc_tr, enc_te = tokenize_dataset(tr, tok, max_length=512), tokenize_dataset(te, tok, max_length=512)
    real_tokens = sum(len(x) for x in enc_tr["input_ids"])
    dt = _precision(); out = Path(tempfile.mkdtemp(prefix="long-inputs-"))
    before, t0 = _cpu(), time.perf_counter()
    try:
        if ours:
            cfg = TrainConfig(epochs=1, batch_size=64 if "budget" in name else 16, max_tokens=8192 if "budget" in name else None,
                              lr=5e-5, warmup_ratio=0.06, precision="bf16" if dt else "fp32", log_every=10**9, save_every=None,
                              seed=seed, device="cpu")
            res = train(model, enc_tr, make_collator(tok), cfg, out, progress=False); steps = res.global_step
        else:
            from transformers import Trainer, TrainingArguments
            args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=16, learning_rate=5e-5, num_train_epochs=1,
                                     weight_decay=0.01, warmup_steps=int(0.06 * -(-len(enc_tr) // 16)), max_grad_norm=1.0,
                                     lr_scheduler_type="linear", save_strategy="no", report_to="none", seed=seed, disable_tqdm=True,
                                     use_cpu=True, train_sampling_strategy="group_by_length", bf16=dt is not None, optim="adamw_torch_fused")
            trainer = Trainer(model=model, args=args, train_dataset=enc_tr, data_collator=make_collator(tok))
            steps = trainer.train().global_step; model = trainer.model
    finally: shutil.rmtree(out, ignore_errors=True)
    row = {"name": name, "reuse_host_memory": applied, "precision": "bf16" if dt else "fp32", "train_reviews": len(enc_tr),
           "optimizer_steps": steps, "real_tokens": real_tokens, **_usage(before, _cpu(), time.perf_counter() - t0)}
    row["samples_per_s"] = len(enc_tr) / row["wall_s"]; row["real_tokens_per_s"] = real_tokens / row["wall_s"]
    model.eval()
    logits, labels = predict(model, enc_te, make_collator(tok), batch_size=32)
    correct = (logits.argmax(-1) == labels).astype(float)
    from basemodel_course.evaluation import bootstrap_ci
    lo, hi = bootstrap_ci(lambda idx: correct[idx].mean(1), len(correct))
    row |= {"test_reviews": len(enc_te), "test_accuracy": float(correct.mean()), "test_accuracy_ci": [float(lo), float(hi)]}
    del model; gc.collect()
    return row


def format_tables(res:dict) -> str:
    B, L = res["option_rows"][0]["batch"]
    lines = [f"### Options at {B} x {L} tokens per batch", "",
             "| setting | s / step | samples/s | peak RSS (GB) | system share of CPU time | minor faults / step | SDPA kernel |", "|---|---|---|---|---|---|---|"]
    for r in res["option_rows"]:
        lines.append(f"| {r['name']} | {r['step_s']:.1f} | {r['samples_per_s']:.2f} | {r['peak_rss_mb'] / 1024:.2f} | {100 * r['sys_share']:.1f}% "
                     f"| {r['minor_faults'] / r['steps']:,.0f} | {', '.join(k.replace('aten::', '') for k in r['sdpa_kernels'])} |")
    lines += ["", f"### One epoch on {res['train_rows'][0]['train_reviews']} reviews, scored on {res['train_rows'][0]['test_reviews']} test reviews", "",
              "| loop | steps | wall (s) | samples/s | real tokens/s | peak RSS (GB) | system share | test accuracy [95% CI] |", "|---|---|---|---|---|---|---|---|"]
    for r in res["train_rows"]:
        lo, hi = r["test_accuracy_ci"]
        lines.append(f"| {r['name']} | {r['optimizer_steps']} | {r['wall_s']:.0f} | {r['samples_per_s']:.2f} | {r['real_tokens_per_s']:.0f} "
                     f"| {r['peak_rss_mb'] / 1024:.2f} | {100 * r['sys_share']:.1f}% | {100 * r['test_accuracy']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}] |")
    lines += ["", f"Ours (imdb defaults) over HF Trainer tuned: **{res['speedup_vs_trainer_tuned']:.2f}x** samples/s; "
              f"with the token budget: **{res['speedup_budget_vs_trainer_tuned']:.2f}x**."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=3, help="timed steps per option row (after one untimed step)")
    p.add_argument("--train", type=int, default=320, help="training reviews for the training rows")
    p.add_argument("--test", type=int, default=400, help="test reviews scored after each training row")
    p.add_argument("--only", choices=("options", "training"), default=None, help="run one group of rows only")
    p.add_argument("--shape", type=int, nargs=2, default=[16, 512], metavar=("BATCH", "LENGTH"), help="the option rows' batch (default 16 512)")
    p.add_argument("--data-dir", default=None, help="folder with imdb/ (default: $BASEMODEL_DATA)")
    p.add_argument("--out", default=str(RESULTS/"long_inputs.json"))
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one:
        emit_row(option_row(a.one, a.steps, a.data_dir, a.shape) if a.one in OPTION_ROWS else train_row(a.one, a.train, a.test, a.data_dir)); return
    args = ["--steps", a.steps, "--train", a.train, "--test", a.test, "--shape", *a.shape] + (["--data-dir", a.data_dir] if a.data_dir else [])
    t0 = time.perf_counter()
    res = {"command": command_line(__file__, argv), "machine": machine_info(), "option_rows": [], "train_rows": []}
    if a.only in (None, "options"): res["option_rows"] = [r for _, r in run_rows(__file__, list(OPTION_ROWS), args)]
    if a.only in (None, "training"): res["train_rows"] = [r for _, r in run_rows(__file__, list(TRAIN_ROWS), args)]
    if res["train_rows"]:
        by = {r["name"]: r for r in res["train_rows"]}
        res["speedup_vs_trainer_tuned"] = by["ours (imdb defaults)"]["samples_per_s"] / by["HF Trainer tuned"]["samples_per_s"]
        res["speedup_budget_vs_trainer_tuned"] = by["ours, token budget 8192"]["samples_per_s"] / by["HF Trainer tuned"]["samples_per_s"]
    res["benchmark_wall_s"] = round(time.perf_counter() - t0, 1)
    out = write_json(a.out, res)
    if res["option_rows"] and res["train_rows"]:
        table = format_tables(res); write_markdown(Path(a.out).with_suffix(".md"), res["command"], table); print(table)
    print(f"wrote {out}")


if __name__ == "__main__": main()
