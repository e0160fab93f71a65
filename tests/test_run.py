"""The run pipeline as a library call: a run folder whose config.json predates typed sections (format 1, written by
basemodel_course 0.0.1) resumes to exactly the result of an uninterrupted run; a resume on changed data, and a
config.json this version cannot read, each stop with one sentence."""
import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from basemodel_course import cli
from basemodel_course.core import BasemodelError, RunFolder
from basemodel_course.run import make_run_config, read_run_config, resume_training, run_training
from basemodel_course.training import Callback
from conftest import EXAMPLES, ROOT


class Crash(Exception): pass


class CrashAt(Callback):
    "A crash after optimizer step `step`, as a kill would leave the run: its last checkpoint is the one before."
    def __init__(self, step:int): self.step = step
    def on_step_end(self, loop):
        if loop.state.global_step == self.step: raise Crash()


def files_in(folder):
    "The tiny example data, copied into `folder`."
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split in ("train", "validation", "test"):
        out[f"{split}_file"] = str(shutil.copy(EXAMPLES/f"tiny_sentiment_{split}.csv", folder))
    return out


def tiny_config(out, files):
    "The run tests/fixtures/config_v1.json describes: the local task, 3 epochs, checkpoints every 4 steps, seed 3."
    return make_run_config({"task": "local", "max_length": 32, **files},
                           train={"epochs": 3, "batch_size": 8, "lr": 1e-4, "save_every": 4, "eval_every": 10, "seed": 3, "precision": "fp32"}, out=str(out))


def v1_config_json(folder:RunFolder, files:dict) -> str:
    "The fixture as basemodel_course 0.0.1 wrote it, pointed at this test's files and folder."
    d = json.loads((ROOT/"tests"/"fixtures"/"config_v1.json").read_text())
    d["task_options"] |= files
    d["out"] = str(folder.root)
    d["data_source"] = "local:" + ",".join(files[f"{s}_file"] for s in ("train", "validation", "test"))
    return json.dumps(d, indent=2)


def test_v1_run_folder_resumes_exactly_and_changed_data_is_refused(tmp_path):
    files = files_in(tmp_path/"data")
    ref = run_training(tiny_config(tmp_path/"ref", files), progress=False)
    with pytest.raises(Crash): run_training(tiny_config(tmp_path/"old", files), progress=False, callbacks=[CrashAt(9)])
    folder = RunFolder(tmp_path/"old")
    state = json.loads(folder.state_summary.read_text())
    assert state["global_step"] == 8 and state["micro_done"] > 0 and not state["finished"], state  # mid-epoch
    folder.config.write_text(v1_config_json(folder, files))
    assert "format" not in json.loads(folder.config.read_text())
    config, meta = read_run_config(folder)
    assert config.train == tiny_config(tmp_path/"x", files).train and meta.split_sizes == {"train": 160, "validation": 40, "test": 40}

    train_file = tmp_path/"data"/"tiny_sentiment_train.csv"
    original = train_file.read_text()
    train_file.write_text(original + "an extra review,positive\n")  # the data changed under the run
    with pytest.raises(BasemodelError, match="changed since it was trained"): resume_training(folder.root, progress=False)
    train_file.write_text(original)

    res = resume_training(folder.root, progress=False)
    assert res.metrics == ref.metrics
    w_ref, w_res = load_file(ref.folder.model/"model.safetensors"), load_file(folder.model/"model.safetensors")
    assert all(torch.equal(w_ref[k], w_res[k]) for k in w_ref)
    evals = lambda f: [r for r in map(json.loads, f.log.read_text().splitlines()) if "eval" in r]
    assert evals(folder) == evals(ref.folder)


@pytest.mark.parametrize("text, fragment, code", [("{not json", "is not valid JSON", 1), ('{"format": 7, "config": {}}', "has format 7", 2),
                                                  ('{"epochs": 3}', "is not a run configuration this version can read", 2)])
def test_unreadable_config_is_one_sentence(tmp_path, capsys, text, fragment, code):
    folder = RunFolder(tmp_path/"run")
    folder.checkpoint.mkdir(parents=True); folder.state_summary.write_text("{}")
    folder.config.write_text(text)
    for argv in (["train", "--resume", str(folder.root)], ["evaluate", str(folder.root)]):  # in this process: a traceback fails the test
        assert cli.main(argv) == code
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("basemodel-course: error: ") and fragment in err[0], err
