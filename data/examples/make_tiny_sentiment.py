"""Writes tiny_sentiment_{train,validation,test}.csv: 240 template sentences (160/40/40) written by this
project, labelled positive/negative, for fast tests and docs. No third-party text. Deterministic."""
import csv
import random
from pathlib import Path

rng = random.Random(7)
subj = ["the film", "this movie", "the plot", "the acting", "the soundtrack", "the ending", "the script", "the cast",
        "the director's new work", "this sequel", "the dialogue", "the pacing"]
pos = ["is wonderful", "was a delight", "is sharp and funny", "moved me deeply", "is a triumph", "feels fresh",
       "is beautifully made", "kept me hooked", "is clever and warm", "shines from start to finish"]
neg = ["is a mess", "was painfully dull", "falls flat", "is lazy and predictable", "wasted my evening",
       "feels stale", "is badly written", "dragged on forever", "is clumsy and loud", "never comes alive"]
adv = ["", "honestly, ", "frankly, ", "overall, ", "in the end, ", "sadly, ", "happily, "]
seen, rows = set(), []
while len(rows) < 240:
    y = rng.random() < 0.5
    t = f"{rng.choice(adv)}{rng.choice(subj)} {rng.choice(pos if y else neg)}."
    if t in seen: continue
    seen.add(t); rows.append((t, "positive" if y else "negative"))
here = Path(__file__).parent
for name, part in (("train", rows[:160]), ("validation", rows[160:200]), ("test", rows[200:])):
    with open(here/f"tiny_sentiment_{name}.csv", "w", newline="") as f:
        w = csv.writer(f); w.writerow(["text", "label"]); w.writerows(part)
