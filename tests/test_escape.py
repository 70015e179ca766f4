"""The escaping layer: what a reader sees is what the run said, and nothing a run says becomes markup."""

import json

import pytest
from markdown_it import MarkdownIt

from expbook.escape import json_script, md_cell, md_code, md_text

HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "a|b", "``x``", "{{x}}", "$$x$$",
           "[link](javascript:alert(1))", "*em* _em_ **strong**", "\\", "&amp; &lt;", "# heading", "1. list"]
PARSER = MarkdownIt("commonmark").enable("table")


def _text(markdown: str) -> str:
    """The text a reader sees in rendered Markdown, and the tags it produced."""
    tokens = PARSER.parseInline(markdown)[0].children if markdown else []
    return "".join(t.content for t in tokens if t.type in ("text", "code_inline")), {t.type for t in tokens}


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_text_renders_as_the_literal_value_and_nothing_else(value):
    text, kinds = _text(md_text(value))
    assert text == value and kinds <= {"text"}


@pytest.mark.parametrize("value", HOSTILE)
def test_a_table_cell_stays_one_cell_and_shows_the_value(value):
    html = PARSER.render(f"| a | b |\n|---|---|\n| {md_cell(value)} | end |\n")
    assert html.count("<td>") == 2 and "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert html.count("end") == 1


@pytest.mark.parametrize("value", ["plain", "with `one` tick", "``double``", "`edge`", "a|b"])
def test_inline_code_shows_the_value_verbatim(value):
    text, kinds = _text(md_code(value))
    assert kinds == {"code_inline"} and text.strip() == value.replace("|", "\\|").strip("`").strip() or text == value


def test_strong_is_the_only_markdown_a_headline_keeps():
    html = PARSER.renderInline(md_text("**best** <b>rung</b> [x](javascript:y)", strong=True))
    assert html == "<strong>best</strong> &lt;b&gt;rung&lt;/b&gt; [x](javascript:y)"


def test_newlines_and_nul_cannot_break_a_line_or_hide_text():
    assert "\n" not in md_cell("a\nb") and md_text("nul\x00") == "nul\ufffd"


def test_json_in_a_script_cannot_close_it_and_still_parses():
    value = {"x": "</script><script>alert(1)</script>", "y": "\u2028 & <!--"}
    text = json_script(value)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == value
