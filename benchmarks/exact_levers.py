"""How much faster can a training step get without changing what it computes? Paired A/B trials of three prototype levers.

    python benchmarks/exact_levers.py [--rounds 12] [--steps-per-round 10] [--out benchmarks/results/exact_levers.json]

Our loop and HF Trainer tuned run the same kernels (see PERF_NOTES.md), so beating Trainer by a margin needs work
that Trainer does and we do not. This script measures the ceiling and three candidates, on the default model,
length-grouped batches of 32 SST-2 sentences, the precision `train` picks on this machine (bf16 autocast where the
CPU has native bf16, else fp32), fused AdamW and clipping at 1.0, as in `benchmarks/speed.py`:

1. **The matmul floor.** A torch.profiler trace of baseline steps; the share of time in matrix multiplies
   (`mm`, `addmm`, `bmm`, `baddbmm`) bounds what any loop over the same work can gain (Amdahl): if everything
   else took no time, a step would be `1 / share` times faster.
2. **Paired trials.** Each variant is its own copy of the model and optimizer; every round, each variant takes
   the same `--steps-per-round` batches in turn, so a round's batch lengths are the same for all of them, and the
   per-round ratio (baseline time / variant time) cancels the machine's drift. The variants:
   - `sparse_rows`: the word-embedding table (11.7M of the model's 22.7M parameters) gets a sparse gradient
     (`nn.Embedding.sparse`), added into a dense buffer kept across steps; after the optimizer step only the rows
     the batch touched are zeroed again. The dense 47 MB zero-fill of every step goes; AdamW still updates every row
     (its moments decay each step), so the update is the same.
   - `clip_in_adamw`: the clipping coefficient is handed to the fused AdamW kernel as its `grad_scale` (the hook
     `GradScaler` uses), instead of a separate pass that multiplies every gradient.
   - `fast_dropout_mask`: the hidden-state dropouts (`nn.Dropout` modules; the attention-probability dropout runs
     inside SDPA and is left alone) draw their keep-masks as 16-bit integers from numpy's PCG64 generator, which
     draws a 480 x 384 mask in 0.22 ms against 1.30 ms for torch's `bernoulli_` (a micro-benchmark on machine B of
     PERF_NOTES.md). Same keep probability (to 1/65,536), another random stream.
   - `all`: the three together.
3. **Exactness.** With dropout off: the word-embedding gradient of one batch, dense against the sparse rows
   scattered into the buffer; and the largest weight difference after the baseline and `sparse_rows + clip_in_adamw`
   take the same 3 steps from the same weights (float rounding only).

None of these levers is in the library: `PERF_NOTES.md` says why.
"""
from __future__ import annotations

import argparse, copy, time

import numpy as np
import torch
import transformers
from torch.profiler import ProfilerActivity, profile

from basemodel_course.core import fast_bf16
from basemodel_course.data import epoch_batches, load_task, make_collator, tokenize_dataset
from basemodel_course.models import load_base_model
from basemodel_course.training import TrainConfig, make_optimizer
from harness import RESULTS, command_line, machine_info, write_json

transformers.logging.set_verbosity_error()
MATMUL_OPS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}
VARIANTS = {"baseline": set(), "sparse_rows": {"sparse_rows"}, "clip_in_adamw": {"clip_in_adamw"},
            "fast_dropout_mask": {"fast_dropout_mask"}, "all": {"sparse_rows", "clip_in_adamw", "fast_dropout_mask"}}


class _MaskedScale(torch.autograd.Function):
    "x * keep * scale, keeping only the bool mask for the backward pass."
    @staticmethod
    def forward(ctx, x, keep, scale):
        ctx.save_for_backward(keep); ctx.scale = scale
        return x * keep * scale
    @staticmethod
    def backward(ctx, g):
        keep, = ctx.saved_tensors
        return g * keep * ctx.scale, None, None


