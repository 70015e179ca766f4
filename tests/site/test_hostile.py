"""Hostile text from runs reaches every page generator as text, never as markup.

One notebook puts its ``label`` parameter into a headline, a verdict question, a metric name, Markdown and HTML
outputs (escaped, and raw: the sanitizer's case) and (when asked to fail) an exception, and its ``data_dir`` folder
name into a Markdown output. Runs with hostile labels feed the overview, the history, run pages, compare pages, a
sweep page, a release's what-changed page, the release diff and the switcher data; the strict build must pass, no
element, event-handler attribute or ``javascript:`` URL in the built HTML may come from those strings, and no
MyST directive in them may pull a file of the build machine (a canary outside the book) into a page.
"""

import html.parser
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from expbook import PROJECT_ROOT
from expbook.errors import ParameterError, RunFailed
from expbook.run.runner import run_experiment
from expbook.run.store import Store
from expbook.run.sweep import run_sweep
from expbook.site.book import HAND_WRITTEN, build_book
from expbook.site.release import diff_releases, release

pytestmark = pytest.mark.slow
QUIET = {"progress": False, "echo": lambda *_: None}
HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</script><script>alert(1)</script>", "a|b|c",
           "``code``", "{{x}}", "$$x$$", "[link](javascript:alert(1))", "line\nbreak", "شلام עולם \u202etxt.exe",
           "nul\x00byte", "long " * 2000]
CANARY_TEXT = "CANARY-a7f3e1-build-machine-file"


def myst_attacks(canary: Path) -> list[str]:
    """Multi-line strings that close a fence and open a MyST directive on the canary file (absolute and relative)."""
    relative = f"../../{canary.name}"
    return [f"x\n```\n```{{literalinclude}} {canary}\n```\n", f"y\n````\n```{{include}} {relative}\n```\n",
            f"z\n:::\n:::{{include}} {canary}\n:::\n", "```{raw} html\n<img src=x onerror=alert(1)>\n```",
            f"{{download}}`{canary}`", f"```{{eval-rst}}\n.. include:: {canary}\n```", "<!-- open comment",
            "$$\n\\alpha\n$$", "ecg`<b>x</b>`", f"{{literalinclude}}`{canary}`"]


def hostile_notebook(folder: Path) -> Path:
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Hostile: a notebook whose text comes from its parameters\n\nIs it escaped?"),
        nbformat.v4.new_code_cell(f"label = {HOSTILE[1]!r}  # any text\nfail = False  # raise with the label\n"
                                  "seed = 0  # a seed; range: [0, inf)\ndata_dir: str | None = None  # a folder",
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("if fail:\n    raise ValueError(label)"),
        nbformat.v4.new_code_cell(
            "from IPython.display import HTML, Markdown, display\nfrom expbook.escape import md_code, md_text\n"
            "display(Markdown(f'Label: {md_text(label)}; folder {md_code(data_dir)}'))\n"
            "display(Markdown(f'Raw: {label} in `{data_dir}`'))\ndisplay(HTML(f'<p>{label}</p>'))"),
        nbformat.v4.new_code_cell(
            "from expbook.record import record\nfrom expbook.claims import check, decide\n"
            "record(experiment='hostile', metrics={label: 1.0 + seed, 'value': seed}, headline=f'**{label}** is the label.',\n"
            "       key_metric=(label, 1.0), question=f'Is {label} even?',\n"
            "       verdicts=decide([check(label[:20] or 'E', f'Is {label} even?', float(seed % 2 == 0), '>', 0.5,\n"
            "                              label=label)]))"),
    ])
    notebook.metadata["language_info"] = {"name": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / "hostile.ipynb")
    return folder / "hostile.ipynb"


