"""Training speed: our loop against HF `Trainer` (defaults, then tuned), with this machine's matmul peak as the yardstick.

    python benchmarks/speed.py [--max-train-samples N] [--quick] [--levers] [--repeats K] [--out benchmarks/results/speed.json]

One process, in this order:
1. peak: the best matrix-multiply throughput torch reaches here, per precision, on the model's own GEMM shapes;
2. ours: `basemodel_course.training.train` on the first N SST-2 training sentences, one epoch, best settings
   (the fastest precision this hardware offers, length-grouped batches, dynamic padding, fused AdamW, SDPA,
   no per-step host syncs);
3. HF Trainer with its defaults (random order, dynamic padding, fp32, fused AdamW in transformers 5);
4. HF Trainer tuned: `train_sampling_strategy="group_by_length"`, bf16 where supported, fused AdamW.
With `--repeats K`, our loop and Trainer tuned (the close pair) are run K times each, alternating, and the
reported figures are the medians; the per-trial speed-ups (ours over the Trainer run that follows it) give the
spread. With `--levers`, our loop is run again with one lever switched off at a time, to measure each lever's effect.
On CPU (glibc), freed memory is kept for reuse (`reuse_host_memory`) for all runs alike, ours and Trainer's.

Every run uses the same model (the packaged MiniLM, head seeded identically), data, batch size, lr, linear
warm-up/decay schedule, weight decay, clipping and epoch count. Each run's figures:
- wall time of the training call and samples/s;
- tokens/s counting real tokens and counting padded tokens (what the hardware computed);
- achieved training FLOP/s on real tokens, and its fraction of the best measured peak. FLOPs per sequence of
  L real tokens: 6 * N * L + 12 * n_layer * d_model * L**2, with N the encoder's non-embedding parameters (the
  6N rule: forward 2N, backward 4N) and the second term the attention scores and weighted sums (QK^T and AV,
  2 * L * d each per token and layer in the forward pass, times 3 for training);
- peak RSS sampled during the run (and peak GPU memory on CUDA);
- dev accuracy on the full SST-2 dev set (872 sentences), all models scored by the same fp32 code.
The device is picked automatically (cuda > mps > cpu); the script runs unchanged on a GPU.
"""
from __future__ import annotations

import argparse, gc, shutil, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch

from basemodel_course.core import fast_bf16, get_device
from basemodel_course.data import epoch_batches, load_task, make_collator, tokenize_dataset
from basemodel_course.evaluation import predict
from basemodel_course.models import load_base_model
from basemodel_course.training import TrainConfig, reuse_host_memory, train

from harness import RESULTS, PeakRSS, command_line, machine_info, write_json

import transformers
transformers.logging.set_verbosity_error()


# ---------------------------------------------------------------- measuring helpers
class CountingCollator:
    "Wraps a collator and records each batch's real sequence lengths and padded shape (the work really done)."
    def __init__(self, inner): self.inner, self.lengths, self.padded = inner, [], 0
    def __call__(self, examples):
        b = self.inner(examples)
        m = b["attention_mask"]
        self.lengths.append(m.sum(1).tolist()); self.padded += m.numel()
        return b
    @property
    def real(self) -> int: return int(sum(map(sum, self.lengths)))
    def count_batches(self, batches:list[list[int]], lengths) -> None:
        "The same record, from the batch list, for collators that ran in DataLoader worker processes."
        self.lengths = [[int(lengths[i]) for i in b] for b in batches]
        self.padded = sum(len(b) * max(x) for b, x in zip(batches, self.lengths))


def _sync(device):
    if device.type == "cuda": torch.cuda.synchronize()
    elif device.type == "mps": torch.mps.synchronize()


def matmul_peak(device, dtype, shapes, seconds:float=1.5) -> dict:
    "Best GFLOP/s of `a @ b` over `shapes` (M, K, N), each timed for about `seconds` after a warm-up."
    best, per = 0.0, {}
    for M, K, N in shapes:
        a = torch.randn(M, K, device=device).to(dtype); b = torch.randn(K, N, device=device).to(dtype)
        for _ in range(3): a @ b
        _sync(device)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for _ in range(5): a @ b
            n += 5
            _sync(device)
        g = 2 * M * K * N * n / (time.perf_counter() - t0) / 1e9
        per[f"{M}x{K}x{N}"] = round(g, 1); best = max(best, g)
    return {"gflops": round(best, 1), "per_shape": per}