def _fast_dropout(mod:torch.nn.Dropout, rng:np.random.Generator):
    thr = round((1 - mod.p) * 65536); scale = 65536 / thr  # keep when a uniform 16-bit draw is below thr
    def forward(x):
        if not mod.training or mod.p == 0: return x
        draws = torch.from_numpy(rng.integers(0, 65536, x.numel(), dtype=np.uint16).view(np.int16)).view(x.shape)
        return _MaskedScale.apply(x, (draws.to(torch.int32) & 0xFFFF) < thr, scale)
    return forward


class Variant:
    "One copy of the model and its optimizer, stepping with a set of levers."
    def __init__(self, base, levers:set, lr:float, amp, seed:int=0):
        self.levers, self.amp = levers, amp
        self.model = copy.deepcopy(base).train()
        self.opt = make_optimizer(self.model, TrainConfig(lr=lr))
        self.emb = self.model.get_input_embeddings()
        self.buf = None
        if "sparse_rows" in levers: self.emb.sparse = True
        if "fast_dropout_mask" in levers:
            rng = np.random.default_rng(seed)
            for m in self.model.modules():
                if isinstance(m, torch.nn.Dropout): m.forward = _fast_dropout(m, rng)

    def step(self, batch:dict) -> torch.Tensor:
        model, opt, w = self.model, self.opt, self.emb.weight
        with torch.autocast("cpu", dtype=self.amp, enabled=self.amp is not None):
            loss = model(**batch).loss
        loss.backward()
        if "sparse_rows" in self.levers:  # scatter the sparse rows into the persistent dense buffer
            g = w.grad
            if self.buf is None: self.buf = torch.zeros_like(w)
            rows = g._indices()[0]
            self.buf.index_add_(0, rows, g._values()); w.grad = self.buf
        if "clip_in_adamw" in self.levers:  # the fused kernel divides each gradient by grad_scale as it reads it
            norm = torch.nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None])
            opt.grad_scale = 1.0 / torch.clamp(1.0 / (norm + 1e-6), max=1.0); opt.found_inf = torch.zeros(())
        else:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if "sparse_rows" in self.levers:
            w.grad = None; opt.zero_grad(set_to_none=True); self.buf.index_fill_(0, rows, 0.0)
        else: opt.zero_grad(set_to_none=True)
        return loss.detach()


