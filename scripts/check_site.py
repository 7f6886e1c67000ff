#!/usr/bin/env python3
"""Check a built site of the book.

    python scripts/check_site.py [SITE_DIR]                  # pure Python, no browser
    python scripts/check_site.py [SITE_DIR] --browser        # + headless Chromium: math rendered, images loaded
    python scripts/check_site.py [SITE_DIR] --screenshot intro.png [--page book/intro.html]

SITE_DIR defaults to ``_build/html`` next to this script's folder.

Without a browser it checks every ``*.html`` page: each internal ``href``/``src`` resolves to a file in
the site and each ``#anchor`` to an ``id`` on the target page; every image file exists and is a
non-empty image; no page holds a docutils/Sphinx failure (``problematic`` or ``system-message``
elements), a cell output with a traceback, or a cell's stderr output (progress bars and log lines
belong in the build's terminal, not on the page: ``nb_output_stderr: remove`` in ``_config.yml``).
A listing (``<pre>``) with a line longer than the text column holds (:data:`PRE_COLUMNS` characters)
is an error unless the page's own stylesheets wrap listings (a rule ``pre {white-space: pre-wrap}``,
the book's ``book/_static/shortcut.css``): such a line would be cut off at the column's edge. A figure's
verdict box (``<div class="shortcut-verdict">``) must hold its table of checks (``<table
class="shortcut-checks">``, ``shortcut.figures.checks.report_html``): without it the verdict is prose that
cannot be scanned for the check that decided it.

With ``--browser`` each content page is also loaded in headless Chromium (Debian package ``chromium``)
from a throwaway HTTP server on 127.0.0.1: a page that has math must come out with MathJax's
``mjx-container`` elements, every ``<img>`` must have loaded, and no table or listing may be cut off:
at the window's width (``--window-size``, default 1280 px) a ``<table>`` or ``<pre>`` that is wider than
its content column (or whose content is wider than itself) is an error unless it, or a box around it
inside the column, scrolls sideways (``overflow-x: auto``); so is a page that scrolls sideways as a
whole; and so is text of a verdict box or a figure's caption set below :data:`MIN_TEXT_PX` (the scale a
figure was computed at is in its caption, not drawn in the image, where it shrinks with the figure).
MathJax is normally fetched from its
CDN; to check without a network the server substitutes a local MathJax 3 (``--mathjax DIR``, the
folder holding ``tex-mml-chtml.js``; found automatically under ``_build/mathjax`` and installed there
with ``npm install mathjax@3`` when npm is available).

Exit status: 0 clean, 1 problems found, 2 bad usage (no site, no browser).
"""

from __future__ import annotations

import argparse
import base64
import functools
import html as _html
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parent.parent
EXTERNAL_SCHEMES = {"http", "https", "mailto", "data", "javascript", "tel", "ftp", "file"}
LINK_ATTRS = {("a", "href"), ("link", "href"), ("img", "src"), ("script", "src"), ("source", "src"),
              ("iframe", "src"), ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data")}
IMAGE_MAGIC = {
    ".png": [b"\x89PNG\r\n\x1a\n"],
    ".jpg": [b"\xff\xd8\xff"],
    ".jpeg": [b"\xff\xd8\xff"],
    ".gif": [b"GIF87a", b"GIF89a"],
    ".webp": [b"RIFF"],
}
#: Characters of code the text column holds at 1280 px (sphinx-book-theme: a 684 px listing in a 14 px
#: monospace font): a longer line of a listing that does not wrap is cut off at the column's edge.
PRE_COLUMNS = 80
#: The smallest font size (CSS px, at the window's width) of the text of a verdict box or a figure's caption.
MIN_TEXT_PX = 12
#: A stylesheet rule that wraps every listing of the content column.
_WRAP_SELECTOR = re.compile(r"^(?:(?:body|main|article|\.bd-article|\.bd-content|\.bd-main)\s+)?pre$")
_WRAP_VALUE = re.compile(r"white-space\s*:\s*(?:pre-wrap|break-spaces)")
MATHJAX_CDN = re.compile(r"https://cdn\.jsdelivr\.net/npm/mathjax@3/es5/")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--virtual-time-budget=10000",
]


