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
    code = page.locator("article div.cell:has(.cell_input)").first.bounding_box()["y"]
    assert answer < table < code
    page.screenshot(path=str(SCREENSHOTS / "report_answer_first.png"), clip={"x": 0, "y": 0, "width": 1400, "height": 1300})


def _figure_pairs(page):
    page.wait_for_selector("section.expbook-figure-pair", timeout=20_000)
    return page.locator("section.expbook-figure-pair")


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_a_compare_page_pairs_the_figures_and_drives_all_four_views(page, served, site, scheme):
    """Two runs whose seed changes their figures: each shared figure is a pair; the swipe and the onion-skin
    slider answer the mouse and the keyboard; the difference view counts changed pixels (non-zero here)."""
    variant = site["variant"].run_id
    relative = f"compare/{site['example']}/{variant}.html"
    page.goto(f"{served}/{relative}" if scheme == "http" else (site["html"] / relative).as_uri(),
              wait_until="networkidle")
    pairs = _figure_pairs(page)
    assert pairs.count() >= 1
    pair = pairs.first
    shots = SCREENSHOTS / "figures"
    shots.mkdir(parents=True, exist_ok=True)
    assert pair.get_attribute("data-view") == "side" and pair.locator(".expbook-view-side img").count() == 2
    pair.screenshot(path=str(shots / f"side_{scheme}.png"))
    pair.get_by_role("tab", name="Swipe").click()
    stack = pair.locator(".expbook-view-swipe .expbook-figure-stack")
    box = stack.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    assert 75 <= int(stack.get_attribute("data-position")) <= 85  # dragged with the mouse
    pair.locator("input.expbook-swipe").focus()
    page.keyboard.press("Home")
    assert stack.get_attribute("data-position") == "0"  # and with the keyboard
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    assert stack.get_attribute("data-position") == "30"
    pair.screenshot(path=str(shots / f"swipe_{scheme}.png"))
    pair.get_by_role("tab", name="Swipe").focus()
    page.keyboard.press("ArrowRight")  # the view tabs move with the arrow keys too
    assert pair.get_attribute("data-view") == "onion"
    onion = pair.locator(".expbook-view-onion .expbook-figure-stack")
    slider = pair.locator("input.expbook-opacity")
    slider.focus()
    page.keyboard.press("End")
    assert onion.get_attribute("data-opacity") == "100"
    box = slider.bounding_box()
    page.mouse.click(box["x"] + 2, box["y"] + box["height"] / 2)  # the mouse, at the slider's left end
    assert int(onion.get_attribute("data-opacity")) <= 5
    pair.screenshot(path=str(shots / f"onion_{scheme}.png"))
    pair.get_by_role("tab", name="Difference").click()
    assert int(pair.get_attribute("data-changed")) > 0
    assert "pixels differ" in pair.locator(".expbook-diff-count").inner_text()
    pair.screenshot(path=str(shots / f"difference_{scheme}.png"))


def test_two_identical_figures_have_no_changed_pixel(page, served, site, tiny_run):
    """The any-two-runs widget with one run on both sides: every pair's difference is zero."""
    page.goto(f"{served}/history/{site['example']}.html", wait_until="networkidle")
    page.select_option("#expbook-run-a", tiny_run.run_id)
    page.select_option("#expbook-run-b", tiny_run.run_id)
    pair = _figure_pairs(page).first
    pair.get_by_role("tab", name="Difference").click()
    assert pair.get_attribute("data-changed") == "0"
    assert pair.locator(".expbook-diff-count").inner_text().startswith("0 of ")
