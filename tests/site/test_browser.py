"""The built site in a real browser (Debian's Chromium, driven by Playwright), served on 127.0.0.1 only."""

import functools
import http.server
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from expbook.run.catalogue import list_experiments, notebook_title
from tests.helpers import NOTEBOOKS

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parents[1] / "output" / "browser"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def served(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site["html"]))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    assert CHROMIUM.is_file(), "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    yield page
    context.close()
    off_host = [u for u in page.requested if urlparse(u).scheme in ("http", "https")
                and urlparse(u).hostname != "127.0.0.1"]
    assert not off_host, f"requests left the host: {off_host[:5]}"


def test_overview_lists_every_experiment_with_its_status(page, served, site):
    page.goto(f"{served}/overview.html", wait_until="networkidle")
    rows = page.locator("article table tbody tr")
    text = rows.all_inner_texts()
    titles = [notebook_title(NOTEBOOKS / f"{name}.ipynb").split(":")[0] for name in list_experiments(NOTEBOOKS)]
    assert rows.count() == len(titles)
    assert all(title in row for title, row in zip(titles, text, strict=True))
    assert all("fresh" in row for row in text)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)


def test_overview_verdict_badges_are_readable_text_with_colour(page, served):
    """Badges are words on a coloured background: no emoji glyph that Chromium without an emoji font shows as a box."""
    page.goto(f"{served}/overview.html", wait_until="networkidle")
    badges = page.eval_on_selector_all(
        "article table .expbook-verdict",
        "els => els.map(e => [e.innerText.trim(), getComputedStyle(e).backgroundColor, e.getBoundingClientRect().width])")
    assert len(badges) >= 10
    for text, background, width in badges:
        assert text.split()[-1] in ("yes", "no", "inconclusive", "n/a"), text
        assert background not in ("rgba(0, 0, 0, 0)", "transparent") and width > 15, (text, background)
    assert "✅" not in page.locator("article").inner_text() and "❌" not in page.locator("article").inner_text()


def test_every_image_on_every_report_page_loads(page, served, site):
    pages = sorted((site["html"] / "reports").glob("*.html")) + sorted((site["html"] / "runs").rglob("*.html"))
    assert len(pages) >= 3
    for path in pages:
        page.goto(f"{served}/{path.relative_to(site['html']).as_posix()}", wait_until="networkidle")
        sizes = page.eval_on_selector_all("article img", "imgs => imgs.map(i => [i.src, i.complete && i.naturalWidth])")
        broken = [src for src, width in sizes if not width]
        assert not broken, f"{path.name}: {broken}"
    page.goto(f"{served}/reports/{site['example']}.html", wait_until="networkidle")
    page.screenshot(path=str(SCREENSHOTS / f"report_{site['example']}.png"), full_page=True)


def test_search_finds_an_experiment_by_name(page, served, site):
    word = max(site["example"].split("_"), key=len)
    page.goto(f"{served}/search.html?q={word}", wait_until="networkidle")
    page.wait_for_selector("#search-results ul li a", timeout=20_000)
    links = page.eval_on_selector_all("#search-results ul li a", "links => links.map(a => a.href)")
    assert any(f"reports/{site['example']}" in link for link in links), links


def test_compare_and_sweep_pages_render(page, served, site):
    variant = site["variant"].run_id
    page.goto(f"{served}/compare/{site['example']}/{variant}.html", wait_until="networkidle")
    assert page.locator("h1").first.inner_text().startswith("Compare")
    assert "seed" in page.locator("article").inner_text()
    sweep = next((site["html"] / "sweeps" / site["example"]).glob("*.html"))
    page.goto(f"{served}/sweeps/{site['example']}/{sweep.name}", wait_until="networkidle")
    body = page.locator("article").inner_text()
    assert "Verdict agreement" in body and site["variant"].results["verdicts"][0]["id"] in body


def test_history_page_compares_any_two_runs(page, served, site, tiny_run):
    page.goto(f"{served}/history/{site['example']}.html", wait_until="networkidle")
    options = page.eval_on_selector_all("#expbook-run-a option", "options => options.map(o => o.value)")
    assert tiny_run.run_id in options and site["variant"].run_id in options
    page.select_option("#expbook-run-a", tiny_run.run_id)
    page.select_option("#expbook-run-b", site["variant"].run_id)
    output = page.locator("#expbook-compare-output").inner_text()
    assert "Parameters that differ" in output and "seed" in output and "Metrics that differ" in output
    page.screenshot(path=str(SCREENSHOTS / "history_compare.png"), full_page=True)


def test_a_report_opens_with_its_answer_above_the_first_code_cell(page, served, site):
    page.goto(f"{served}/reports/{site['example']}.html", wait_until="networkidle")
    answer = page.locator("article p", has_text="Answer.").first.bounding_box()["y"]
    table = page.locator("article table .expbook-verdict").first.bounding_box()["y"]
    code = page.locator("article div.cell").first.bounding_box()["y"]
    assert answer < table < code
    page.screenshot(path=str(SCREENSHOTS / "report_answer_first.png"), clip={"x": 0, "y": 0, "width": 1400, "height": 1300})