class Page(HTMLParser):
    """Ids, links, images and failure markers of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str, str, int]] = []  # (tag, attr, value, line)
        self.images: list[tuple[str, int]] = []
        self.classes: list[tuple[str, int]] = []
        self.has_math = False
        self.redirect: str | None = None
        self.stylesheets: list[str] = []
        self.listings: list[tuple[int, str]] = []  # (line, text) of every <pre>
        self._pre: list[tuple[int, list[str]]] = []
        self.verdict_boxes: list[list] = []  # [line, holds its table of checks] of every verdict box
        self._divs: list[int | None] = []  # per open <div>: its index in verdict_boxes, or None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        a = {k: (v or "") for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "name" in a:
            self.ids.add(a["name"])
        for (t, attr) in LINK_ATTRS:
            if tag == t and attr in a:
                self.links.append((tag, attr, a[attr], line))
        if tag == "img":
            self.images.append((a.get("src", ""), line))
        cls = a.get("class", "")
        if cls:
            self.classes.append((cls, line))
            if "math" in cls.split() and tag in ("span", "div"):
                self.has_math = True
        if tag == "link" and "stylesheet" in a.get("rel", "").lower().split() and a.get("href"):
            self.stylesheets.append(a["href"])
        if tag == "pre":
            self._pre.append((line, []))
        if tag == "div":
            if "shortcut-verdict" in cls.split():
                self.verdict_boxes.append([line, False])
                self._divs.append(len(self.verdict_boxes) - 1)
            else:
                self._divs.append(None)
        if tag == "table" and "shortcut-checks" in cls.split():
            box = next((i for i in reversed(self._divs) if i is not None), None)
            if box is not None:
                self.verdict_boxes[box][1] = True
        if tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            m = re.search(r"url=(.+)", a.get("content", ""), re.I)
            if m:
                self.redirect = m.group(1).strip().strip("'\"")
                self.links.append(("meta", "refresh", self.redirect, line))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("pre", "div"):  # <pre/>, <div/>: empty
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self._pre:
            self._pre[-1][1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._divs:
            self._divs.pop()
        if tag == "pre" and self._pre:
            line, chunks = self._pre.pop()
            text = "".join(chunks)
            if self._pre:  # a <pre> inside a <pre>: its text belongs to the outer one too
                self._pre[-1][1].append(text)
            else:
                self.listings.append((line, text))


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    page.close()
    return page


def is_external(url: str) -> bool:
    if url.startswith("//"):
        return True
    scheme = urlsplit(url).scheme.lower()
    return bool(scheme) and (scheme in EXTERNAL_SCHEMES or len(scheme) > 1)


def resolve(site: Path, page: Path, url: str) -> tuple[Path, str]:
    parts = urlsplit(url)
    target = page if not parts.path else (page.parent / unquote(parts.path))
    target = Path(os.path.normpath(target))
    if target.is_dir():
        target = target / "index.html"
    return target, unquote(parts.fragment)


def check_image(path: Path) -> str | None:
    if path.stat().st_size == 0:
        return "is empty"
    magic = IMAGE_MAGIC.get(path.suffix.lower())
    if magic:
        head = path.read_bytes()[:16]
        if not any(head.startswith(m) for m in magic):
            return f"is not a {path.suffix} image"
    if path.suffix.lower() == ".svg" and b"<svg" not in path.read_bytes()[:4096]:
        return "is not an SVG image"
    return None


def check_static(site: Path) -> tuple[list[str], list[str], dict[Path, Page]]:
    errors: list[str] = []
    warnings: list[str] = []
    # pages: every .html but the theme's assets (_static holds Jinja templates, _sources the sources)
    pages = {p: parse(p) for p in sorted(site.rglob("*.html"))
             if p.relative_to(site).parts[0] not in ("_static", "_sources", "_images")}
    for path, page in pages.items():
        rel = path.relative_to(site)
        for tag, attr, url, line in page.links:
            if not url or url == "#" or is_external(url):
                continue
            target, fragment = resolve(site, path, url)
            where = f"{rel}:{line}: <{tag} {attr}={url!r}>"
            try:
                target.relative_to(site)
            except ValueError:
                errors.append(f"{where} points outside the site ({target})")
                continue
            if not target.exists():
                errors.append(f"{where}: {target.relative_to(site)} does not exist")
                continue
            if fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if fragment not in ids:
                    errors.append(f"{where}: no id {fragment!r} in {target.relative_to(site)}")
        for src, line in page.images:
            where = f"{rel}:{line}: <img src={src[:60]!r}>"
            if not src:
                errors.append(f"{where}: an image without a source")
            elif src.startswith("data:"):
                try:
                    payload = src.split(",", 1)[1]
                    ok = len(base64.b64decode(payload) if ";base64" in src.split(",", 1)[0] else unquote(payload)) > 0
                except Exception:
                    ok = False
                if not ok:
                    errors.append(f"{where}: a broken inline image")
            elif not is_external(src):
                target, _ = resolve(site, path, src)
                if target.exists():
                    problem = check_image(target)
                    if problem:
                        errors.append(f"{where}: {target.relative_to(site)} {problem}")
        for cls, line in page.classes:
            names = cls.split()
            if "problematic" in names or "system-message" in names:
                errors.append(f"{rel}:{line}: a Sphinx/docutils failure (class {cls!r}): an unresolved reference or markup error")
            elif "traceback" in names and "output" in names:
                errors.append(f"{rel}:{line}: a cell output shows a traceback")
            elif "stderr" in names and "output" in names:
                errors.append(f"{rel}:{line}: a cell's stderr output (progress bars, log lines, warnings) is on the "
                              "page; it belongs in the build's log (nb_output_stderr: remove, or tag the cell remove-stderr)")
        errors += long_listing_lines(site, path, page)
        errors += [f"{rel}:{line}: a verdict box without its table of checks (<table class=\"shortcut-checks\">, "
                   "shortcut.figures.checks.report_html): the reader cannot see which check decided the verdict"
                   for line, has_table in page.verdict_boxes if not has_table]
    return errors, warnings, pages


def wraps_listings(site: Path, page_path: Path, page: Page) -> bool:
    """Whether one of the page's own stylesheets wraps every listing (``pre {white-space: pre-wrap}``)."""
    for href in page.stylesheets:
        if is_external(href):
            continue
        css, _ = resolve(site, page_path, href)
        if not css.is_file():
            continue
        text = re.sub(r"/\*.*?\*/", "", css.read_text(encoding="utf-8", errors="replace"), flags=re.S)
        for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
            if _WRAP_VALUE.search(body) and any(_WRAP_SELECTOR.match(s.strip()) for s in selectors.split(",")):
                return True
    return False


