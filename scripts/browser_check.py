"""Open every page of the docs preview in a real browser (headless Chromium, the Debian package, driven by Selenium
through the system's chromedriver) and fail on what a reader would meet:

- an error in the browser console (a script that fails, a resource that does not load);
- a dead internal link (a page or file of the site that is not there, or an anchor that names no element);
- math left untypeset (MathJax found nothing to typeset on a page whose source has math, or `$$`/`\\(` is still
  visible in the text);
- fewer figures on a chapter's page than its executed notebook holds (`_docs_html/_manifest.json`);
- no navigation (the sidebar and the previous/next links).

    .venv/bin/python scripts/browser_check.py            # after scripts/docs.py; screenshots in _docs_html/_screenshots/

Without Chromium it says how to install it and exits 0, unless BASEMODEL_REQUIRE_BROWSER=1 (CI sets it): then 1."""
import functools
import http.server
import json
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urljoin, urlparse

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT/"_docs_html"
SHOTS = {"index.html": "home", "course/sequence_classification.html": "chapter", "api/losses.html": "api"}
MATH_SRC = re.compile(r"\$\$|(?<![\\$\w])\$(?=[^\s$])[^$\n]+?(?<=[^\s$])\$(?!\w)|\\\(")


def find_browser() -> tuple[str, str] | None:
    for b in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(b) and shutil.which("chromedriver"): return shutil.which(b), shutil.which("chromedriver")
    return None


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


def serve(root:Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}/", srv


def driver(binary:str, chromedriver:str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(chromedriver), options=opts)  # the system driver: Selenium Manager downloads nothing


def page_has_math(path:Path) -> bool:
    "Whether the page's prose (outside code, outputs and scripts) has TeX delimiters in it."
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"<(script|style|pre|code)\b.*?</\1>", "", text, flags=re.S)
    return bool(MATH_SRC.search(re.sub(r"<[^>]+>", " ", text)))


def check_page(d, base:str, page:str, meta:dict) -> tuple[list[str], set[str]]:
    "Problems on one page, and the internal links it holds."
    d.get(urljoin(base, page))
    state = None
    for _ in range(150):  # MathJax loads deferred and typesets after that: wait for its startup promise (at most 30 s)
        state = d.execute_script("if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) return null;"
                                 "if (!window.__mj) { window.__mj = 'pending'; MathJax.startup.promise.then(() => window.__mj = 'done'); }"
                                 "return window.__mj;")
        if state == "done": break
        time.sleep(0.2)
    problems = []
    for e in d.get_log("browser"):
        if e["level"] in ("SEVERE", "ERROR"): problems.append(f"console: {e['message'][:200]}")
    if state != "done": problems.append("MathJax did not load or did not finish typesetting in 30 s")
    n_math = d.execute_script("return document.querySelectorAll('mjx-container').length")
    visible = d.execute_script("""const w = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
        const bad = []; let n;
        while ((n = w.nextNode())) { if (n.parentElement.closest('pre, code, script, style, mjx-container')) continue;
          if (/\\$\\$|\\\\\\(|\\\\\\[/.test(n.textContent)) bad.push(n.textContent.trim().slice(0, 60)); }
        return bad;""")
    if page_has_math(SITE/page) and n_math == 0: problems.append("the page has math but nothing was typeset")
    for t in visible: problems.append(f"untypeset math in the text: {t!r}")
    if meta.get("figures") is not None:
        n_img = d.execute_script("return document.querySelectorAll('main .output_subarea img').length")
        if n_img < meta["figures"]: problems.append(f"{n_img} figures shown, the executed notebook holds {meta['figures']}")
    if not d.execute_script("return document.querySelectorAll('nav.sidebar a').length > 3 && !!document.querySelector('nav.pager a')"):
        problems.append("no sidebar or previous/next navigation")
    if not d.execute_script("return document.querySelector('nav.sidebar a.active') !== null"):
        problems.append("the sidebar does not mark this page")
    links = set(d.execute_script("return [...document.querySelectorAll('a[href]')].map(a => a.href)"))
    return problems, {l for l in links if l.startswith(base)}


def link_target_ok(d, base:str, url:str, ids:dict) -> bool:
    "Whether an internal link's file exists in the site and its anchor (if any) names an element there."
    u = urlparse(url)
    rel = u.path.lstrip("/") or "index.html"
    f = SITE/rel
    if f.is_dir(): f = f/"index.html"
    if not f.is_file(): return False
    if not u.fragment or f.suffix != ".html": return True
    if rel not in ids: ids[rel] = set(re.findall(r'\bid="([^"]+)"', f.read_text(encoding="utf-8")))
    return u.fragment in ids[rel]


def main() -> int:
    manifest_file = SITE/"_manifest.json"
    if not manifest_file.exists(): sys.exit("browser check: no _docs_html/_manifest.json; build the preview first (scripts/docs.py)")
    manifest = json.loads(manifest_file.read_text())
    found = find_browser()
    if not found:
        msg = "browser check: no Chromium with chromedriver found (Debian: apt-get install chromium chromium-driver)"
        if os.environ.get("BASEMODEL_REQUIRE_BROWSER") == "1": print(msg, file=sys.stderr); return 1
        print(msg + "; skipped"); return 0
    base, srv = serve(SITE)
    d = driver(*found)
    shots = SITE/"_screenshots"; shots.mkdir(exist_ok=True)
    failures, links, ids = {}, {}, {}
    try:
        for page, meta in manifest.items():
            problems, page_links = check_page(d, base, page, meta)
            for l in page_links: links.setdefault(l, page)
            if page in SHOTS:
                d.save_screenshot(str(shots/f"{SHOTS[page]}.png"))
                d.execute_script("window.scrollTo(0, document.querySelector('main mjx-container') ? "
                                 "document.querySelector('main mjx-container').getBoundingClientRect().top + window.scrollY - 120 : 0)")
                d.save_screenshot(str(shots/f"{SHOTS[page]}-math.png"))
            if problems: failures[page] = problems
            print(f"{page}: {'ok' if not problems else str(len(problems)) + ' problem(s)'}")
        for url, page in sorted(links.items()):
            if not link_target_ok(d, base, url, ids): failures.setdefault(page, []).append(f"dead link: {url[len(base):]}")
    finally:
        d.quit(); srv.shutdown()
    for page, problems in failures.items():
        for p in problems: print(f"  {page}: {p}", file=sys.stderr)
    print(f"browser check: {len(manifest)} pages, {len(links)} internal links, {sum(map(len, failures.values()))} problems; "
          f"screenshots in {shots.relative_to(ROOT)}/")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