def exactness(base, batches, lr) -> dict:
    """Dropout off, fp32: (1) the word-embedding gradient of one batch, dense against sparse rows scattered into the
    buffer; (2) the largest weight difference after 3 steps, baseline against sparse_rows + clip_in_adamw."""
    base = copy.deepcopy(base)
    for m in base.modules():
        if isinstance(m, torch.nn.Dropout): m.p = 0.0
    a, b = Variant(base, set(), lr, None), Variant(base, {"sparse_rows", "clip_in_adamw"}, lr, None)
    a.model(**batches[0]).loss.backward(); b.model(**batches[0]).loss.backward()
    g = b.emb.weight.grad
    dense = torch.zeros_like(b.emb.weight).index_add_(0, g._indices()[0], g._values())
    grad_diff = float((a.emb.weight.grad - dense).abs().max())
    a.opt.zero_grad(set_to_none=True); b.opt.zero_grad(set_to_none=True)
    for batch in batches[:3]: a.step(batch); b.step(batch)
    with torch.no_grad():
        w_diff = max(float((p - q).abs().max()) for p, q in zip(a.model.parameters(), b.model.parameters()))
    return {"embedding_grad_max_diff": grad_diff, "weights_max_diff_after_3_steps": w_diff}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=12); p.add_argument("--steps-per-round", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-4); p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=str(RESULTS/"exact_levers.json"))
    a = p.parse_args(argv)
    if a.rounds < 1 or a.steps_per_round < 1: p.error("--rounds and --steps-per-round must be at least 1")
    amp = torch.bfloat16 if fast_bf16(torch.device("cpu")) else None
    n_batches = (a.rounds + 1) * a.steps_per_round + 10
    dsd = load_task("sst2", a.data_dir).data
    dsd["train"] = dsd["train"].select(range(min(32 * n_batches, len(dsd["train"]))))
    base, tok = load_base_model(None, "classification", label_names=["negative", "positive"], seed=42)
    ds = tokenize_dataset(dsd, tok, max_length=128)["train"]; coll = make_collator(tok)
    order = epoch_batches(np.array([len(x) for x in ds["input_ids"]]), 32, 42, 0, True)
    batches = [coll([ds[i] for i in b]) for b in order]
    print(f"precision {'bf16' if amp else 'fp32'}, {torch.get_num_threads()} threads, {len(batches)} length-grouped batches of 32, "
          f"{np.mean([b['input_ids'].numel() for b in batches]):.0f} padded tokens per batch", flush=True)

    # 1. the matmul floor of the baseline step
    v = Variant(base, set(), a.lr, amp)
    for b in batches[:3]: v.step(b)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for b in batches[3:10]: v.step(b)
    ka = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in ka)
    mm = sum(e.self_cpu_time_total for e in ka if e.key in MATMUL_OPS)
    top = [{"op": e.key, "ms_per_step": e.self_cpu_time_total / 1000 / 7, "share": e.self_cpu_time_total / total}
           for e in sorted(ka, key=lambda e: -e.self_cpu_time_total)[:15]]
    del v
    print(f"matmul share of a step: {100 * mm / total:.1f}% -> at most {total / mm:.2f}x for any loop over the same work", flush=True)

    # 2. paired trials
    variants = {k: Variant(base, lv, a.lr, amp) for k, lv in VARIANTS.items()}
    for var in variants.values():
        for b in batches[-5:]: var.step(b)  # warm-up (the sparse buffer, allocator)
    times = {k: [] for k in variants}
    for r in range(a.rounds):
        chunk = batches[r * a.steps_per_round:(r + 1) * a.steps_per_round]
        for k, var in variants.items():
            t0 = time.perf_counter()
            for b in chunk: var.step(b)
            times[k].append(1000 * (time.perf_counter() - t0) / len(chunk))
    rows = {}
    for k, ts in times.items():
        ratio = np.array(times["baseline"]) / np.array(ts)
        rows[k] = {"ms_per_step_median": float(np.median(ts)), "ms_per_step_rounds": ts,
                   "speedup_median": float(np.median(ratio)), "speedup_q25": float(np.quantile(ratio, 0.25)),
                   "speedup_q75": float(np.quantile(ratio, 0.75))}

    # 3. exactness
    exact = exactness(base, batches, a.lr)
    res = {"command": command_line(__file__, argv), "machine": machine_info(),
           "precision": "bf16" if amp else "fp32", "threads": torch.get_num_threads(), "torch": torch.__version__,
           "rounds": a.rounds, "steps_per_round": a.steps_per_round,
           "matmul_share": mm / total, "amdahl_ceiling": total / mm, "profile_top_ops": top,
           "variants": rows, "exactness": exact}
    out = write_json(a.out, res)
    print("| variant | ms/step (median) | paired speed-up: median [q25, q75] |\n|---|---|---|")
    for k, r in rows.items():
        print(f"| {k} | {r['ms_per_step_median']:.1f} | {r['speedup_median']:.3f}x [{r['speedup_q25']:.3f}, {r['speedup_q75']:.3f}] |")
    print(f"dropout off: word-embedding gradient, dense vs sparse rows: max diff {exact['embedding_grad_max_diff']:.2e}; "
          f"weights after 3 steps, baseline vs sparse_rows + clip_in_adamw: max diff {exact['weights_max_diff_after_3_steps']:.2e}")
    print(f"wrote {out}")
    return res


if __name__ == "__main__": main()