def long_listing_lines(site: Path, page_path: Path, page: Page, columns: int = PRE_COLUMNS) -> list[str]:
    """A listing line longer than ``columns`` characters, on a page whose stylesheets do not wrap
    listings, is cut off at the text column's edge: one error per listing."""
    long = []
    for line, text in page.listings:
        widths = [len(x.rstrip()) for x in text.splitlines()]
        over = [w for w in widths if w > columns]
        if over:
            first = next(x for x in text.splitlines() if len(x.rstrip()) > columns)
            long.append((line, len(over), max(over), first.strip()[:50]))
    if not long or wraps_listings(site, page_path, page):
        return []
    rel = page_path.relative_to(site)
    return [f"{rel}:{line}: a listing has {n} line(s) longer than the text column ({widest} > {columns} characters, "
            f"e.g. {first!r}), cut off at its edge: shorten them, or wrap listings in the site's CSS "
            f"(pre {{white-space: pre-wrap}})" for line, n, widest, first in long]


# ---------------------------------------------------------------------------------------------------
# the browser
# ---------------------------------------------------------------------------------------------------


def find_chromium(explicit: str | None) -> str | None:
    if explicit:
        return explicit if shutil.which(explicit) or Path(explicit).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def find_mathjax(explicit: str | None, install: bool) -> Path | None:
    candidates = [Path(explicit)] if explicit else []
    if os.environ.get("MATHJAX_DIR"):
        candidates.append(Path(os.environ["MATHJAX_DIR"]))
    local = REPO / "_build" / "mathjax"
    candidates += [local / "node_modules" / "mathjax" / "es5", Path("/usr/share/nodejs/mathjax-full/es5"),
                   Path("/usr/lib/node_modules/mathjax/es5"), Path("/usr/local/lib/node_modules/mathjax/es5")]
    for c in candidates:
        if (c / "tex-mml-chtml.js").is_file():
            return c
    if explicit:
        return None
    if install and shutil.which("npm"):
        print(f"check_site: installing MathJax 3 for offline checks: npm install --prefix {local} mathjax@3", file=sys.stderr)
        local.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(local), "mathjax@3"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        target = local / "node_modules" / "mathjax" / "es5"
        if proc.returncode == 0 and (target / "tex-mml-chtml.js").is_file():
            return target
        print(f"check_site: npm install failed: {proc.stderr.strip()[-500:]}", file=sys.stderr)
    return None


