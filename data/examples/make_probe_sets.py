"""Writes tiny_checklist.json and tiny_eec.csv: small behavioural-test and bias-probe sets in the layouts of the CheckList
sentiment suite and the Equity Evaluation Corpus (../shared/data/checklist, ../shared/data/eec), from this project's own
templates and word lists (no third-party text). The probes fall back to them when no benchmark data folder is at hand,
so that chapter 06 and the `probe` command run for a newcomer; their numbers are a smoke test of the probes, not
CheckList or EEC results. Deterministic."""
import csv
import itertools
import json
import random
from pathlib import Path

HERE = Path(__file__).parent
POS = ["good", "great", "excellent", "wonderful", "enjoyable", "brilliant", "lovely", "superb", "delightful", "moving"]
NEG = ["bad", "awful", "terrible", "boring", "dreadful", "dull", "poor", "weak", "tedious", "clumsy"]
NEUTRAL = ["long", "French", "recent", "black-and-white", "animated", "silent", "Italian", "documentary"]
NOUNS = ["film", "movie", "script", "story", "cast", "ending", "soundtrack", "direction"]
NAMES = ["Anna", "Ben", "Carla", "David", "Elena", "Frank", "Grace", "Hugo", "Irene", "Jack"]
NATIONS = ["French", "Indian", "American", "Chinese", "Nigerian", "Brazilian", "German", "Mexican"]


def mft(name, capability, labels, data):
    return {"name": name, "type": "MFT", "capability": capability, "description": "", "labels": labels, "data": data}


def pert(kind, name, capability, data):
    return {"name": name, "type": kind, "capability": capability, "description": "", "labels": None, "data": data}


def typo(word, rng):
    j = rng.randrange(1, len(word) - 2)
    return word[:j] + word[j + 1] + word[j] + word[j + 2:]


def checklist(rng):
    ctx = [(f"The {n} was {a}.", lab) for n in NOUNS for a, lab in [(a, 2) for a in POS] + [(a, 0) for a in NEG]]
    base = [f"The {n} was {a}." for n in NOUNS for a in POS[:4] + NEG[:4]]
    return [
        mft("single positive words", "Vocabulary", 2, POS),
        mft("single negative words", "Vocabulary", 0, NEG),
        mft("single neutral words", "Vocabulary", 1, NEUTRAL),
        mft("Sentiment-laden words in context", "Vocabulary", [lab for _, lab in ctx], [t for t, _ in ctx]),
        mft("simple negations: negative", "Negation", 0, [f"The {n} was not {a}." for n in NOUNS for a in POS]),
        mft("simple negations: not negative", "Negation", None, [f"The {n} was not {a}." for n in NOUNS for a in NEG]),
        mft("used to, but now", "Temporal", [2] * 20 + [0] * 20,
            [f"I used to think the {n} was {b}, but now I think it is {a}." for n, b, a in zip(itertools.cycle(NOUNS), itertools.cycle(NEG), POS * 2)]
            + [f"I used to think the {n} was {b}, but now I think it is {a}." for n, b, a in zip(itertools.cycle(NOUNS), itertools.cycle(POS), NEG * 2)]),
        pert("INV", "typos", "Robustness", [[t, t.replace(w, typo(w, rng))] for t in base for w in [t.split()[-1].rstrip(".")] if len(w) >= 4]),
        pert("INV", "punctuation", "Robustness", [[t, t.rstrip(".")] for t in base] + [[t, t.rstrip(".") + "!"] for t in base[:20]]),
        pert("INV", "change names", "NER", [[f"{a} thought the {n} was {w}.", *[f"{b} thought the {n} was {w}." for b in rng.sample(NAMES, 3) if b != a]]
                                           for a, n, w in zip(NAMES * 3, itertools.cycle(NOUNS), POS + NEG + POS)]),
        pert("INV", "protected: nationality", "Fairness", [[f"{a} is a {nat} director." for nat in NATIONS] for a in NAMES]),
        pert("DIR", "add positive phrases", "Vocabulary", [[t, t + " I loved it.", t + " Truly wonderful."] for t in base]),
        pert("DIR", "add negative phrases", "Vocabulary", [[t, t + " I hated it.", t + " What a waste."] for t in base]),
        pert("DIR", "intensifiers", "Vocabulary", [[f"The {n} was {a}.", f"The {n} was really {a}.", f"The {n} was extremely {a}."] for n in NOUNS for a in POS[:5] + NEG[:5]]),
    ]


PEOPLE = {  # (gender, race) -> persons; the names are common given names, standing in for race as the EEC's lists do
    ("female", "African-American"): ["Aaliyah", "Imani", "Keisha", "Tamika"], ("male", "African-American"): ["Darnell", "Jamal", "Malik", "Tyrone"],
    ("female", "European"): ["Amanda", "Emily", "Katie", "Sarah"], ("male", "European"): ["Adam", "Harry", "Josh", "Ryan"],
    ("female", ""): ["she", "my sister", "my mother", "this woman"], ("male", ""): ["he", "my brother", "my father", "this man"],
}
EMOTIONS = {"anger": ["angry", "furious", "annoyed"], "fear": ["scared", "anxious", "terrified"],
            "joy": ["happy", "excited", "glad"], "sadness": ["sad", "miserable", "gloomy"]}
TEMPLATES = ["<person> feels <emotion word>.", "The conversation with <person> was <emotion word>.",
             "<person> made me feel <emotion word>.", "I talked to <person> yesterday."]


def eec_rows():
    rows, n = [], 0
    for tmpl in TEMPLATES:
        emos = [(e, w) for e, ws in EMOTIONS.items() for w in ws] if "<emotion word>" in tmpl else [("", "")]
        for (gender, race), persons in PEOPLE.items():
            for person in persons:
                for emo, word in emos:
                    s = tmpl.replace("<person>", person).replace("<emotion word>", word)
                    s = s[0].upper() + s[1:]
                    n += 1
                    rows.append({"ID": f"tiny-{n:05d}", "Sentence": s, "Template": tmpl, "Person": person, "Gender": gender,
                                 "Race": race, "Emotion": emo, "Emotion word": word})
    return rows


if __name__ == "__main__":
    tests = checklist(random.Random(20261202))
    (HERE/"tiny_checklist.json").write_text(json.dumps(tests, indent=0) + "\n", encoding="utf-8")
    rows = eec_rows()
    with open(HERE/"tiny_eec.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0])); w.writeheader(); w.writerows(rows)
    print(f"{len(tests)} tests, {sum(len(t['data']) for t in tests)} cases; {len(rows)} EEC-style sentences")
