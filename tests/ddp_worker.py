"""One process of the data-parallel test (tests/test_ddp.py): train a tiny BERT with `basemodel_course.training.train`.

Run alone (one process) or under `accelerate launch --num_processes 2 --cpu`; each process writes OUT/rank{R}.json
with the example ids it trained on, the gradients before the first optimizer step, its final weights, and the
files it wrote."""
import argparse, json, os, sys
from pathlib import Path

import torch
from datasets import Dataset
from transformers import BertConfig, BertForSequenceClassification

import basemodel_course.training as T

p = argparse.ArgumentParser()
p.add_argument("--out", required=True); p.add_argument("--grad-accum", type=int, default=1)
p.add_argument("--n", type=int, default=48); p.add_argument("--batch-size", type=int, default=4)
a = p.parse_args()
out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
rank = int(os.environ.get("RANK", "0"))

# data: variable-length random sentences with an id column the collator records (and drops)
g = torch.Generator().manual_seed(0)
lengths = torch.randint(3, 17, (a.n,), generator=g).tolist()
rows = {"input_ids": [[2] + torch.randint(5, 90, (L - 2,), generator=g).tolist() + [3] for L in lengths],
        "labels": torch.randint(0, 2, (a.n,), generator=g).tolist(), "idx": list(range(a.n))}
ds = Dataset.from_dict(rows)
seen = []

def pad(examples):
    L = max(len(e["input_ids"]) for e in examples)
    ids = torch.tensor([e["input_ids"] + [0] * (L - len(e["input_ids"])) for e in examples])
    return {"input_ids": ids, "attention_mask": (ids != 0).long(), "labels": torch.tensor([e["labels"] for e in examples])}

def collate(examples):  # the training collator: records which examples this process trained on
    seen.extend(int(e["idx"]) for e in examples); return pad(examples)

# a tiny BERT without dropout, identical on every process
torch.manual_seed(0)
model = BertForSequenceClassification(BertConfig(vocab_size=96, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                                 intermediate_size=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                                 max_position_embeddings=32, num_labels=2))
model.double()  # float64, so single-process and DDP agree to rounding

# record the gradients seen by the first optimizer step, and every write
first_grads = {}
make_opt = T.make_optimizer
def recording_optimizer(m, cfg):
    opt = make_opt(m, cfg)
    def pre(o, args, kwargs):
        if not first_grads:
            first_grads.update({n: q.grad.detach().clone().tolist() for n, q in T.unwrap(model).named_parameters() if q.grad is not None})
    opt.register_step_pre_hook(pre); return opt
T.make_optimizer = recording_optimizer
writes = []
for name in ("save_checkpoint", "save_model"):
    orig = getattr(T, name)
    def wrapped(*args, _orig=orig, _name=name, **kw): writes.append(_name); return _orig(*args, **kw)
    setattr(T, name, wrapped)

cfg = T.TrainConfig(epochs=2, batch_size=a.batch_size, grad_accum=a.grad_accum, lr=1e-3, warmup_ratio=0.0, log_every=1,
                    save_every=None, seed=0, device="cpu", optimizer="adamw_foreach", metric="accuracy")
def eval_fn(m):
    b = pad([ds[i] for i in range(8)])
    return {"accuracy": float((m(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits.argmax(-1) == b["labels"]).float().mean())}
res = T.train(model, ds, collate, cfg, out/"run", eval_fn=eval_fn, progress=False)
(out/f"rank{rank}.json").write_text(json.dumps({
    "rank": rank, "world": int(os.environ.get("WORLD_SIZE", "1")), "seen": seen, "first_grads": first_grads, "writes": writes,
    "global_step": res.global_step, "weights": {n: q.detach().flatten().tolist() for n, q in T.unwrap(model).named_parameters()}}))