CHECK_SCRIPT = r"""
<script>
(function () {
  function scrolls(el) {
    var ox = getComputedStyle(el).overflowX;
    return ox === 'auto' || ox === 'scroll';
  }
  function describe(el) {
    var text = (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 50);
    return el.tagName.toLowerCase() + ' "' + text + '"';
  }
  // Text of a verdict box or a figure's caption set below MIN_TEXT_PX (each element with text of its own).
  function smallText() {
    var out = [];
    document.querySelectorAll('div.shortcut-verdict, figcaption').forEach(function (box) {
      [box].concat(Array.prototype.slice.call(box.querySelectorAll('*'))).forEach(function (el) {
        if (!el.getClientRects().length) { return; }  // not displayed (a folded row)
        var own = Array.prototype.some.call(el.childNodes, function (n) {
          return n.nodeType === 3 && n.textContent.trim();
        });
        var size = parseFloat(getComputedStyle(el).fontSize);
        if (own && size < MIN_TEXT_PX) { out.push(describe(el) + ' at ' + size.toFixed(1) + ' px'); }
      });
    });
    return out;
  }
  // Tables and listings cut off at the text column: wider than the column, or holding content wider
  // than themselves, with no box between them and the column that scrolls sideways.
  function clipped() {
    var col = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
    var right = col.getBoundingClientRect().right, out = [], scrolled = 0;
    col.querySelectorAll('table, pre').forEach(function (el) {
      if (!el.getClientRects().length) { return; }  // not displayed (a folded cell)
      var over = Math.max(el.scrollWidth - el.clientWidth, el.getBoundingClientRect().right - right);
      if (over <= 1) { return; }
      for (var a = el; a && a !== col; a = a.parentElement) {
        if (scrolls(a)) { scrolled += 1; return; }
      }
      out.push(describe(el) + ' by ' + Math.round(over) + ' px');
    });
    document.documentElement.setAttribute('data-check-small', JSON.stringify(smallText()));
    var page = document.documentElement.scrollWidth - window.innerWidth;
    if (page > 1) { out.push('the page itself, ' + page + ' px wider than the window'); }
    document.documentElement.setAttribute('data-check-clipped', JSON.stringify(out));
    document.documentElement.setAttribute('data-check-scrolled', String(scrolled));
  }
  function report() {
    var imgs = Array.prototype.slice.call(document.images);
    imgs.forEach(function (i) { i.setAttribute('data-check-loaded', (i.complete && i.naturalWidth > 0) ? '1' : '0'); });
    clipped();
    document.documentElement.setAttribute('data-check-done', '1');
  }
  window.addEventListener('load', function () {
    report();
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) { MathJax.startup.promise.then(report, report); }
  });
})();
</script>
"""


