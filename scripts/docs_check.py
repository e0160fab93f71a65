"""Check the docs without Quarto: process the notebooks as nbdev-docs would (nbdev's `proc_nbs`, which runs the
import, export and show_doc cells of each API notebook), then render every processed notebook to HTML with nbconvert.

    .venv/bin/python scripts/docs_check.py          # writes _proc/ and _docs_html/ (both git-ignored)

Where Quarto is installed, `nbdev-docs` builds the real site from the same `_proc` notebooks and `nbs/_quarto.yml`."""
import json, sys
from pathlib import Path

import nbformat

from nbconvert import HTMLExporter
from nbdev.serve import proc_nbs

root = Path(__file__).resolve().parents[1]
proc_nbs(str(root/"nbs"), n_workers=0, force=True)
out_dir = root/"_docs_html"; out_dir.mkdir(exist_ok=True)
nbs = sorted((root/"_proc").rglob("*.ipynb"))
if not nbs: sys.exit("docs check: no processed notebooks in _proc/")
exporter, n_docs = HTMLExporter(), 0
for nb in nbs:
    d = json.loads(nb.read_text(encoding="utf-8"))
    keep = {"cell_type", "id", "source", "outputs", "execution_count", "attachments"}
    d["cells"] = [{k: v for k, v in c.items() if k in keep} | {"metadata": {}} for c in d["cells"]]  # drop nbdev bookkeeping
    node = nbformat.reads(json.dumps(d), as_version=4)  # the reader joins multi-line strings as nbconvert expects
    html, _ = exporter.from_notebook_node(node)
    dest = out_dir/nb.relative_to(root/"_proc").with_suffix(".html"); dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(html, encoding="utf-8"); n_docs += sum(json.dumps(c.get("source", "")).count("show_doc(") for c in d["cells"])
    print(f"{nb.relative_to(root)} -> {dest.relative_to(root)} ({len(html) // 1024} KiB)")
print(f"docs check: {len(nbs)} pages rendered to {out_dir.relative_to(root)}/, {n_docs} API entries (show_doc cells)")
if n_docs == 0: sys.exit("docs check: no show_doc entries: the API pages would document nothing")
