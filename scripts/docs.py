"""Build the docs from the executed notebooks: the pages Quarto would render, and an offline preview of them.

    make execute                       # runs every notebook, saving the executed copies in _exec/ (git-ignored)
    .venv/bin/python scripts/docs.py   # _exec/ -> _proc/ (nbdev's processing) -> _docs_html/ (the preview)

1. **Figures.** Every code cell of `_exec/` that draws (a `plt.` figure, a `plot_*` call, seaborn) must carry an
   image in its outputs, or the build fails naming the notebook and cell: a backend forced on import, a figure
   closed before it is shown or a plot function that draws nowhere all drop figures silently otherwise.
2. **Processing**, as `nbdev-docs` does it: nbdev's `proc_nbs` turns `_exec/` into `_proc/` (front matter from the
   title cell, directives read, `show_doc` cells run). With Quarto installed, `quarto render _proc` builds the real
   site from these same files (`make docs-quarto`).
3. **The preview** (`_docs_html/`), without Quarto: each processed notebook rendered with nbconvert's body-only
   template into one page shell: the title and description from the front matter, no prompts or `#|` directives
   (`echo: false` hides a cell's code, `output: false` its outputs, `code-fold: true` folds the code away), the
   navigation of `nbs/sidebar.yml` (the one Quarto reads) with previous/next links, links between notebooks rewritten
   to the page names Quarto gives them (the front matter's `output-file`), and math typeset by a MathJax installed
   from npm (`package.json`), copied beside the pages: nothing is loaded from a CDN.

`_docs_html/_manifest.json` lists every page with its title and its figure count; `scripts/browser_check.py` opens
every page in a real browser and holds the pages to it."""
import argparse
import html
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import yaml
from nbconvert import HTMLExporter
from pygments.formatters import HtmlFormatter

ROOT = Path(__file__).resolve().parents[1]
EXEC, PROC, OUT = ROOT/"_exec", ROOT/"_proc", ROOT/"_docs_html"
MATHJAX = ROOT/"node_modules"/"mathjax"/"es5"
DRAWS = re.compile(r"\bplt\.(subplots|figure|hist|plot|bar|imshow)\(|(?<![.\w])plot_\w+\(|\bsns\.\w+\(")  # not `folder.plot(...)`: a path
DIRECTIVE = re.compile(r"^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$")


def directives(src:str) -> dict:
    "The `#| key: value` lines at the top of a cell (a bare `#| hide` counts as `hide: true`)."
    out = {}
    for line in src.splitlines():
        m = DIRECTIVE.match(line)
        if not m: break
        out[m.group(1)] = m.group(2) or "true"
    return out


def code_lines(src:str) -> list[str]:
    "A cell's code without its directives and comments."
    return [l for l in src.splitlines() if l.strip() and not l.lstrip().startswith("#")]


def expected_figures(nb:dict) -> list[int]:
    "Indices of the code cells that draw at top level (not inside a function they define) and are executed."
    out = []
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code": continue
        src = "".join(c["source"]); d = directives(src)
        if d.get("eval") == "false" or d.get("output") == "false" or "export" in d or "exports" in d: continue
        if any(DRAWS.search(l) and not l.startswith((" ", "\t")) for l in code_lines(src)): out.append(i)
    return out


