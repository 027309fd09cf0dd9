"""The built book (``build/book/``) read in a real browser, offline: `make book-test`.

The site is served on 127.0.0.1 and every page is opened in headless Chromium (Debian's,
driven by Playwright, as `make e2e` does). Every request that would leave 127.0.0.1 is
refused and recorded. Each page must show no console error, load every file it asks for,
decode every image and typeset its math (no raw ``$$`` left); the search must find a word
of a lesson page; every internal link must lead to a page (and anchor) of the site. The
landing page and one lesson page are saved as screenshots under build/e2e/.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "build" / "book"
SHOTS = ROOT / "build" / "e2e"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
LESSON = "04_softmax_regression.html"  # the page whose screenshot is kept
SEARCH_WORD = "broadcasting"  # a word of notebook 01 that the search must find
PAGES = sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")
               if "_static" not in p.parts and "_sources" not in p.parts) if SITE.is_dir() else []

pytestmark = pytest.mark.skipif(not PAGES, reason="no book: run `make book` or `make book-quick`")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no line per request on the test's output
        pass


@pytest.fixture(scope="module")
def site():
    """The site on http://127.0.0.1:<free port>/, served from its folder."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_Quiet, directory=str(SITE))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make chromium` or set CHROMIUM=")
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        yield chromium
        chromium.close()


class Visit:
    """One page opened in a fresh browser context, with everything that went wrong."""

    def __init__(self, browser, url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.outside: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []

        def route(r):
            if urlsplit(r.request.url).hostname in ("127.0.0.1", None):
                r.continue_()
            else:  # the site must not need the network: refuse and record
                self.outside.append(r.request.url)
                r.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        self.page.on("response", lambda r: r.status >= 400
                     and self.failed.append(f"{r.url} (HTTP {r.status})"))
        self.page.goto(url, wait_until="load")
        self.settle()

    def settle(self) -> None:
        """Load lazy images and let MathJax finish typesetting."""
        self.page.evaluate("""async () => {
            for (const img of document.images) img.loading = "eager";
            await Promise.all(Array.from(document.images).map(i => i.decode().catch(() => {})));
            if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
        }""")
        self.page.wait_for_load_state("networkidle")

    def close(self) -> None:
        self.context.close()


@pytest.mark.parametrize("name", PAGES)
def test_page_reads_offline_with_images_and_math(site, browser, name):
    visit = Visit(browser, site + name)
    try:
        page = visit.page
        assert visit.outside == [], f"{name} asked for files outside the site: {visit.outside}"
        assert visit.failed == [], f"{name}: requests failed: {visit.failed}"
        assert visit.errors == [], f"{name}: console errors: {visit.errors}"
        broken = page.evaluate("Array.from(document.images)"
                               ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert broken == [], f"{name}: images that do not decode: {broken}"
        text = page.inner_text("article") if page.query_selector("article") else ""
        assert "$$" not in text, f"{name}: raw $$ left, math was not typeset"
        source = (SITE / name).read_text(encoding="utf-8")
        if "\\(" in source or "\\[" in source:  # the page has math: MathJax must have run
            assert page.locator("mjx-container").count() > 0, f"{name}: math not typeset"
        assert "used by the course's tests" not in text, f"{name} shows the tests' harness"
        if name.endswith("_solutions.html") or re.match(r"\d\d_", Path(name).name):
            assert "Every output on this page was produced" in text, f"{name}: no run note"
        if name == "index.html":
            page.screenshot(path=str(SHOTS / "book-landing.png"), full_page=False)
        if name == LESSON:
            page.screenshot(path=str(SHOTS / "book-lesson.png"), full_page=False)
            figure = page.locator(".cell_output img").first
            figure.scroll_into_view_if_needed()
            page.screenshot(path=str(SHOTS / "book-lesson-figure.png"), full_page=False)
    finally:
        visit.close()


def test_internal_links_lead_to_pages_and_anchors(site, browser):
    """Every link inside the site names a file of the site, and its #anchor exists there."""
    visit = Visit(browser, site + "index.html")
    links: list[tuple[str, str, str]] = []  # (page, target file, anchor)
    ids: dict[str, set[str]] = {}
    try:
        for name in PAGES:
            visit.page.goto(site + name, wait_until="domcontentloaded")
            hrefs = visit.page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
            ids[name] = set(visit.page.eval_on_selector_all("[id]", "es => es.map(e => e.id)"))
            for href in hrefs:
                parts = urlsplit(href)
                if parts.hostname == "127.0.0.1" and not parts.path.startswith("/_static"):
                    target = unquote(parts.path.lstrip("/")) or "index.html"
                    links.append((name, target, unquote(parts.fragment)))
    finally:
        visit.close()
    broken = [f"{page} -> {target}" for page, target, _ in links if not (SITE / target).is_file()]
    broken += [f"{page} -> {target}#{anchor}" for page, target, anchor in links
               if anchor and target in ids and anchor not in ids[target]]
    assert len(links) > 50, f"only {len(links)} internal links found"
    assert broken == [], f"links that lead nowhere: {sorted(set(broken))[:20]}"


def test_search_finds_a_word_of_a_lesson(site, browser):
    visit = Visit(browser, urljoin(site, f"search.html?q={SEARCH_WORD}"))
    try:
        results = visit.page.locator("#search-results li")
        results.first.wait_for(timeout=20_000)
        hrefs = visit.page.eval_on_selector_all("#search-results li a",
                                                "as => as.map(a => a.href)")
        assert any("01_tensors" in h for h in hrefs), f"search for {SEARCH_WORD!r}: {hrefs}"
    finally:
        visit.close()


def test_every_page_states_how_it_was_run():
    """A quick-mode build says so on every page; the landing page shows the scoreboard."""
    board = json.loads((ROOT / "build" / "book-src" / "book.json").read_text())
    index = (SITE / "index.html").read_text(encoding="utf-8")
    assert "Scoreboard" in index
    quick = bool(board["announcement"])
    for name in PAGES:
        html = (SITE / name).read_text(encoding="utf-8")
        assert ("Quick-mode build" in html) == quick, f"{name}: banner does not match the build"
