"""The docs build (scripts/docs.py) holds the pages to what the notebooks produce: a drawing cell without a figure
fails the build, links between notebooks become page names or fail, directives are read and never shown. The
browser check (scripts/browser_check.py) runs on the real preview in `make docs`; here its pieces are tested alone."""
import ast
import json
import sys
import warnings

import nbformat
import pytest
from nbdev.process import NBProcessor
from nbdev.processors import _do_eval, _show_docs, add_show_docs
from nbdev.test import test_nb as run_notebook

from conftest import ROOT

sys.path.insert(0, str(ROOT/"scripts"))
import browser_check  # noqa: E402
import docs  # noqa: E402


def notebook(*cells):
    "A notebook of (kind, source) cells."
    make = {"code": nbformat.v4.new_code_cell, "md": nbformat.v4.new_markdown_cell, "raw": nbformat.v4.new_raw_cell}
    return nbformat.v4.new_notebook(cells=[make[k](s, id=f"c{i}") for i, (k, s) in enumerate(cells)],
                                    metadata={"kernelspec": {"name": "python3", "display_name": "python3", "language": "python"}})


def test_a_figure_drawn_after_importing_the_library_reaches_the_outputs(tmp_path):
    "What a learner sees: a chapter imports the library, then draws. A backend forced on import would drop the figure."
    nb = notebook(("code", "import basemodel_course.evaluation, basemodel_course.run, basemodel_course.cli"),
                  ("code", "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(); ax.plot([1, 2, 3]);"),
                  ("code", "from basemodel_course.evaluation import plot_confusion_matrix\nplot_confusion_matrix([[3, 1], [0, 4]], ['a', 'b']);"))
    f = tmp_path/"chapter.ipynb"; nbformat.write(nb, f)
    ok, _ = run_notebook(f, save=True)
    assert ok
    (exec_dir := tmp_path/"exec").mkdir(); f.rename(exec_dir/"chapter.ipynb")
    assert docs.check_figures(exec_dir) == {"chapter.ipynb": 2}


def test_a_drawing_cell_without_its_figure_fails_the_build(tmp_path):
    nb = notebook(("code", "#| export\ndef plot_it():\n    fig, ax = plt.subplots()"),  # defines, does not draw
                  ("code", "#| eval: false\nplt.subplots()"),                          # never run
                  ("code", "fig, ax = plt.subplots(figsize=(3, 3))"))                 # draws: must have a figure
    nbformat.write(nb, tmp_path/"ch.ipynb")
    assert docs.expected_figures(json.loads((tmp_path/"ch.ipynb").read_text())) == [2]
    with pytest.raises(SystemExit, match=r"ch.ipynb cell 2 \(id c2\): 'fig, ax = plt.subplots\(figsize=\(3, 3\)\)'"):
        docs.check_figures(tmp_path)


def test_directives_are_read_and_never_shown():
    nb = notebook(("raw", "---\ntitle: T\noutput-file: t.html\n---"),
                  ("code", "#| hide\nsecret = 1"),
                  ("code", "#| echo: false\n#| output: asis\nshow_doc(f)"),
                  ("code", "#| output: false\nnoisy()"),
                  ("code", "#| code-fold: true\nsolution = 42"))
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", text="noise")]
    cells = docs.prepare(json.loads(nbformat.writes(nb))).cells
    assert [c.source for c in cells] == ["show_doc(f)", "noisy()", "solution = 42"]
    assert cells[0].metadata["transient"] == {"remove_source": True} and cells[1].outputs == [] and cells[2].metadata["fold"]
    html = docs.render_body(docs.prepare(json.loads(nbformat.writes(nb))), docs.HTMLExporter(template_name="basic", exclude_input_prompt=True))
    assert "#|" not in html and "In&nbsp;[" not in html and "secret" not in html and "show_doc" not in html
    assert html.index('<details class="code-fold"><summary>Code</summary>') < html.index("solution")


def test_links_between_notebooks_become_the_pages_quarto_names():
    names = {"course/01_cross_entropy.ipynb": "course/cross_entropy.html", "api/01_losses.ipynb": "api/losses.html"}
    assert docs.page_name("api/01_losses.ipynb", {"output-file": "losses.html"}) == "api/losses.html"
    body, dead = docs.rewrite_links('<a href="../api/01_losses.ipynb#cross_entropy">x</a> <a href="https://x.org/a.ipynb">y</a>',
                                    "course/cross_entropy.html", names)
    assert body == '<a href="../api/losses.html#cross_entropy">x</a> <a href="https://x.org/a.ipynb">y</a>' and dead == []
    assert docs.rewrite_links('<a href="../api/99_gone.ipynb">z</a>', "course/cross_entropy.html", names)[1] == ["../api/99_gone.ipynb"]


def test_the_sidebar_lists_every_notebook_once():
    listed = [nb for _, items in docs.sidebar() for nb in items]
    on_disk = sorted(p.relative_to(ROOT/"nbs").as_posix() for p in (ROOT/"nbs").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    assert sorted(listed) == on_disk and len(set(listed)) == len(listed)


@pytest.mark.parametrize("text, has_math", [("<p>a $x^2$ b</p>", True), ("<p>$$\\sum_i x_i$$</p>", True),
                                            ("<p>costs $5 and $10</p>", False), ("<pre>$x$</pre><p>none</p>", False)])
def test_the_browser_check_knows_a_page_with_math(tmp_path, text, has_math):
    (tmp_path/"p.html").write_text(text)
    assert browser_check.page_has_math(tmp_path/"p.html") == has_math


@pytest.mark.parametrize("path", sorted((ROOT/"nbs").rglob("*.ipynb")), ids=lambda p: str(p.relative_to(ROOT/"nbs")))
def test_cells_the_docs_build_runs_alone_hold_only_imports(path):
    """The docs build (nbdev's exec_show_docs) runs only a notebook's exported cells and its cells that import, in a
    fresh kernel; a cell that imports and also computes runs there without the cells before it, and fails the build
    although nbdev-test passed. nbdev's own rule picks the cells; each must be an export or nothing but imports."""
    nb = NBProcessor(path).nb
    add_show_docs(nb).begin()  # sets has_docs_ (and adds show_doc cells): the docs build runs cells only where it is set
    if not nb.has_docs_: return
    with warnings.catch_warnings():  # nbdev warns about exactly the cells this test names
        warnings.simplefilter("ignore")
        cells = [c for c in nb.cells if c.cell_type == "code" and _do_eval(c)]
    mixed = [c.source.splitlines()[0] for c in cells if not c.directives_.keys() & {"export", "exports", "exporti", "exec_doc"}
             and not _show_docs(trees := c.parsed_()) and any(not isinstance(t, (ast.Import, ast.ImportFrom)) for t in trees)]
    assert not mixed, f"{path.name}: cells that import and compute (the docs build runs them alone; split the imports off): {mixed}"