def has_image(cell:dict) -> bool:
    return any("image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {}) for o in cell.get("outputs", []))


def check_figures(exec_dir:Path=EXEC) -> dict:
    "{notebook: number of figures in its outputs}; exits naming each drawing cell whose figure is missing."
    counts, missing = {}, []
    for f in sorted(exec_dir.rglob("*.ipynb")):
        if any(p.startswith((".", "_")) for p in f.relative_to(exec_dir).parts): continue
        nb = json.loads(f.read_text(encoding="utf-8"))
        for i in expected_figures(nb):
            if not has_image(nb["cells"][i]):
                missing.append(f"{f.relative_to(exec_dir)} cell {i} (id {nb['cells'][i].get('id')}): "
                               f"{code_lines(''.join(nb['cells'][i]['source']))[0][:70]!r}")
        counts[f.relative_to(exec_dir).as_posix()] = sum(has_image(c) for c in nb["cells"] if c["cell_type"] == "code")
    if missing: sys.exit("docs: these cells draw a figure but their executed outputs hold none:\n  " + "\n  ".join(missing))
    return counts


def front_matter(nb:dict) -> dict:
    "The YAML front matter nbdev writes as the first raw cell of a processed notebook ({} if none)."
    for c in nb["cells"]:
        if c["cell_type"] == "raw":
            src = "".join(c["source"]).strip()
            if src.startswith("---"): return yaml.safe_load(src.strip("-\n")) or {}
    return {}


def page_name(rel:str, fm:dict) -> str:
    "The page Quarto renders a notebook to: the front matter's `output-file` beside it, else the same name as html."
    p = Path(rel)
    return (p.parent/fm["output-file"]).as_posix() if fm.get("output-file") else p.with_suffix(".html").as_posix()


def sidebar(path:Path=ROOT/"nbs"/"sidebar.yml") -> list[tuple[str|None, list[str]]]:
    "The sidebar's sections: [(section title or None, [notebook paths])]."
    items = yaml.safe_load(path.read_text())["website"]["sidebar"]["contents"]
    out = []
    for it in items:
        if isinstance(it, str): out.append((None, [it]))
        else: out.append((it["section"], list(it["contents"])))
    return out


def relpath(target:str, page:str) -> str:
    "A link from `page` to `target` (both relative to the site root)."
    up = "../" * (len(Path(page).parts) - 1)
    return up + target


def prepare(nb:dict) -> dict:
    "What the preview shows of a processed notebook: directives read and removed, front matter and hidden parts dropped."
    cells = []
    for c in nb["cells"]:
        if c["cell_type"] == "raw": continue
        src = "".join(c["source"])
        if c["cell_type"] == "markdown" and src.strip() == "<!-- WARNING: THIS FILE WAS AUTOGENERATED! DO NOT EDIT! -->": continue
        d = directives(src) if c["cell_type"] == "code" else {}
        if d.get("include") == "false" or "hide" in d: continue
        src = "\n".join(l for l in src.splitlines() if not DIRECTIVE.match(l)) if d else src
        c = {k: v for k, v in c.items() if k in ("cell_type", "id", "source", "outputs", "execution_count", "attachments")}
        c["source"], c["metadata"] = src, {}
        if c["cell_type"] == "code":
            if d.get("output") == "false": c["outputs"] = []
            if d.get("echo") == "false": c["metadata"]["transient"] = {"remove_source": True}
            if d.get("code-fold") == "true": c["metadata"]["fold"] = True
            if not src.strip() and not c.get("outputs"): continue
        cells.append(c)
    return nbformat.reads(json.dumps({**nb, "cells": cells}), as_version=4)


def matching_div(body:str, start:int) -> int:
    "The end of the <div> that opens at `start`."
    depth = 0
    for t in re.finditer(r"<div\b|</div>", body[start:]):
        depth += 1 if t.group() == "<div" else -1
        if depth == 0: return start + t.end()
    raise ValueError("unbalanced <div>")


def render_body(node, exporter) -> str:
    "The notebook's cells as HTML, with the code of `code-fold` cells folded into <details>, as Quarto folds it."
    body, _ = exporter.from_notebook_node(node)
    for c in node.cells:
        if c.cell_type != "code" or not c.metadata.get("fold"): continue
        at = body.find(f'id="cell-id={c.id}"')
        i = body.find('<div class="input">', at)
        if at < 0 or i < 0: continue
        j = matching_div(body, i)
        body = body[:i] + '<details class="code-fold"><summary>Code</summary>' + body[i:j] + "</details>" + body[j:]
    return body


def rewrite_links(body:str, page:str, names:dict) -> tuple[str, list[str]]:
    "Links to notebooks become links to their pages; returns the body and the targets that are not pages."
    dead = []
    def fix(m):
        href = html.unescape(m.group(2))
        if re.match(r"^[a-z]+:|^#|^data:", href): return m.group(0)
        path, _, anchor = href.partition("#")
        if not path.endswith(".ipynb"): return m.group(0)
        target = (Path(page).parent/path).as_posix()
        target = re.sub(r"[^/]+/\.\./", "", target)
        if target not in names: dead.append(href); return m.group(0)
        return f'{m.group(1)}"{relpath(names[target], page)}{"#" + anchor if anchor else ""}"'
    return re.sub(r'(href=)"([^"]*)"', fix, body), dead


SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} | basemodel_course</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{up}assets/site.css">
<script>window.MathJax = {{tex: {{inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]], displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]], processEscapes: true}},
  options: {{skipHtmlTags: ["script", "noscript", "style", "textarea", "pre", "code"]}}}};</script>
