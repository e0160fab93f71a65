"""DPO of the packaged decoder with LoRA: held-out preference accuracy of the tuned model against the reference's, reward
margins and the sampled KL, with CIs.

    python benchmarks/dpo.py [--data-dir DIR] [--pairs demo|tasks] [--max-prompt-tokens 160] [--max-length 288]
                             [--n-test 45] [--n-validation 12] [--n-train 0] [--epochs 3] [--lr 5e-4] [--beta 0.1]
                             [--run-dir DIR] [--out benchmarks/results/dpo_demo.json]

`--pairs demo`: the 300 pairs of `instructions_demo/dpo_en_demo.json`, keeping those whose prompt (rendered with the chat
template, generation prompt included) fits in `--max-prompt-tokens`; answers longer than `--max-length` minus the prompt
are cut there (both answers of a pair see the same budget), as TRL's `max_length` truncation does. The demo answers are long
(median 570 tokens per sequence), which is why the filter exists on a 2-core CPU.
`--pairs tasks`: pairs built from our labelled tasks phrased as instructions (`instruct.task_instructions`): the gold
answer is chosen; the rejected answer is the other sentiment (Rotten Tomatoes, SST-2) or the gold entities with one
entity's type changed (CoNLL-2003, sentences with entities). Short, so hundreds of held-out pairs fit.

The kept pairs are shuffled (seeded) into test, validation and train files, and `basemodel-course train --task
instructions --objective dpo --method lora` runs on them through `run_training`; the run reports the test split
(`evaluate_preferences`: reward accuracy and margin, each model's log-probability ranking and their paired difference,
sampled KL, generations) and plots each test pair's margin before and after. Writes the JSON (with the machine), a
Markdown table beside it, the margins plot, and the run folder under `--run-dir`.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from transformers import AutoTokenizer

from harness import RESULTS, command_line, machine_info, write_json, write_markdown
from basemodel_course.core import data_root
from basemodel_course.data import load_task
from basemodel_course.instruct import DEMO_PREFERENCES, load_instruction_file, task_preferences
from basemodel_course.models import SMOLLM2, resolve_model
from basemodel_course.run import make_run_config, run_training


def demo_pairs(data_dir) -> list[dict]:
    "The demo preference pairs as prompt (turns) / chosen / rejected records."
    root = data_root(data_dir)
    if root is None or not (root/DEMO_PREFERENCES).exists(): raise SystemExit(f"--pairs demo needs {DEMO_PREFERENCES} under --data-dir or BASEMODEL_DATA")
    _, pairs = load_instruction_file(root/DEMO_PREFERENCES)
    return [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs]


def task_pairs(data_dir, n_per_task:int, seed:int=0) -> list[dict]:
    "Preference pairs from our labelled tasks (`instruct.task_preferences`), `n_per_task` of each."
    out = []
    for task in ("rotten_tomatoes", "sst2", "conll2003"):
        ds = load_task(task, data_dir).data["train"]
        ds = ds.select(random.Random(seed).sample(range(len(ds)), min(3 * n_per_task, len(ds))))  # enough to keep n with entities
        out += task_preferences(ds, task, seed)[:n_per_task]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--pairs", choices=("demo", "tasks"), default="demo")
    p.add_argument("--n-per-task", type=int, default=300, help="--pairs tasks: pairs drawn from each task")
    p.add_argument("--max-prompt-tokens", type=int, default=160)
    p.add_argument("--max-length", type=int, default=288)
    p.add_argument("--n-test", type=int, default=45)
    p.add_argument("--n-validation", type=int, default=12)
    p.add_argument("--n-train", type=int, default=0, help="training pairs (0: all that remain)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=2, help="pairs per micro-batch")
    p.add_argument("--run-dir", default=None, help="where the DPO run folder goes (default: a temporary folder)")
    p.add_argument("--out", default=None, help="default: benchmarks/results/dpo_<pairs>.json")
    a = p.parse_args(argv)
    t0 = time.time()
    pairs = demo_pairs(a.data_dir) if a.pairs == "demo" else task_pairs(a.data_dir, a.n_per_task)
    tok = AutoTokenizer.from_pretrained(resolve_model(SMOLLM2))
    plen = [len(tok(tok.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True), add_special_tokens=False)["input_ids"])
            for r in pairs]
    kept = [r for r, n in zip(pairs, plen) if n <= a.max_prompt_tokens]
    print(f"{len(kept)} of {len(pairs)} pairs have a prompt of at most {a.max_prompt_tokens} tokens", flush=True)
    random.Random(0).shuffle(kept)
    test, val = kept[:a.n_test], kept[a.n_test:a.n_test + a.n_validation]
    train = kept[a.n_test + a.n_validation:]
    if a.n_train: train = train[:a.n_train]
    if len(test) < a.n_test or not val or not train: raise SystemExit(f"only {len(kept)} pairs kept: too few for {a.n_test} test, {a.n_validation} validation and some training pairs")
    d = Path(tempfile.mkdtemp())
    files = {}
    for name, recs in (("train", train), ("validation", val), ("test", test)):
        files[name] = d/f"{name}.json"
        files[name].write_text(json.dumps([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in recs]))
    run_dir = Path(a.run_dir) if a.run_dir else d/"run"
    cfg = make_run_config({"task": "instructions", "objective": "dpo", "train_file": str(files["train"]), "validation_file": str(files["validation"]),
                           "test_file": str(files["test"]), "max_length": a.max_length}, peft={"method": "lora"},
                          train={"epochs": a.epochs, "batch_size": a.batch_size, "lr": a.lr, "seed": 42, "dpo_beta": a.beta}, out=str(run_dir))
    res = run_training(cfg, overwrite=True, progress=True)
    rep = res.reports["test"]
    m = rep["metrics"]
    out = Path(a.out or RESULTS/f"dpo_{a.pairs}.json")
    if (run_dir/"preference_margins.png").exists(): shutil.copyfile(run_dir/"preference_margins.png", out.with_suffix(".png"))
    per_task = {}
    if a.pairs == "tasks":  # the paired ranking gain on each task's test pairs
        for t in sorted({r["task"] for r in test}):
            v = np.array([[q[k] for k in ("policy_chosen", "policy_rejected", "reference_chosen", "reference_rejected")]
                          for q, r in zip(rep["pairs"], test) if r["task"] == t])
            per_task[t] = {"n": len(v), "policy_ranks_chosen_higher": float((v[:, 0] > v[:, 1]).mean()),
                           "reference_ranks_chosen_higher": float((v[:, 2] > v[:, 3]).mean())}
    res_json = {"machine": machine_info(), "command": command_line(__file__, argv), "pairs": a.pairs, "n_pairs": len(pairs),
                "n_kept": len(kept), "max_prompt_tokens": a.max_prompt_tokens, "max_length": a.max_length,
                "sizes": {"train": len(train), "validation": len(val), "test": len(test)}, "epochs": a.epochs, "lr": a.lr, "beta": a.beta,
                "run_dir": str(run_dir), "test": {k: v for k, v in rep.items() if k != "pairs"}, "test_pairs": rep["pairs"],
                "per_task": per_task, "validation": res.reports.get("validation", {}).get("metrics"), "wall_s": time.time() - t0}
    write_json(out, res_json)
    ci = lambda e, s=100: f"{s * e['value']:.1f} [{s * e['ci95'][0]:.1f}, {s * e['ci95'][1]:.1f}]"
    rows = [("reward accuracy (%): beta log(pi/pi_ref), chosen > rejected", ci(m["reward_accuracy"])),
            ("reward margin (nats x beta)", ci(m["reward_margin"], 1)),
            ("reference ranks chosen higher (%)", ci(m["reference_ranks_chosen_higher"])),
            ("tuned model ranks chosen higher (%)", ci(m["policy_ranks_chosen_higher"])),
            ("ranking gain, paired (points)", ci(m["ranking_gain"])),
            ("KL(tuned || reference), sampled (nats per answer)", ci(m["kl"], 1) if "kl" in m else "not measured")]
    lines = [f"| held-out metric ({len(test)} test pairs) | value [95% CI] |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    if per_task:
        lines += ["", "| task | test pairs | reference ranks chosen higher | tuned |", "|---|---|---|---|"]
        lines += [f"| {t} | {v['n']} | {100 * v['reference_ranks_chosen_higher']:.1f} | {100 * v['policy_ranks_chosen_higher']:.1f} |" for t, v in per_task.items()]
    write_markdown(out.with_suffix(".md"), res_json["command"], "\n".join(lines) +
                   f"\n\nPairs: {len(kept)} of {len(pairs)} kept (prompt at most {a.max_prompt_tokens} tokens, sequences cut at {a.max_length}); "
                   f"{len(train)} train, {len(val)} validation, {len(test)} test; LoRA, {a.epochs} epochs, lr {a.lr}, beta {a.beta}. Machine: "
                   f"{res_json['machine']['cpu']}, torch {res_json['machine']['torch']}; {res_json['wall_s'] / 60:.1f} min.\n")
    for k, v in rows: print(f"{k}: {v}")


if __name__ == "__main__":
    main()
