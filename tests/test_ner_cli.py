"""NER input as a user meets it through the CLI: each malformed CoNLL file stops the run with one sentence that
names the file and line, before anything is written; a well-formed tiny set trains and writes the NER outputs."""
import json

import pytest

from conftest import assert_user_error, run_cli

GOOD = "Paris\tB-location\nis\tO\nnice\tO\n\nI\tO\nmet\tO\nAnna\tB-person\n"


def wnut_dir(tmp_path, train=GOOD, dev=GOOD, test=GOOD, mode="w"):
    d = tmp_path/"data"/"wnut17"; d.mkdir(parents=True)
    for name, text in (("train.conll", train), ("dev.conll", dev), ("test.conll", test)):
        (d/name).write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return tmp_path/"data"


@pytest.mark.parametrize("train, fragments", [
    ("Paris\tB-location\nis\n", ["train.conll line 2", "token and tag counts differ"]),              # a token without a tag
    ("Paris\tB-planet\n", ["train.conll line 1", "unknown tag 'B-planet'"]),
    ("", ["train.conll is empty"]),
    ("Paris\tB-location\nNew York\tB-location\n", ["train.conll line 2", "mixes tab and space"]),  # both in one line
    ("Paris\tB-location\n\nis O\n", ["train.conll line 3", "mixed separators"]),                       # across lines
    (b"Paris\tB-location\nCaf\xe9\tO\n", ["train.conll line 2", "not valid UTF-8"]),
])
def test_bad_conll_input(tmp_path, train, fragments):
    data = wnut_dir(tmp_path, train=train)
    r = run_cli("train", "--task", "wnut17", "--data-dir", data, "--out", tmp_path/"run")
    assert_user_error(r, *fragments, code=1)
    assert not (tmp_path/"run").exists()


def test_tiny_ner_run_writes_entity_report(tmp_path):
    data = wnut_dir(tmp_path, train=GOOD * 4)
    run_cli("train", "--task", "wnut17", "--data-dir", data, "--out", tmp_path/"run", "--epochs", "1", "--batch-size", "4",
            "--label-all-subwords", "--no-progress", check=True)
    m = json.loads((tmp_path/"run"/"metrics.json").read_text())
    assert m["task"] == "wnut17" and m["split"] == "test"
    assert set(m["metrics"]) == {"f1", "precision", "recall"} and "micro_f1_including_O" in m["token_level"]
    for k, v in m["metrics"].items(): assert v["ci95"][0] <= v["value"] <= v["ci95"][1], k
    for f in ("per_type_f1.png", "confusion_matrix.png", "curves.png", "log.jsonl", "config.json", "model/model.safetensors"):
        assert (tmp_path/"run"/f).exists(), f
    assert json.loads((tmp_path/"run"/"config.json").read_text())["config"]["data"]["label_all_subwords"] is True