def flops_per_sequence(model) -> tuple[int, int, int]:
    "(N, n_layer, d_model): the encoder's non-embedding parameter count and its shape, for the FLOP formula."
    cfg = model.config
    enc = getattr(model, model.base_model_prefix).encoder
    return sum(p.numel() for p in enc.parameters()), cfg.num_hidden_layers, cfg.hidden_size


def training_flops(lengths:list[list[int]], N:int, n_layer:int, d:int) -> float:
    L = np.concatenate([np.asarray(x, dtype=np.float64) for x in lengths]) if lengths else np.zeros(0)
    return float((6 * N * L + 12 * n_layer * d * L**2).sum())


def gemm_shapes(config, token_counts=(1024, 4096)) -> list[tuple[int, int, int]]:
    "The (M, K, N) matrix multiplies of a training batch of this model: tokens x d x {d, d_ff} and tokens x d_ff x d."
    d, f = config.hidden_size, config.intermediate_size
    return [(T, k, n) for k, n in ((d, d), (d, f), (f, d)) for T in token_counts]


# ---------------------------------------------------------------- the runs
def fresh_model(seed:int, attn:str="sdpa"):
    model, tok = load_base_model(None, "classification", label_names=["negative", "positive"], seed=seed, attn_implementation=attn)
    return model, tok


def dev_accuracy(model, dev, collator, device) -> float:
    model.to(device)
    logits, labels = predict(model, dev, collator, batch_size=128)
    return float((logits.argmax(-1) == labels).mean())


def run_ours(train_ds, dev, tok, hp, device, precision, seed, overrides:dict|None=None) -> dict:
    overrides = overrides or {}
    model, _ = fresh_model(seed, overrides.get("attn", "sdpa"))
    coll = CountingCollator(make_collator(tok, pad_to_multiple_of=overrides.get("pad_to_multiple_of")))
    if overrides.get("pad_to_max"):
        inner = coll.inner
        coll.inner = lambda ex: inner.tokenizer.pad(ex, padding="max_length", max_length=hp["max_length"], return_tensors="pt")
    cfg = TrainConfig(epochs=1, batch_size=hp["batch_size"], lr=hp["lr"], weight_decay=hp["weight_decay"],
                      warmup_ratio=hp["warmup_ratio"], max_grad_norm=1.0, precision=overrides.get("precision", precision),
                      optimizer=overrides.get("optimizer", "adamw_fused"), group_by_length=overrides.get("group_by_length", True),
                      log_every=overrides.get("log_every", 10**9), save_every=None, seed=seed, device=str(device),
                      compile=overrides.get("compile", False), num_workers=overrides.get("num_workers", 0))
    run_dir = Path(tempfile.mkdtemp(prefix="speed-ours-"))
    try:
        with PeakRSS() as mem:
            if device.type == "cuda": torch.cuda.reset_peak_memory_stats()
            _sync(device); t0 = time.perf_counter()
            train(model, train_ds, coll, cfg, run_dir, progress=False)
            _sync(device); wall = time.perf_counter() - t0
    finally: shutil.rmtree(run_dir, ignore_errors=True)
    if cfg.num_workers and not coll.lengths:  # collated in worker processes: count the epoch's batches instead
        lengths = [len(x) for x in train_ds["input_ids"]]
        coll.count_batches(epoch_batches(lengths, cfg.batch_size, cfg.seed, 0, cfg.group_by_length), lengths)
    return _row(model, coll, wall, mem, device, dev, tok, {"precision": cfg.precision, "optimizer": cfg.optimizer,
                "group_by_length": cfg.group_by_length, "compile": cfg.compile, **{k: v for k, v in overrides.items() if k not in ("precision",)}})


