"""SFT of the packaged decoder on our labelled tasks phrased as instructions: exact match before and after, per task, with CIs.

    python benchmarks/sft_tasks.py [--data-dir DIR] [--tasks rotten_tomatoes,sst2,conll2003,wnut17] [--n-train 300]
                                   [--n-eval 200] [--leave-out TASK] [--epochs 1] [--lr 1e-3] [--max-length 256]
                                   [--out benchmarks/results/sft_tasks.json]

Each task's training split is phrased with `instruct.task_instructions` (three templates, seeded); `--n-train` records of
each (all but `--leave-out`) make the SFT mixture and 25 more of each the validation file; `--n-eval` records of each task's
report split (test where it has labels, else dev) are answered greedily by SmolLM2-135M-Instruct before tuning and by the
tuned model (`basemodel-course train --task instructions --method lora` on the mixture, through `run_training`). A
held-out task is scored the same way, so its row is zero-shot transfer from the other tasks. Writes the JSON (with the
machine), a Markdown table beside it, and the run folder under `--run-dir`.
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from harness import RESULTS, command_line, machine_info, write_json, write_markdown
from basemodel_course.data import get_task, load_task
from basemodel_course.evaluation import mean_entry, resample_indices
from basemodel_course.generation import generate_text
from basemodel_course.instruct import exact_match, instruction_mixture, last_turn_prompts, task_instructions
from basemodel_course.models import SMOLLM2, load_base_model
from basemodel_course.run import make_run_config, run_training


def sample(ds, n:int, seed:int):
    "n examples of a split, seeded (all if it has fewer)."
    idx = random.Random(seed).sample(range(len(ds)), min(n, len(ds)))
    return ds.select(idx)


def answers(model, tok, records:list[dict], batch_size:int=32, max_new_tokens:int=48) -> list[str]:
    "Greedy answers to each record's last user turn."
    prompts, _ = last_turn_prompts(tok, [r["messages"] for r in records])
    out = []
    for i in tqdm(range(0, len(prompts), batch_size), desc="generating", leave=False):
        out += generate_text(model, tok, prompts[i:i + batch_size], max_new_tokens=max_new_tokens)
    return out


def scores(records:list[dict], preds:list[str]) -> np.ndarray:
    return np.array([exact_match(r["kind"], p, r["answer"]) for r, p in zip(records, preds)], dtype=float)


def with_ci(values:np.ndarray, seed:int=0) -> dict:
    return mean_entry(values, resample_indices(len(values), 1000, seed))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--tasks", default="rotten_tomatoes,sst2,conll2003,wnut17")
    p.add_argument("--n-train", type=int, default=300)
    p.add_argument("--n-eval", type=int, default=200)
    p.add_argument("--leave-out", default=None)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--run-dir", default=None, help="where the SFT run folder goes (default: a temporary folder)")
    p.add_argument("--out", default=str(RESULTS/"sft_tasks.json"))
    a = p.parse_args(argv)
    tasks = a.tasks.split(",")
    t0 = time.time()
    train_parts, val, evals = {}, [], {}
    for t in tasks:
        dsd = load_task(t, a.data_dir).data
        rep = get_task(t).report_split if get_task(t).report_split in dsd else "validation"  # SST-2: dev (its test has no labels)
        recs = task_instructions(sample(dsd["train"], a.n_train + 25, 0), t, seed=0)
        train_parts[t], val = recs[:a.n_train], val + ([] if t == a.leave_out else recs[a.n_train:])
        evals[t] = task_instructions(sample(dsd[rep], a.n_eval, 1), t, seed=1)
        print(f"{t}: {len(recs)} train records drawn, {len(evals[t])} eval records from {rep}", flush=True)
    mix = instruction_mixture(train_parts, a.n_train, leave_out=(a.leave_out,) if a.leave_out else (), seed=0)
    model, tok = load_base_model(SMOLLM2, "causal-lm")
    before = {t: answers(model, tok, recs) for t, recs in evals.items()}
    del model
    d = Path(tempfile.mkdtemp())
    for name, recs in (("train", mix), ("validation", val)):
        (d/f"{name}.json").write_text(json.dumps([{"messages": r["messages"]} for r in recs]))
    run_dir = Path(a.run_dir) if a.run_dir else d/"run"
    cfg = make_run_config({"task": "instructions", "train_file": str(d/"train.json"), "validation_file": str(d/"validation.json"),
                           "max_length": a.max_length}, peft={"method": "lora"},
                          train={"epochs": a.epochs, "batch_size": 8, "lr": a.lr, "seed": 42}, out=str(run_dir))
    res = run_training(cfg, overwrite=True, progress=True)
    after = {t: answers(res.model, res.tokenizer, recs) for t, recs in evals.items()}
    rows = []
    for t, recs in evals.items():
        b, f = scores(recs, before[t]), scores(recs, after[t])
        rows.append({"task": t, "held_out": t == a.leave_out, "n": len(recs), "before": with_ci(b), "after": with_ci(f), "difference": with_ci(f - b),
                     "examples": [{"prompt": r["messages"][0]["content"], "answer": r["answer"], "before": x, "after": y}
                                  for r, x, y in list(zip(recs, before[t], after[t]))[:5]]})
        print(f"{t:16s} exact match {b.mean():.3f} -> {f.mean():.3f}" + ("  (held out)" if t == a.leave_out else ""), flush=True)
    out = Path(a.out)
    res_json = {"machine": machine_info(), "command": command_line(__file__, argv), "tasks": tasks, "leave_out": a.leave_out,
                "n_train_per_task": a.n_train, "n_mixture": len(mix), "run_dir": str(run_dir),
                "sft_validation": res.metrics["metrics"], "rows": rows, "wall_s": time.time() - t0}
    write_json(out, res_json)
    ci = lambda m: f"{100 * m['value']:.1f} [{100 * m['ci95'][0]:.1f}, {100 * m['ci95'][1]:.1f}]"
    lines = ["| task | held out | n | exact match before | after | difference |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['task']} | {'yes' if r['held_out'] else 'no'} | {r['n']} | {ci(r['before'])} | {ci(r['after'])} | {ci(r['difference'])} |" for r in rows]
    write_markdown(out.with_suffix(".md"), res_json["command"], "\n".join(lines) + f"\n\nMixture: {len(mix)} conversations; machine: "
                   f"{res_json['machine']['cpu']}, torch {res_json['machine']['torch']}; {res_json['wall_s'] / 60:.1f} min.\n")


if __name__ == "__main__":
    main()
