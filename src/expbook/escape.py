"""The escapes a Jinja2 template cannot do: Markdown text a notebook displays, and JSON inside ``<script>``.

HTML is the templates' job (``site.render``: Jinja2 with autoescape; markupsafe in the notebook API), and no run
text ever enters MyST or Sphinx source. What remains is Markdown that a notebook builds from values (a folder
name, a label), which may hold ``<script>``, a Markdown link to ``javascript:``, a MyST substitution ``{{x}}`` or a
table's ``|``, and JSON that a page's script reads. The contexts:

* ``md_text`` / ``md_cell`` — Markdown (MyST) text and table cells: every ASCII punctuation character is
  backslash-escaped, which CommonMark defines as "this character, literally" (so ``<`` can open no tag, ``[`` no
  link, ``{`` no substitution, ``|`` no cell), newlines become spaces and NUL becomes U+FFFD;
* ``md_code`` — inline code: a backtick fence longer than any run of backticks inside (code spans are never
  parsed as HTML or Markdown), with ``|`` escaped for table cells;
* ``json_script`` — JSON inside ``<script>``: ``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\u`` escapes, so
  ``</script>`` cannot close the tag and the text stays valid JavaScript.
"""

from __future__ import annotations

import json
import re
from typing import Any

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character (CommonMark's escapable set)
_CONTROL = re.compile(r"[\x00]")
_NEWLINES = re.compile(r"[\r\n\u2028\u2029]+")


def _plain(value: Any) -> str:
    return _CONTROL.sub("\ufffd", "" if value is None else str(value))


def md_text(value: Any, *, strong: bool = False) -> str:
    """``value`` as literal Markdown text on one line. With ``strong``, ``**bold**`` pairs are kept as emphasis
    (what headline helpers use); every other character is literal."""
    text = _NEWLINES.sub(" ", _plain(value))
    if not strong:
        return _PUNCTUATION.sub(r"\\\1", text)
    parts = text.split("**")
    if len(parts) % 2 == 0:  # an unpaired ** stays literal
        parts[-2:] = ["**".join(parts[-2:])]
    escaped = [_PUNCTUATION.sub(r"\\\1", part) for part in parts]
    return "".join(e if i % 2 == 0 or not e.strip() else f"**{e}**" for i, e in enumerate(escaped))


def md_cell(value: Any, *, strong: bool = False) -> str:
    """``value`` inside a Markdown table cell (``|`` escaped like every other punctuation, one line)."""
    return md_text(value, strong=strong).strip()


def md_code(value: Any) -> str:
    """``value`` as an inline code span, safe in a table cell: the fence outgrows every backtick run inside."""
    text = _NEWLINES.sub(" ", _plain(value)).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def json_script(value: Any, **dumps: Any) -> str:
    """JSON for a ``<script>`` element (or a ``.js`` file): no ``</script>``, no ``<!--``, no line terminators."""
    text = json.dumps(value, ensure_ascii=False, default=str, **dumps)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