def run_trainer(train_ds, dev, tok, hp, device, seed, tuned:bool, bf16:bool) -> dict:
    from transformers import Trainer, TrainingArguments
    model, _ = fresh_model(seed)
    coll = CountingCollator(make_collator(tok))
    steps = -(-len(train_ds) // hp["batch_size"])
    out = Path(tempfile.mkdtemp(prefix="speed-trainer-"))
    kw = dict(output_dir=str(out), per_device_train_batch_size=hp["batch_size"], learning_rate=hp["lr"],
              num_train_epochs=1, weight_decay=hp["weight_decay"], warmup_steps=int(hp["warmup_ratio"] * steps),
              max_grad_norm=1.0, lr_scheduler_type="linear", save_strategy="no", report_to="none", seed=seed,
              disable_tqdm=True, use_cpu=device.type == "cpu")
    if tuned: kw |= dict(train_sampling_strategy="group_by_length", bf16=bf16, optim="adamw_torch_fused")
    args = TrainingArguments(**kw)
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, data_collator=coll)
    try:
        with PeakRSS() as mem:
            if device.type == "cuda": torch.cuda.reset_peak_memory_stats()
            _sync(device); t0 = time.perf_counter()
            trainer.train()
            _sync(device); wall = time.perf_counter() - t0
    finally: shutil.rmtree(out, ignore_errors=True)
    settings = {"train_sampling_strategy": args.train_sampling_strategy, "bf16": args.bf16, "optim": str(args.optim)}
    return _row(trainer.model, coll, wall, mem, device, dev, tok, settings)


