"""A strict Jupyter Book build of a store holding a canonical run and a variant."""

import re

import nbformat
import pytest

from expbook.errors import ExpbookError
from expbook.run.catalogue import notebook_title
from expbook.site.book import build_book
from expbook.site.status import experiment_status
from tests.helpers import NOTEBOOKS

pytestmark = pytest.mark.slow


def test_overview_lists_the_experiment_with_headline_verdicts_and_status(site, tiny_run):
    html = (site["html"] / "overview.html").read_text()
    title = notebook_title(NOTEBOOKS / f"{site['example']}.ipynb").split(":")[0]
    first = tiny_run.results["verdicts"][0]["id"]
    assert title in html and tiny_run.results["headline"][:40] in html
    assert re.search(rf'class="expbook-verdict expbook-verdict-(holds|fails|inconclusive|na)" title="[^"]+">{first} ', html)
    assert "site version" in html


def test_report_page_shows_conclusions_and_every_figure(site):
    html = (site["html"] / "reports" / f"{site['example']}.html").read_text()
    assert "Conclusions" in html and "Headline." in html and "Answer." in html
    # one verdict table: the notebook's own copy (after sanitizing) points to the one at the top
    assert 'class="expbook-verdicts"' not in html and "expbook-pointer" in html and "expbook-conclusions" in html
    images = re.findall(r'<img[^>]+src="([^"]+)"', html)
    assert len(images) >= len(site["store"].canonical(site["example"]).results["figures"])
    for src in images:
        assert (site["html"] / "reports" / src).resolve().is_file(), src


def test_history_lists_every_run_and_links_the_variant_page(site, tiny_run):
    html = (site["html"] / "history" / f"{site['example']}.html").read_text()
    variant = site["variant"]
    assert tiny_run.run_id in html and variant.run_id in html and "seed=7" in html
    assert (site["html"] / "runs" / site["example"] / f"{variant.run_id}.html").is_file()


def test_no_page_loads_anything_from_another_host(site):
    for page in site["html"].rglob("*.html"):
        text = page.read_text()
        external = re.findall(r'<(?:script|link|img|iframe)[^>]+(?:src|href)="(?:https?:)?//[^"]+"', text)
        assert not external, f"{page.name}: {external[:3]}"


def test_rebuilding_with_nothing_changed_is_a_no_op(site):
    messages = []
    build_book(store=site["store"], book_dir=site["book_dir"], echo=messages.append)
    assert messages == ["book: site up to date, nothing rebuilt"]


def test_a_variant_run_does_not_replace_the_canonical_report(site, tiny_run):
    status = experiment_status(site["example"], site["store"])
    assert status.canonical.is_default and status.canonical.run_id != site["variant"].run_id
    assert status.state == "fresh"
    cell = nbformat.read(site["book_dir"] / "reports" / f"{site['example']}.ipynb", as_version=4).cells[1]
    banner = cell.outputs[0]["data"]["text/html"]  # an HTML output: the run's text is never MyST source
    assert f"<code>{status.canonical.run_id}</code>" in banner and site["variant"].run_id not in banner


def test_a_failed_build_leaves_the_previous_site_whole(site):
    book_dir, index = site["book_dir"], site["html"] / "overview.html"
    before = index.read_bytes()
    method = book_dir / "method.md"
    original = method.read_text()
    method.write_text(original + "\nSee {doc}`a-page-that-does-not-exist`.\n")  # -W turns this into an error
    try:
        with pytest.raises(ExpbookError, match="previous site is unchanged"):
            build_book(store=site["store"], book_dir=book_dir, echo=lambda *_: None)
    finally:
        method.write_text(original)
    assert index.read_bytes() == before
    assert not (book_dir / ".site-next").exists()
