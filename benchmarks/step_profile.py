"""Where one training step's time goes, and what process-wide switches are worth (each measured in a fresh process).

    python benchmarks/step_profile.py [--steps 15] [--out benchmarks/results/step_profile.json]

Times forward, backward and optimizer (+ clipping) for bf16 (or fp32 without native bf16) training steps of the
default model on fixed SST-2 batches (batch 32, unsorted, dynamic padding), in two fresh processes: glibc's
default allocator behaviour, and with `reuse_host_memory()` (freed memory kept for reuse). It also prints the
top operators of a torch.profiler trace of the default process. A switch such as `mallopt` cannot be undone
inside a process, hence one process per variant.
"""
from __future__ import annotations

import argparse, time

from harness import RESULTS, command_line, emit_row, machine_info, run_rows, write_json


def child(variant:str, steps:int, data_dir:str|None) -> dict:
    "One variant's step times, in this (fresh) process; the default variant also records a profile."
    import torch, transformers
    transformers.logging.set_verbosity_error()
    from basemodel_course.core import fast_bf16
    from basemodel_course.data import load_task, make_collator, tokenize_dataset
    from basemodel_course.models import load_base_model
    from basemodel_course.training import TrainConfig, make_optimizer, reuse_host_memory
    applied = reuse_host_memory() if variant == "reuse_host_memory" else False
    dsd = load_task("sst2", data_dir).data; dsd["train"] = dsd["train"].select(range(32 * (steps + 3)))
    model, tok = load_base_model(None, "classification", label_names=["negative", "positive"], seed=42)
    ds = tokenize_dataset(dsd, tok, max_length=128)["train"]; coll = make_collator(tok)
    batches = [coll([ds[i] for i in range(j, j + 32)]) for j in range(0, len(ds), 32)]
    opt = make_optimizer(model, TrainConfig(lr=1e-4)); model.train()
    dt = torch.bfloat16 if fast_bf16(torch.device("cpu")) else None
    def step(b, times=None):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=dt, enabled=dt is not None): loss = model(**b).loss
        t1 = time.perf_counter(); loss.backward(); t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); opt.zero_grad(set_to_none=True)
        if times is not None: times.append((t1 - t0, t2 - t1, time.perf_counter() - t2))
    for b in batches[:3]: step(b)
    times = []
    for b in batches[3:]: step(b, times)
    n = len(times)
    res = {"variant": variant, "applied": applied, "precision": "bf16" if dt else "fp32", "steps": n,
           "tokens_per_batch": sum(b["attention_mask"].numel() for b in batches[3:]) / n,
           "forward_ms": 1000 * sum(t[0] for t in times) / n, "backward_ms": 1000 * sum(t[1] for t in times) / n,
           "optimizer_ms": 1000 * sum(t[2] for t in times) / n}
    res["step_ms"] = res["forward_ms"] + res["backward_ms"] + res["optimizer_ms"]
    if variant == "default":
        from torch.profiler import ProfilerActivity, profile as prof
        with prof(activities=[ProfilerActivity.CPU], record_shapes=True) as p:
            for b in batches[3:8]: step(b)
        ka = p.key_averages(group_by_input_shape=True)
        total = sum(e.self_cpu_time_total for e in ka)
        res["top_ops"] = [{"op": e.key, "shapes": str(e.input_shapes)[:80], "self_ms_per_step": e.self_cpu_time_total / 1000 / 5,
                           "share": e.self_cpu_time_total / total} for e in sorted(ka, key=lambda e: -e.self_cpu_time_total)[:12]]
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=15); p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=str(RESULTS/"step_profile.json"))
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        emit_row(child(a.child, a.steps, a.data_dir)); return
    args = ["--steps", a.steps] + (["--data-dir", a.data_dir] if a.data_dir else [])
    rows = [row for _, row in run_rows(__file__, ["default", "reuse_host_memory"], args, flag="--child")]
    res = {"command": command_line(__file__), "machine": machine_info(), "rows": rows,
           "reuse_host_memory_speedup": rows[0]["step_ms"] / rows[1]["step_ms"]}
    write_json(a.out, res)
    for r in rows:
        print(f"{r['variant']:<18} {r['precision']}: step {r['step_ms']:.1f} ms = forward {r['forward_ms']:.1f} + backward {r['backward_ms']:.1f} "
              f"+ optimizer/clip {r['optimizer_ms']:.1f} ({r['tokens_per_batch']:.0f} padded tokens per batch)")
    print(f"reuse_host_memory speed-up of a step: {res['reuse_host_memory_speedup']:.3f}x")
    print("top operators (default):")
    for o in rows[0]["top_ops"]: print(f"  {o['op']:<28} {o['self_ms_per_step']:7.1f} ms/step {100 * o['share']:5.1f}%  {o['shapes']}")
    print(f"wrote {a.out}")


if __name__ == "__main__": main()
