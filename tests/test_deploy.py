"""`predict`, `export` and `doctor` as a user meets them: files and standard input, a NER run's entity spans, the ONNX
variants, and bad input (one sentence, no partial output file)."""
import json
import subprocess

import pytest

from conftest import CLI, EXAMPLES, assert_user_error, run_cli, tiny_args

TEXTS = ["a warm, funny and moving film", "tedious, flat and far too long", "It's fine."]


@pytest.fixture(scope="module")
def cls_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cls")/"run"
    run_cli(*tiny_args(out), check=True)
    return out


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ner")/"run"
    run_cli("train", "--task", "wnut17", "--data-dir", EXAMPLES/"tiny_ner", "--out", out, "--epochs", "2", "--batch-size", "8",
            "--lr", "1e-3", "--max-length", "48", "--max-train-samples", "120", "--no-progress", check=True)
    return out


def rows(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def test_predict_file_and_stdin_agree(cls_run, tmp_path):
    (tmp_path/"in.txt").write_text("\n".join(TEXTS) + "\n")
    run_cli("predict", cls_run, "--input", tmp_path/"in.txt", "--output", tmp_path/"out.jsonl", "--no-progress", check=True)
    from_file = rows((tmp_path/"out.jsonl").read_text())
    piped = subprocess.run([*CLI, "predict", str(cls_run), "--no-progress"], input="\n".join(TEXTS), capture_output=True, text=True, check=True)
    from_stdin = rows(piped.stdout)
    assert [r["line"] for r in from_file] == [1, 2, 3]
    assert [r["label"] for r in from_file] == [r["label"] for r in from_stdin]
    for r in from_file: assert abs(sum(r["probs"].values()) - 1) < 1e-4 and r["label"] in r["probs"]
    one = rows(run_cli("predict", cls_run, "--text", TEXTS[0], "--text", TEXTS[1], check=True).stdout)
    assert [r["label"] for r in one] == [r["label"] for r in from_file[:2]]


def test_predict_csv_and_jsonl(cls_run, tmp_path):
    (tmp_path/"in.csv").write_text("id,review\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(TEXTS)))
    (tmp_path/"in.jsonl").write_text("".join(json.dumps({"review": t}) + "\n" for t in TEXTS))
    labels = []
    for f in ("in.csv", "in.jsonl"):
        r = run_cli("predict", cls_run, "--input", tmp_path/f, "--text-column", "review", "--variant", "int8", "--no-progress", check=True)
        labels.append([x["label"] for x in rows(r.stdout)])
    assert labels[0] == labels[1] and len(labels[0]) == 3


@pytest.mark.parametrize("content, extra, fragments", [
    ("", (), ("holds no texts",)),
    ('{"text": "fine"}\n{"text": oops}\n', (), ("line 2 is not valid JSON",)),
    ('{"review": "fine"}\n', (), ("line 1 has no 'text' field",)),
    ('{"text": "fine"}\n', ("--batch-size", "0"), ("batch-size must be at least 1, got 0",)),
])
def test_predict_bad_input(cls_run, tmp_path, content, extra, fragments):
    (tmp_path/"in.jsonl").write_text(content)
    r = run_cli("predict", cls_run, "--input", tmp_path/"in.jsonl", "--output", tmp_path/"out.jsonl", "--no-progress", *extra)
    assert_user_error(r, *fragments, code=r.returncode)
    assert r.returncode in (1, 2)
    assert not (tmp_path/"out.jsonl").exists() and not list(tmp_path.glob(".*.tmp"))


def test_predict_missing_column_and_run_without_model(cls_run, tmp_path):
    (tmp_path/"in.csv").write_text("id,review\n1,good\n")
    assert_user_error(run_cli("predict", cls_run, "--input", tmp_path/"in.csv", "--text-column", "body"), "has no column 'body'", code=1)
    (tmp_path/"empty_run").mkdir()
    (tmp_path/"empty_run"/"config.json").write_text((cls_run/"config.json").read_text())
    assert_user_error(run_cli("predict", tmp_path/"empty_run", "--text", "x"), "has no trained model", code=2)
    assert_user_error(run_cli("predict", tmp_path, "--text", "x"), "is not a run folder", code=2)
    assert_user_error(run_cli("predict", cls_run, "--text", "x", "--variant", "onnx"), "has no exported model", "basemodel-course export", code=2)


def test_ner_predict_spans_and_onnx(ner_run, tmp_path):
    texts = ["I met Taylor Swift in London last week .", "Google opened an office in Paris"]
    (tmp_path/"in.txt").write_text("\n".join(texts) + "\n")
    torch_rows = rows(run_cli("predict", ner_run, "--input", tmp_path/"in.txt", "--variant", "fp32", "--no-progress", check=True).stdout)
    for t, r in zip(texts, torch_rows):
        for e in r["entities"]: assert t[e["start"]:e["end"]] == e["text"] and set(e) == {"type", "text", "start", "end", "score"}
    r = run_cli("export", ner_run, check=True)
    assert "largest logit difference" in r.stdout and (ner_run/"deploy"/"model-int8.onnx").exists()
    onnx_rows = rows(run_cli("predict", ner_run, "--input", tmp_path/"in.txt", "--variant", "onnx", "--no-progress", check=True).stdout)
    assert [[(e["type"], e["start"], e["end"]) for e in r["entities"]] for r in onnx_rows] == \
           [[(e["type"], e["start"], e["end"]) for e in r["entities"]] for r in torch_rows]


def test_doctor():
    r = run_cli("doctor", check=True)
    assert "versions" in r.stdout and "torch" in r.stdout and "extras" in r.stdout
    rep = json.loads(run_cli("doctor", "--json", check=True).stdout)
    assert rep["cpu"]["native"][0] == "fp32" and "deploy" in rep["extras"]