def median_run(rs:list[dict]) -> dict:
    "The trial with the median samples/s (lower median for an even count), with every trial's samples/s and dev accuracy attached."
    r = dict(sorted(rs, key=lambda x: x["samples_per_s"])[(len(rs) - 1) // 2])
    if len(rs) > 1:
        r["trials_samples_per_s"] = [x["samples_per_s"] for x in rs]
        r["trials_dev_accuracy"] = [x["dev_accuracy"] for x in rs]
    return r


def _row(model, coll, wall, mem, device, dev, tok, settings) -> dict:
    N, n_layer, d = flops_per_sequence(model)
    fl = training_flops(coll.lengths, N, n_layer, d)
    n = sum(len(x) for x in coll.lengths)
    row = {"settings": settings, "wall_s": round(wall, 2), "samples": n, "samples_per_s": n / wall,
           "real_tokens": coll.real, "padded_tokens": coll.padded, "real_tokens_per_s": coll.real / wall,
           "padded_tokens_per_s": coll.padded / wall, "padding_share": 1 - coll.real / max(coll.padded, 1),
           "train_flops": fl, "achieved_gflops": fl / wall / 1e9, "peak_rss_mb": round(mem.peak_mb, 1)}
    if device.type == "cuda": row["peak_gpu_mem_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    model.eval()
    row["dev_accuracy"] = dev_accuracy(model, dev, make_collator(tok), device)
    del model; gc.collect()
    if device.type == "cuda": torch.cuda.empty_cache()
    return row


def warm_up(train_ds, tok, device, precisions, steps:int=3) -> None:
    "A few untimed training steps per precision, so that no timed run pays this process's one-time costs (kernel selection, allocator growth)."
    model, _ = fresh_model(0); model.to(device).train()
    batch = {k: v.to(device) for k, v in make_collator(tok)([train_ds[i] for i in range(min(32, len(train_ds)))]).items()}
    for prec in precisions:
        for _ in range(steps):
            with torch.autocast(device.type, dtype=prec, enabled=prec != torch.float32):
                model(**batch).loss.backward()
    del model; gc.collect()


# ---------------------------------------------------------------- main
LEVERS = {  # our loop with one lever off (or on, for compile), to measure what each lever is worth
    "fp32 instead of bf16": {"precision": "fp32"},
    "random batches (no length grouping)": {"group_by_length": False},
    "pad every batch to max_length": {"pad_to_max": True},
    "for-loop AdamW instead of fused": {"optimizer": "adamw"},
    "foreach AdamW instead of fused": {"optimizer": "adamw_foreach"},
    "eager attention instead of SDPA": {"attn": "eager"},
    "a host sync (.item()) every step": {"log_every": 1},
    "torch.compile on": {"compile": True},
    "2 DataLoader workers": {"num_workers": 2},
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max-train-samples", type=int, default=None, help="first N SST-2 training sentences (default 8000; --quick 3000)")
    p.add_argument("--quick", action="store_true", help="3,000 sentences: the whole benchmark in under 10 minutes on a 2-core CPU")
    p.add_argument("--levers", action="store_true", help="also run our loop with each lever switched off in turn")
    p.add_argument("--batch-size", type=int, default=32); p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--max-length", type=int, default=128); p.add_argument("--seed", type=int, default=42)
    p.add_argument("--data-dir", default=None, help="folder with sst2/ (default: $BASEMODEL_DATA)")
    p.add_argument("--repeats", type=int, default=1, help="run ours and Trainer tuned this many times each, alternating; report medians")
    p.add_argument("--only", nargs="*", default=None, help="run only these of: ours trainer_default trainer_tuned")
    p.add_argument("--peak-seconds", type=float, default=1.5, help="time each matmul shape this long")
    p.add_argument("--max-dev", type=int, default=None, help="score the first N dev sentences only (smoke tests; default: all)")
    p.add_argument("--out", default=str(RESULTS/"speed.json"))
    a = p.parse_args(argv)
    n = a.max_train_samples or (3000 if a.quick else 8000)
    if a.repeats < 1: p.error(f"--repeats must be at least 1, got {a.repeats}")
    device = get_device(None)
    # glibc keeps freed memory for every run alike (one-way and process-wide; its own effect is measured by
    # benchmarks/step_profile.py in separate processes)
    host_memory_reused = device.type == "cpu" and reuse_host_memory()
    torch.manual_seed(0)
    hp = {"batch_size": a.batch_size, "lr": a.lr, "max_length": a.max_length, "weight_decay": 0.01, "warmup_ratio": 0.06, "epochs": 1}
    t_start = time.perf_counter()

    # 1. peak, on the GEMM shapes of one training batch of this model (tokens x d_model x {d_model, d_ff}) and larger
    model_config = fresh_model(a.seed)[0].config
    shapes = gemm_shapes(model_config)
    precisions = {"fp32": torch.float32, "bf16": torch.bfloat16}
    if device.type == "cuda": precisions["fp16"] = torch.float16; shapes += gemm_shapes(model_config, (16384,))[1:]
    peak = {k: matmul_peak(device, dt, shapes, a.peak_seconds) for k, dt in precisions.items()}
    best_prec = max(peak, key=lambda k: peak[k]["gflops"])
    best_peak = peak[best_prec]["gflops"]
    ours_prec = {"bf16": "bf16", "fp16": "fp16" if device.type == "cuda" else "fp32", "fp32": "fp32"}[best_prec]
    if device.type == "cuda" and torch.cuda.is_bf16_supported(): ours_prec = "bf16"  # bf16 needs no loss scaling
    hw_bf16 = fast_bf16(device)
    machine = machine_info()
    print(f"device {device} ({machine.get('gpu', machine['cpu'])}, {torch.get_num_threads()} threads); "
          f"peak GFLOP/s " + ", ".join(f"{k} {v['gflops']:.0f}" for k, v in peak.items()), flush=True)

    # data: the first n training sentences, the full dev set
    dsd = load_task("sst2", a.data_dir).data
    full_train = len(dsd["train"])
    dsd["train"] = dsd["train"].select(range(min(n, full_train)))
    _, tok = fresh_model(a.seed)
    enc = tokenize_dataset(dsd, tok, max_length=a.max_length)
    train_ds, dev = enc["train"], enc["validation"]
    if a.max_dev: dev = dev.select(range(min(a.max_dev, len(dev))))  # smoke tests only: reported runs score all 872

    warm_up(train_ds, tok, device, list(precisions.values()))
    runs = {}
    want = set(a.only or ["ours", "trainer_default", "trainer_tuned"])
    trials = {"ours": [], "trainer_tuned": []}
    for k in range(a.repeats):
        tag = f" (trial {k + 1}/{a.repeats})" if a.repeats > 1 else ""
        if "ours" in want:
            print(f"our loop{tag} ...", flush=True); trials["ours"].append(run_ours(train_ds, dev, tok, hp, device, ours_prec, a.seed))
        if k == 0 and "trainer_default" in want:
            print("HF Trainer, defaults ...", flush=True); runs["trainer_default"] = run_trainer(train_ds, dev, tok, hp, device, a.seed, False, False)
        if "trainer_tuned" in want:
            print(f"HF Trainer, tuned{tag} ...", flush=True); trials["trainer_tuned"].append(run_trainer(train_ds, dev, tok, hp, device, a.seed, True, hw_bf16))
    for k, rs in trials.items():
        if rs: runs[k] = median_run(rs)
    levers = {}
    if a.levers:
        for name, ov in LEVERS.items():
            if ov.get("precision") == ours_prec: continue
            print(f"lever: {name} ...", flush=True)
            levers[name] = run_ours(train_ds, dev, tok, hp, device, ours_prec, a.seed, ov)

    for r in [*runs.values(), *levers.values()]: r["fraction_of_peak"] = r["achieved_gflops"] / best_peak
    res = {"command": command_line(__file__, argv), "machine": machine,
           "device": str(device), "device_name": machine.get("gpu", machine["cpu"]),
           "threads": torch.get_num_threads(), "torch": torch.__version__, "native_bf16": fast_bf16(device), "host_memory_reused": host_memory_reused,
           "train_samples": len(train_ds), "dev_samples": len(dev), "hyper_parameters": hp,
           "flop_formula": "per sequence of L real tokens: 6*N*L + 12*n_layer*d_model*L^2, N = encoder non-embedding parameters",
           "peak_gflops": {k: v["gflops"] for k, v in peak.items()}, "peak_per_shape": {k: v["per_shape"] for k, v in peak.items()},
           "best_peak_precision": best_prec, "runs": runs, "levers": levers, "repeats": a.repeats,
           "benchmark_wall_s": round(time.perf_counter() - t_start, 1)}
    if "ours" in runs:
        o = runs["ours"]
        res |= {"ours_samples_per_s": o["samples_per_s"], "ours_fraction_of_peak": o["fraction_of_peak"],
                "ours_dev_accuracy": o["dev_accuracy"],
                "full_train_samples": full_train, "full_sst2_epoch_minutes_estimate": full_train / o["samples_per_s"] / 60}
        for k in ("trainer_default", "trainer_tuned"):
            if k in runs:
                res[f"{k}_samples_per_s"] = runs[k]["samples_per_s"]; res[f"{k}_dev_accuracy"] = runs[k]["dev_accuracy"]
                res[f"speedup_vs_{k}"] = o["samples_per_s"] / runs[k]["samples_per_s"]
        if a.repeats > 1 and "trainer_tuned" in runs:
            pairs = [x["samples_per_s"] / y["samples_per_s"] for x, y in zip(trials["ours"], trials["trainer_tuned"])]
            res["speedup_vs_trainer_tuned_trials"] = pairs
            res["speedup_vs_trainer_tuned_range"] = [min(pairs), max(pairs)]
    out = write_json(a.out, res)
    print(format_table(res))
    if "speedup_vs_trainer_tuned_trials" in res:
        print("ours / Trainer tuned, per trial: " + ", ".join(f"{x:.3f}x" for x in res["speedup_vs_trainer_tuned_trials"]))
    print(f"wrote {out}")
    return res


def format_table(res:dict) -> str:
    rows = [("ours", res["runs"].get("ours")), ("HF Trainer, defaults", res["runs"].get("trainer_default")),
            ("HF Trainer, tuned", res["runs"].get("trainer_tuned"))] + [(f"ours, {k}", v) for k, v in res["levers"].items()]
    base = res["runs"].get("ours")
    head = ("| run | wall s | samples/s | real tok/s | padded tok/s | GFLOP/s | % of peak | peak RSS MB | dev acc | vs ours |\n"
            "|---|---|---|---|---|---|---|---|---|---|")
    lines = [f"peak matmul GFLOP/s: " + ", ".join(f"{k} {v:.0f}" for k, v in res["peak_gflops"].items()) +
             f" (best: {res['best_peak_precision']}); {res['train_samples']} training sentences; device {res['device_name']}", "", head]
    for name, r in rows:
        if r is None: continue
        rel = f"{r['samples_per_s'] / base['samples_per_s']:.2f}x" if base else "-"
        lines.append(f"| {name} | {r['wall_s']:.1f} | {r['samples_per_s']:.1f} | {r['real_tokens_per_s']:.0f} | {r['padded_tokens_per_s']:.0f} "
                     f"| {r['achieved_gflops']:.1f} | {100 * r['fraction_of_peak']:.1f} | {r['peak_rss_mb']:.0f} | {100 * r['dev_accuracy']:.2f} | {rel} |")
    return "\n".join(lines)


if __name__ == "__main__": main()
