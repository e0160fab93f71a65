"""Tracking and model cards on real runs: TensorBoard holds exactly what log.jsonl and the metrics files hold (a killed and
resumed run included, each step once), and a run's model card parses back with huggingface_hub, reports the metrics
files' values, renders, rebuilds the run's configuration through the CLI's parser, and describes a model that loads
with plain transformers as it says."""
import json
import shlex
import time

import numpy as np
import pytest
from huggingface_hub import ModelCard
from markdown_it import MarkdownIt
from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

from basemodel_course.cards import model_card, train_command, read_run_record, write_model_card
from basemodel_course.cli import build_parser, config_from_args
from basemodel_course.run import load_run, make_run_config, resume_training, run_training
from basemodel_course.tracking import log_run_plots, read_images, read_scalars, tracker_callbacks
from basemodel_course.training import Callback, read_log

from conftest import EXAMPLES

f32 = lambda x: float(np.float32(x))


def tiny_config(out, **train):
    "Four optimizer steps on 64 of the checkout's example sentences, logged and evaluated at every step unless told."
    data = {"task": "local", "train_file": str(EXAMPLES/"tiny_sentiment_train.csv"), "test_file": str(EXAMPLES/"tiny_sentiment_test.csv"),
            "validation_file": str(EXAMPLES/"tiny_sentiment_validation.csv"), "max_length": 16, "max_train_samples": 64}
    return make_run_config(data, train={"epochs": 1, "batch_size": 16, "lr": 1e-4, "precision": "fp32", "log_every": 1,
                                        "eval_every": 2, **train}, out=str(out))


def same_as_log(scalars, records, prefix, pick):
    "Each record's numbers, at its step, are what TensorBoard shows (float32), in order."
    for key in {k for r in records for k in pick(r)}:
        assert scalars[f"{prefix}/{key}"] == [(r["step"], f32(pick(r)[key])) for r in records if key in pick(r)], key


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tracked")/"run"
    run_training(tiny_config(out), progress=False, callbacks=tracker_callbacks("tensorboard"))
    return out


def test_tensorboard_holds_the_log_and_the_report(tracked_run):
    log = read_log(tracked_run)
    train = [r for r in log if "loss" in r]; evals = [r for r in log if "eval" in r]
    assert [r["step"] for r in train] == [1, 2, 3, 4] and [r["step"] for r in evals] == [2, 4]
    sc = read_scalars(tracked_run)
    same_as_log(sc, train, "train", lambda r: {k: v for k, v in r.items() if k != "step"})
    same_as_log(sc, evals, "dev", lambda r: r["eval"])
    tags = log_run_plots(tracked_run)
    assert {"plots/curves", "plots/confusion_matrix", "plots/confusion_matrix-validation"} <= set(tags)
    sc, images = read_scalars(tracked_run), read_images(tracked_run)
    for split, f in (("test", "metrics.json"), ("validation", "metrics-validation.json")):
        for name, m in json.loads((tracked_run/f).read_text())["metrics"].items():
            assert sc[f"{split}/{name}"] == [(4, f32(m["value"]))]
            assert sc[f"{split}/{name}_ci95_low"] == [(4, f32(m["ci95"][0]))]
    assert all(steps == [4] for steps in ([s for s, _ in v] for v in images.values()))


def test_the_card_of_a_real_run(tracked_run):
    path = write_model_card(tracked_run)
    card = ModelCard.load(path)
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2" and card.data.library_name == "transformers"
    reports = read_run_record(tracked_run).reports
    assert {(r.dataset_split, r.metric_name): r.metric_value for r in card.data.eval_results} == \
           {(s, k): m["value"] for s, rep in reports.items() for k, m in rep["metrics"].items()}
    for leftover in ("None", "{", "}"): assert leftover not in card.text, leftover
    html = MarkdownIt("commonmark").enable("table").render(card.text)
    assert html.count("<table>") == 7 and f"<td>{reports['test']['metrics']['accuracy']['value']:.4f}</td>" in html
    load_run(tracked_run)  # the README beside the weights does not upset the model folder's checksums


def test_the_cards_command_makes_the_same_configuration(tracked_run):
    cmd = train_command(read_run_record(tracked_run))
    assert "#" not in cmd  # every option of this run has a flag
    again = config_from_args(build_parser().parse_args(shlex.split(cmd)[1:]))
    assert again.to_dict() == json.loads((tracked_run/"config.json").read_text())["config"]


class KillAt(Callback):
    "Interrupt the run after step `step` (its training record logged, as a kill between two log lines would leave it)."
    def __init__(self, step): self.step = step
    def on_step_end(self, loop):
        if loop.state.global_step == self.step: raise KeyboardInterrupt


def test_a_resumed_run_shows_each_step_once(tmp_path):
    out = tmp_path/"run"
    with pytest.raises(KeyboardInterrupt):
        run_training(tiny_config(out, save_every=2, eval_every=None), progress=False, callbacks=[*tracker_callbacks("tensorboard"), KillAt(3)])
    killed = read_scalars(out)["train/loss"]
    assert [s for s, _ in killed] == [1, 2, 3]  # step 3 was written after the checkpoint at step 2
    time.sleep(1.05 - time.time() % 1)  # a resumed run is a later process: its event file sorts after the killed run's
    resume_training(out, progress=False, callbacks=tracker_callbacks("tensorboard"))
    train = [r for r in read_log(out) if "loss" in r]
    resumed = {r["step"]: r for r in train}  # the last record of each step: the resumed run's for 3 and 4
    sc = read_scalars(out)
    assert sc["train/loss"] == [(s, f32(resumed[s]["loss"])) for s in (1, 2, 3, 4)]
    assert sc["train/tokens_per_s"][2] == (3, f32(resumed[3]["tokens_per_s"]))  # the resumed run's throughput, not the killed one's
    assert [s for s, _ in sc["dev/accuracy"]] == [4]


def test_the_card_of_a_tagger(tmp_path):
    out = tmp_path/"ner"
    run_training(make_run_config({"task": "wnut17", "data_dir": str(EXAMPLES/"tiny_ner"), "max_length": 32, "max_train_samples": 16},
                                 train={"epochs": 1, "batch_size": 16, "precision": "fp32"}, out=str(out)), progress=False)
    text = model_card(out)
    card = ModelCard(text)
    assert card.data.pipeline_tag == "token-classification" and card.data.datasets == ["leondz/wnut_17"]
    metrics = json.loads((out/"metrics.json").read_text())["metrics"]
    assert {r.metric_name: r.metric_value for r in card.data.eval_results if r.dataset_split == "test"} == {k: m["value"] for k, m in metrics.items()}
    assert "| entity type | precision | recall | F1 [95% CI] | support |" in text and "BIO tags of 6 entity types" in text
    for leftover in ("None", "{", "}"): assert leftover not in card.text, leftover
    assert "<table>" in MarkdownIt("commonmark").enable("table").render(card.text)
    again = config_from_args(build_parser().parse_args(shlex.split(train_command(read_run_record(out)))[1:]))
    assert again.to_dict() == json.loads((out/"config.json").read_text())["config"]
    # what the card's "How to use" says works
    model = AutoModelForTokenClassification.from_pretrained(str(out/"model"))
    nlp = pipeline("token-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(str(out/"model")), aggregation_strategy="simple")
    assert f'AutoModelForTokenClassification.from_pretrained("{out/"model"}")' in text
    assert isinstance(nlp("Paris is lovely in May"), list)
