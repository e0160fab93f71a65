"""Write README.md from nbs/index.ipynb without Quarto (nbdev-readme needs Quarto; use it where Quarto exists).

Markdown cells are copied; code cells become fenced Python blocks followed by their stored text outputs;
links to notebooks are pointed at the notebooks' paths in the repository (nbs/...)."""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
nb = json.loads((root/"nbs"/"index.ipynb").read_text(encoding="utf-8"))
parts = []
for c in nb["cells"]:
    src = "".join(c["source"]).strip("\n")
    if c["cell_type"] == "markdown":
        parts.append(re.sub(r"\]\((course|api)/", r"](nbs/\1/", src))
    elif c["cell_type"] == "code" and not src.startswith("#| hide"):
        parts.append(f"```python\n{src}\n```")
        out = "".join("".join(o.get("text", "")) if o["output_type"] == "stream" else "".join(o.get("data", {}).get("text/plain", ""))
                      for o in c.get("outputs", []))
        if out.strip(): parts.append(f"```\n{out.rstrip()}\n```")
text = "<!-- generated from nbs/index.ipynb by scripts/make_readme.py (or nbdev-readme): edit the notebook, not this file -->\n\n" + "\n\n".join(parts) + "\n"
(root/"README.md").write_text(text, encoding="utf-8")
print(f"README.md: {len(text.splitlines())} lines", file=sys.stderr)