class Dangers(html.parser.HTMLParser):
    """Elements and attributes a hostile string could have created: event handlers, javascript: URLs, script
    elements that run ``alert``, and ``img`` elements with the test's ``src=x``."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self.text, self._script = [], [], False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on") and "alert" in (value or ""):  # the theme's own handlers never alert
                self.found.append(f"<{tag} {name}={value}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.found.append("<img src=x>")
        self._script = tag == "script" and not dict(attrs).get("type", "").endswith("json")

    def handle_endtag(self, tag):
        self._script = False

    def handle_data(self, data):
        if self._script and "alert(" in data:
            self.found.append(f"<script>{data[:40]}")
        self.text.append(data)


def scan(path: Path) -> Dangers:
    parser = Dangers()
    parser.feed(path.read_text())
    return parser


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    patch = pytest.MonkeyPatch()
    patch.setenv("EXPBOOK_NOTEBOOKS", str(tmp / "notebooks"))
    hostile_notebook(tmp / "notebooks")
    canary = tmp / "canary.txt"  # outside the book: no page may show it
    canary.write_text(CANARY_TEXT + "\n")
    attacks = myst_attacks(canary)
    folder = tmp / "data" / "ecg`<b>x</b>`\n```{include} canary"
    folder.mkdir(parents=True)
    store, book = Store(tmp / "runs"), tmp / "book"
    for name in HAND_WRITTEN:
        (book / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / "book" / name, book / name)
    run_experiment("hostile", {}, store=store, **QUIET)  # the canonical run: its headline and question are hostile
    build_book(store=store, book_dir=book, echo=lambda *_: None)
    release("v1", store=store, book_dir=book)
    for text in HOSTILE + attacks:
        run_experiment("hostile", {"label": text, "seed": 1}, store=store, **QUIET)
        with pytest.raises(RunFailed):
            run_experiment("hostile", {"label": text, "fail": True}, store=store, **QUIET)
    run_experiment("hostile", {"data_dir": str(folder), "seed": 3}, store=store, **QUIET)
    run_sweep("hostile", {"label": HOSTILE[:2] + attacks[:1], "seed": [2]}, store=store, echo=lambda *_: None)
    index = build_book(store=store, book_dir=book, echo=lambda *_: None)  # strict: a warning would raise
    v2 = release("v2", store=store, book_dir=book)
    yield {"html": index.parent, "store": store, "book": book, "v2": v2, "attacks": attacks, "folder": folder}
    patch.undo()


def test_no_page_gets_an_element_or_handler_from_run_text(hostile_site):
    pages = sorted(hostile_site["html"].rglob("*.html")) + sorted(hostile_site["v2"].rglob("changes.html"))
    kinds = {p.relative_to(hostile_site["html"]).parts[0] for p in pages if hostile_site["html"] in p.parents}
    assert {"overview.html", "history", "reports", "runs", "compare", "sweeps"} <= kinds
    for page in pages:
        assert not scan(page).found, (page, scan(page).found[:3])


def test_no_myst_directive_in_run_text_pulls_a_file_of_the_build_machine_into_a_page(hostile_site):
    pages = sorted(hostile_site["html"].rglob("*.html")) + sorted(hostile_site["v2"].rglob("*.html"))
    assert len(pages) > 20
    for page in pages:
        assert CANARY_TEXT not in page.read_text(errors="replace"), page
    assert not list(hostile_site["html"].rglob("canary.txt"))  # nor as a download


def test_markdown_and_html_outputs_are_sanitized_and_escaped_ones_read_as_written(hostile_site):
    store = hostile_site["store"]
    variant = next(r for r in store.runs("hostile") if r.ok and r.overrides.get("data_dir"))
    page = hostile_site["html"] / "runs" / "hostile" / f"{variant.run_id}.html"
    parsed = scan(page)
    assert not parsed.found
    words = " ".join("".join(parsed.text).split())
    assert " ".join(f"folder {hostile_site['folder']}".split()) in words  # md_code shows the folder as written
    for attack in hostile_site["attacks"]:
        run = next(r for r in store.runs("hostile") if r.ok and r.overrides.get("label") == attack)
        text = " ".join("".join(scan(hostile_site["html"] / "runs" / "hostile" / f"{run.run_id}.html").text).split())
        assert " ".join(f"Label: {attack}".replace("\x00", "\ufffd").split()) in text, attack


def test_the_history_page_shows_every_hostile_string_as_the_user_wrote_it(hostile_site):
    text = "".join(scan(hostile_site["html"] / "history" / "hostile.html").text)
    words = " ".join(text.split())
    for value in HOSTILE:
        if value != HOSTILE[1]:  # the default label: its runs show "defaults"
            assert f"label={value!r}"[:200] in text, value[:40]  # the parameters column: as Python reads the value
        assert " ".join(value.replace("\x00", "\ufffd").split())[:200] in words, value[:40]  # the error column
    assert "ValueError: <img src=x onerror=alert(1)>" in text  # the failed run's error, as text


def test_report_run_and_compare_pages_show_the_headline_as_text(hostile_site):
    report = "".join(scan(hostile_site["html"] / "reports" / "hostile.html").text)
    assert "<img src=x onerror=alert(1)> is the label." in report and "Is <img src=x onerror=alert(1)> even?" in report
    store = hostile_site["store"]
    variant = next(r for r in store.runs("hostile") if r.ok and r.overrides.get("label") == HOSTILE[0])
    run_text = "".join(scan(hostile_site["html"] / "runs" / "hostile" / f"{variant.run_id}.html").text)
    assert "<script>alert(1)</script> is the label." in run_text
    compare = "".join(scan(hostile_site["html"] / "compare" / "hostile" / f"{variant.run_id}.html").text)
    assert "<script>alert(1)</script>" in compare


def test_what_changed_and_the_release_diff_list_the_hostile_failures_as_text(hostile_site):
    changes = scan(hostile_site["v2"] / "changes.html")
    assert "ValueError: <script>alert(1)</script>" in "".join(changes.text)
    text = diff_releases("v1", "v2", book_dir=hostile_site["book"])
    assert "failed run" in text and "ValueError: <img src=x onerror=alert(1)>" in text


def test_run_data_and_switcher_data_cannot_close_their_script(hostile_site):
    for data in (hostile_site["html"] / "runs" / "hostile").glob("*.data.js"):
        assert "</script" not in data.read_text().lower() and "<" not in data.read_text()
    versions = (hostile_site["book"] / "_versions" / "versions.js").read_text()
    assert "<" not in versions and json.loads(versions.split("=", 1)[1].strip().rstrip(";"))["aliases"]["latest"] == "v2"
    for name in ("<script>alert(1)</script>", "v1/../x", "latest", ".hidden"):
        with pytest.raises(ParameterError, match="release name"):
            release(name, store=hostile_site["store"], book_dir=hostile_site["book"])