def small_in_dom(dom: str) -> list[str]:
    """The text the check script found below :data:`MIN_TEXT_PX` in a verdict box or a caption."""
    m = re.search(r'<html[^>]*\sdata-check-small="([^"]*)"', dom)
    return json.loads(_html.unescape(m.group(1))) if m else []


def make_handler(site: Path, mathjax: Path | None):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):
            path = urlsplit(self.path).path
            if path.startswith("/__mathjax__/") and mathjax is not None:
                return self._send_file(mathjax / unquote(path[len("/__mathjax__/"):]))
            local = Path(self.translate_path(path))
            if local.is_dir():
                local = local / "index.html"
            if local.suffix == ".html" and local.is_file():
                text = local.read_text(encoding="utf-8", errors="replace")
                if mathjax is not None:
                    text = MATHJAX_CDN.sub("/__mathjax__/", text)
                script = CHECK_SCRIPT.replace("MIN_TEXT_PX", str(MIN_TEXT_PX))
                text = text.replace("</body>", script + "</body>", 1) if "</body>" in text else text + script
                return self._send_bytes(text.encode("utf-8"), "text/html; charset=utf-8")
            return super().do_GET()

        def _send_file(self, path: Path):
            path = Path(os.path.normpath(path))
            if mathjax is None or not path.is_file() or mathjax not in path.parents:
                self.send_error(404)
                return
            ctype = self.guess_type(str(path))
            return self._send_bytes(path.read_bytes(), ctype)

        def _send_bytes(self, data: bytes, ctype: str):
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return functools.partial(Handler, directory=str(site))


class Server:
    def __init__(self, site: Path, mathjax: Path | None):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(site, mathjax))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        return self

    def url(self, rel: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{rel}"

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def chromium(exe: str, url: str, *extra: str, timeout: int = 90) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="check-site-chromium-") as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def clipped_in_dom(dom: str) -> tuple[list[str], int]:
    """What the check script found cut off in a page (see ``CHECK_SCRIPT``) and how many wide tables or
    listings scroll sideways instead."""
    m = re.search(r'<html[^>]*\sdata-check-clipped="([^"]*)"', dom)
    found = json.loads(_html.unescape(m.group(1))) if m else []
    n = re.search(r'<html[^>]*\sdata-check-scrolled="(\d+)"', dom)
    return found, int(n.group(1)) if n else 0


