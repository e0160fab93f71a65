"""Writes tiny_ner/wnut17/{train,dev,test}.conll: 900 template sentences (600/150/150) written by this project, tagged
in WNUT-17's six entity types (BIO2, token<TAB>tag), in the layout `load_task("wnut17", data_dir=...)` reads. Chapter 03
falls back to it when no WNUT-17 copy is at hand and the Hub cannot be reached. No third-party text. Deterministic.

As in WNUT-17, most test entities never occur in training: every entity list is split in two, the first part feeding
train and dev, the second only test."""
import random
from pathlib import Path

ENTITIES = {  # invented or generic names, each a sequence of words
    "person": ["Maria Lopez", "Ken Adams", "Aisha Bello", "Tom", "Priya Nair", "Lena Fischer", "Omar", "Sam Carter",
               "Yuki Tanaka", "Jonas", "Grace Okafor", "Ivan Petrov", "Chloe", "Diego Ruiz", "Nadia", "Paul Walker"],
    "location": ["Paris", "New York", "Lagos", "Lisbon", "the Bronx", "Osaka", "Berlin", "Lake Como", "Nairobi",
                 "Toronto", "Hanoi", "Cape Town", "Dublin", "Quito", "Oslo", "Mumbai"],
    "corporation": ["Brightline Foods", "Zentro", "Kaluma Bank", "Orbit Telecom", "Nimbus Air", "Vexa",
                    "Harbor Motors", "Polaris Media", "Quillsoft", "Tandem Labs", "Ferro Steel", "Lumen Energy"],
    "product": ["Zentro X2", "the Kestrel phone", "AquaPure", "Nimbus Pass", "Vexa Watch", "SnapCook",
                "the Orbit router", "PixelPad", "Tandem Buds", "Ferro Drill", "Lumen Lamp", "QuickBrew"],
    "creative-work": ["Blue Harbor", "The Long Night", "Paper Moons", "Echoes of Spring", "Iron Garden",
                      "Midnight Train", "The Last Orchard", "Silver Lines", "Wild Hearts", "Glass River"],
    "group": ["the Night Owls", "Red Lanterns", "the Harbor Choir", "FC Olimpo", "the Velvet Band",
              "Team Comet", "the Quiet Riot Club", "Orchid Union", "the Green Hikers", "Static Kids"],
}
TEMPLATES = [
    "just saw {person} at the airport in {location} !", "{person} is playing with {group} tonight",
    "can't believe {corporation} is shutting down its office in {location}", "my new {product} stopped working again ...",
    "watching {creative-work} for the third time", "anyone going to see {group} in {location} this weekend ?",
    "{person} said {creative-work} is the best film of the year", "{corporation} just announced {product}",
    "heading to {location} with {person} tomorrow", "lol {person} really loves {product}",
    "the new season of {creative-work} drops friday", "{group} fans are lining up outside {corporation}",
    "stuck in traffic near {location} again", "thanks {person} for the tickets to {creative-work}",
    "is {product} worth the money ? asking for a friend", "{corporation} customer service is the worst",
    "good morning {location} !", "{person} and {person} are back together",
    "nothing beats a rainy day and {creative-work}", "the {group} concert was amazing",
]


def sentence(template, rng, pick):
    tokens, tags = [], []
    for part in template.split():
        if part.startswith("{") and part.endswith("}"):
            kind = part[1:-1]
            words = pick(kind).split()
            tokens += words; tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
        else:
            tokens.append(part); tags.append("O")
    return tokens, tags


def main():
    rng = random.Random(17)
    halves = {k: (v[: len(v) * 2 // 3], v[len(v) * 2 // 3:]) for k, v in ENTITIES.items()}
    out = Path(__file__).parent/"tiny_ner"/"wnut17"
    out.mkdir(parents=True, exist_ok=True)
    for name, n, part in (("train", 600, 0), ("dev", 150, 0), ("test", 150, 1)):
        lines = []
        for _ in range(n):
            tokens, tags = sentence(rng.choice(TEMPLATES), rng, lambda kind: rng.choice(halves[kind][part]))
            lines += [f"{w}\t{t}" for w, t in zip(tokens, tags)] + [""]
        (out/f"{name}.conll").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