<script defer id="MathJax-script" src="{up}assets/mathjax/tex-chtml-full.js"></script>
</head><body>
<nav class="sidebar" aria-label="site"><a class="site-title" href="{up}index.html">basemodel_course</a>
{nav}</nav>
<main><header class="page-header"><h1 class="title">{title}</h1>{description}</header>
{body}
<nav class="pager" aria-label="pages">{prev}{next}</nav>
</main></body></html>
"""

CSS = """
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212529; display: flex; }
.sidebar { position: sticky; top: 0; height: 100vh; overflow-y: auto; width: 250px; flex: none; padding: 1.2rem 1rem;
           border-right: 1px solid #dee2e6; background: #f8f9fa; box-sizing: border-box; font-size: 0.93rem; }
.sidebar .site-title { display: block; font-weight: 700; font-size: 1.1rem; margin-bottom: 1rem; color: #2780e3; text-decoration: none; }
.sidebar h2 { font-size: 0.8rem; text-transform: uppercase; letter-spacing: .05em; color: #6c757d; margin: 1.1rem 0 .3rem; }
.sidebar ul { list-style: none; padding: 0; margin: 0; }
.sidebar li a { display: block; padding: .18rem .4rem; color: #343a40; text-decoration: none; border-radius: 4px; }
.sidebar li a:hover { background: #e9ecef; }
.sidebar li a.active { background: #2780e3; color: #fff; }
main { max-width: 980px; padding: 1.5rem 2.5rem 4rem; min-width: 0; flex: 1; }
.page-header .title { margin-bottom: .2rem; }
.page-header .description { font-style: italic; font-size: 1.2rem; color: #6c757d; margin-top: 0; }
a { color: #2780e3; }
.cell { margin: 0 0 1rem; }
.input_area .highlight { background: #f6f8fa; border-radius: 4px; }
.highlight pre, .output_subarea pre { margin: 0; padding: .55rem .8rem; overflow-x: auto; font-size: 0.85rem; line-height: 1.4; }
.output_subarea pre { border-left: 2px solid lightsalmon; margin-left: .8rem; }
.output_subarea img { max-width: 100%; }
.output_subarea.output_stderr pre { background: #fdf2f2; }
table { border-collapse: collapse; margin: .6rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #dee2e6; padding: .25rem .55rem; }
code { font-size: 0.88em; background: #f1f3f5; padding: 0 .2em; border-radius: 3px; }
pre code { background: none; padding: 0; }
details.code-fold > summary, details > summary { cursor: pointer; color: #6c757d; }
blockquote { border-left: 4px solid #dee2e6; margin-left: 0; padding-left: 1rem; color: #495057; }
.pager { display: flex; justify-content: space-between; margin-top: 3rem; border-top: 1px solid #dee2e6; padding-top: 1rem; }
.pager a { text-decoration: none; }
mjx-container[display="true"] { overflow-x: auto; overflow-y: hidden; }
"""


def nav_html(sections, page, names, titles) -> str:
    parts = []
    for title, items in sections:
        if title: parts.append(f"<h2>{html.escape(title)}</h2>")
        lis = []
        for nb in items:
            target = names[nb]
            cls = ' class="active" aria-current="page"' if target == page else ""
            lis.append(f'<li><a{cls} href="{relpath(target, page)}">{html.escape(titles[nb])}</a></li>')
        parts.append("<ul>" + "".join(lis) + "</ul>")
    return "\n".join(parts)


def build_preview(proc:Path=PROC, out:Path=OUT, figures:dict|None=None) -> dict:
    sections = sidebar()
    order = [nb for _, items in sections for nb in items]
    nbs = {f.relative_to(proc).as_posix(): json.loads(f.read_text(encoding="utf-8")) for f in sorted(proc.rglob("*.ipynb"))
           if not any(p.startswith((".", "_")) for p in f.relative_to(proc).parts)}
    unlisted = sorted(set(nbs) - set(order)); absent = [nb for nb in order if nb not in nbs]
    if unlisted or absent: sys.exit(f"docs: nbs/sidebar.yml and the notebooks disagree: not in the sidebar {unlisted}, no notebook for {absent}")
    fms = {k: front_matter(v) for k, v in nbs.items()}
    names = {k: page_name(k, fms[k]) for k in nbs}
    titles = {k: fms[k].get("title", Path(k).stem) for k in nbs}
    if out.exists(): shutil.rmtree(out)
    (out/"assets").mkdir(parents=True)
    (out/"assets"/"site.css").write_text(CSS + HtmlFormatter(style="friendly").get_style_defs(".highlight"))
    if not (MATHJAX/"tex-chtml-full.js").exists():
        sys.exit("docs: MathJax is not installed; run `npm ci` in the repository (package.json) to typeset math offline")
    shutil.copytree(MATHJAX, out/"assets"/"mathjax")
    if (ROOT/"nbs"/"images").is_dir(): shutil.copytree(ROOT/"nbs"/"images", out/"images")
    exporter = HTMLExporter(template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True)
    manifest, dead_links = {}, []
    for i, nb in enumerate(order):
        page = names[nb]
        body = render_body(prepare(nbs[nb]), exporter)
        body, dead = rewrite_links(body, page, names)
        dead_links += [f"{nb}: {d}" for d in dead]
        prev = f'<a class="prev" href="{relpath(names[order[i-1]], page)}">&larr; {html.escape(titles[order[i-1]])}</a>' if i else "<span></span>"
        nxt = f'<a class="next" href="{relpath(names[order[i+1]], page)}">{html.escape(titles[order[i+1]])} &rarr;</a>' if i + 1 < len(order) else ""
        desc = fms[nb].get("description")
        doc = SHELL.format(title=html.escape(titles[nb]), up=relpath("", page), nav=nav_html(sections, page, names, titles),
                           description=f'<p class="description">{html.escape(desc)}</p>' if desc else "", body=body, prev=prev, next=nxt)
        dest = out/page; dest.parent.mkdir(parents=True, exist_ok=True); dest.write_text(doc, encoding="utf-8")
        manifest[page] = {"notebook": nb, "title": titles[nb], "figures": (figures or {}).get(nb)}
        print(f"{nb} -> {dest.relative_to(ROOT)} ({len(doc) // 1024} KiB, {manifest[page]['figures']} figures)")
    if dead_links: sys.exit("docs: links to notebooks that are not pages:\n  " + "\n  ".join(dead_links))
    (out/"_manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--exec-dir", default=str(EXEC), help="the executed notebooks (make execute)")
    a = p.parse_args(argv)
    exec_dir = Path(a.exec_dir)
    if not any(exec_dir.rglob("*.ipynb")): sys.exit(f"docs: no executed notebooks in {exec_dir}; run `make execute` first")
    figures = check_figures(exec_dir)
    from nbdev.serve import proc_nbs
    proc_nbs(str(exec_dir), n_workers=0, force=True)
    manifest = build_preview(figures=figures)
    n_docs = sum("show_doc(" in "".join(c["source"]) for f in PROC.rglob("*.ipynb") for c in json.loads(f.read_text())["cells"])
    if n_docs == 0: sys.exit("docs: no show_doc entries: the API pages would document nothing")
    print(f"docs: {len(manifest)} pages in {OUT.relative_to(ROOT)}/ ({sum(v['figures'] or 0 for v in manifest.values())} figures, "
          f"{n_docs} API entries); open {OUT.relative_to(ROOT)}/index.html, or check them: scripts/browser_check.py")


if __name__ == "__main__":
    main()