def check_browser(site: Path, pages: dict[Path, Page], exe: str, mathjax: Path | None,
                  window_size: str = "1280,1800") -> tuple[list[str], list[str]]:
    errors: list[str] = []
    warnings: list[str] = []
    content = [p for p, page in pages.items()
               if page.redirect is None and p.name not in ("genindex.html", "search.html")]
    with Server(site, mathjax) as server:
        for path in content:
            rel = path.relative_to(site).as_posix()
            try:
                proc = chromium(exe, server.url(rel), "--dump-dom", f"--window-size={window_size}")
            except subprocess.TimeoutExpired:
                errors.append(f"{rel}: Chromium timed out")
                continue
            dom = proc.stdout
            if proc.returncode != 0 or "<html" not in dom:
                errors.append(f"{rel}: Chromium failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
                continue
            if 'data-check-done="1"' not in dom:
                warnings.append(f"{rel}: the page's load event did not fire in the time budget")
            if pages[path].has_math:
                n = dom.count("<mjx-container")
                if n == 0:
                    hint = "" if mathjax else " (no local MathJax: offline, the CDN cannot be reached; pass --mathjax DIR or install npm)"
                    errors.append(f"{rel}: has math but MathJax rendered none of it{hint}")
                elif re.search(r"<mjx-merror\b|data-mjx-error=", dom):
                    errors.append(f"{rel}: MathJax reported a TeX error")
            for m in re.finditer(r"<img\b[^>]*>", dom):
                tag = m.group(0)
                if 'data-check-loaded="0"' in tag:
                    src = re.search(r'src="([^"]*)"', tag)
                    errors.append(f"{rel}: image {src.group(1)[:80] if src else '?'} did not load")
            cut, scrolled = clipped_in_dom(dom)
            width = window_size.split(",")[0]
            errors += [f"{rel}: cut off at the text column ({width} px window): {c}" for c in cut]
            errors += [f"{rel}: text of a verdict box or a caption below {MIN_TEXT_PX} px ({width} px window): {t}"
                       for t in small_in_dom(dom)]
            print(f"  browser: {rel}: {dom.count('<mjx-container')} math elements, "
                  f"{len(re.findall(r'<img', dom))} images, {scrolled} wide table(s) or listing(s) scrolling sideways",
                  flush=True)
    return errors, warnings


def default_page(site: Path) -> str:
    index = site / "index.html"
    if index.is_file():
        redirect = parse(index).redirect
        if redirect:
            return redirect
    return "index.html"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("site", nargs="?", type=Path, default=REPO / "_build" / "html", help="the built site (default: %(default)s)")
    ap.add_argument("--browser", action="store_true", help="also load every page in headless Chromium")
    ap.add_argument("--screenshot", type=Path, metavar="PNG", help="save a screenshot of --page")
    ap.add_argument("--page", help="the page for --screenshot, relative to the site (default: the page index.html redirects to)")
    ap.add_argument("--window-size", default="1280,1800",
                    help="the browser window, for --browser and --screenshot (default: %(default)s)")
    ap.add_argument("--chromium", help="the Chromium executable (default: chromium on PATH)")
    ap.add_argument("--mathjax", help="a local MathJax 3 'es5' folder (holding tex-mml-chtml.js) to use instead of the CDN")
    ap.add_argument("--no-install", action="store_true", help="do not npm-install MathJax when no local copy is found")
    args = ap.parse_args(argv)

    site = args.site.resolve()
    if not (site / "index.html").is_file():
        print(f"check_site: {site} holds no index.html; build the book first (make book)", file=sys.stderr)
        return 2
    errors, warnings, pages = check_static(site)
    print(f"check_site: {len(pages)} pages in {site}; {sum(len(p.links) for p in pages.values())} links checked")

    if args.browser or args.screenshot:
        exe = find_chromium(args.chromium)
        if exe is None:
            print("check_site: no Chromium found; install it with: apt-get install -y chromium", file=sys.stderr)
            return 2
        mathjax = find_mathjax(args.mathjax, install=not args.no_install)
        if args.mathjax and mathjax is None:
            print(f"check_site: --mathjax {args.mathjax}: no tex-mml-chtml.js there", file=sys.stderr)
            return 2
        print(f"check_site: browser {exe}; MathJax {'from ' + str(mathjax) if mathjax else 'from its CDN'}")
        if args.browser:
            e, w = check_browser(site, pages, exe, mathjax, args.window_size)
            errors += e
            warnings += w
        if args.screenshot:
            page = args.page or default_page(site)
            out = args.screenshot.resolve()
            out.parent.mkdir(parents=True, exist_ok=True)
            with Server(site, mathjax) as server:
                proc = chromium(exe, server.url(page), f"--screenshot={out}", f"--window-size={args.window_size}")
            if proc.returncode != 0 or not out.is_file():
                errors.append(f"screenshot of {page} failed: {proc.stderr.strip()[-300:]}")
            else:
                print(f"check_site: screenshot of {page} -> {out}")

    for w in warnings:
        print(f"warning: {w}")
    for e in errors:
        print(f"error: {e}")
    print(f"check_site: {len(errors)} errors, {len(warnings)} warnings")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
