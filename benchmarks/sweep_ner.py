"""A small learning-rate / epochs / label-policy sweep for an NER task, selected on dev, reported on test.

    python benchmarks/sweep_ner.py --task wnut17 --out runs/wnut17-sweep

Each configuration is one `basemodel-course train` run (evaluated every epoch; the best epoch on dev is kept).
The configuration with the best dev entity F1 is the one to report; the table lists test figures for all of
them so the reader can see how much selection on dev matters. Results go to OUT/sweep.json and OUT/sweep.md."""
import argparse, json, subprocess, sys, time
from pathlib import Path

from basemodel_course.core import RunFolder
from harness import command_line, machine_info, write_json, write_markdown

GRID = [  # (name, lr, epochs, label every sub-word?); each run keeps its best epoch on dev
    ("lr1e-4_ep8_all", 1e-4, 8, True),
    ("lr2e-4_ep8_all", 2e-4, 8, True),
    ("lr1e-4_ep8_first", 1e-4, 8, False),
]

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="wnut17"); p.add_argument("--out", default=None)
    p.add_argument("--seed", type=int, default=42); p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--only", nargs="*", default=None, help="names of grid entries to run")
    a = p.parse_args()
    out = Path(a.out or f"runs/{a.task}-sweep"); out.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "basemodel_course.cli"]
    rows = []
    for name, lr, epochs, all_sub in GRID:
        if a.only and name not in a.only: continue
        run = RunFolder(out/name)
        if not run.metrics().exists():
            cmd = [*cli, "train", "--task", a.task, "--lr", str(lr), "--epochs", str(epochs), "--batch-size", str(a.batch_size),
                   "--seed", str(a.seed), "--out", str(run.root), "--no-progress", "--overwrite"]
            if all_sub: cmd.append("--label-all-subwords")
            if run.trainer_state.exists(): cmd = [*cli, "train", "--resume", str(run.root), "--no-progress"]  # a killed sweep goes on
            t0 = time.time(); print(" ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            print(f"  {name}: {time.time() - t0:.0f} s", flush=True)
        dev = json.loads(run.metrics("validation").read_text()); test = json.loads(run.metrics().read_text())
        rows.append({"name": name, "lr": lr, "epochs": epochs, "label_all_subwords": all_sub, "best_step": test["best_step"],
                     "dev_f1": dev["metrics"]["f1"]["value"], "test_f1": test["metrics"]["f1"]["value"],
                     "test_f1_ci95": test["metrics"]["f1"]["ci95"]})
    best = max(rows, key=lambda r: r["dev_f1"])
    write_json(out/"sweep.json", {"command": command_line(__file__), "machine": machine_info(), "task": a.task, "selected": best["name"], "rows": rows})
    lines = ["| config | lr | epochs | label policy | dev F1 | test F1 (95% CI) |", "|---|---|---|---|---|---|"]
    for r in rows:
        lo, hi = r["test_f1_ci95"]; mark = " **(selected on dev)**" if r is best else ""
        lines.append(f"| {r['name']}{mark} | {r['lr']:g} | {r['epochs']} | {'every sub-word' if r['label_all_subwords'] else 'first sub-word'} "
                     f"| {100*r['dev_f1']:.1f} | {100*r['test_f1']:.1f} [{100*lo:.1f}, {100*hi:.1f}] |")
    write_markdown(out/"sweep.md", command_line(__file__), "\n".join(lines) + "\n"); print("\n".join(lines))

if __name__ == "__main__": main()
