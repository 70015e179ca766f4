"""One escaping layer for every generated page: each value goes through the escape of the context it lands in.

Run text is hostile: a parameter value, an exception message, a headline or a data-derived label may hold
``<script>``, a Markdown link to ``javascript:``, a MyST substitution ``{{x}}`` or a table's ``|``. The contexts:

* ``md_text`` / ``md_cell`` — Markdown (MyST) text and table cells: every ASCII punctuation character is
  backslash-escaped, which CommonMark defines as "this character, literally" (so ``<`` can open no tag, ``[`` no
  link, ``{`` no substitution, ``|`` no cell), newlines become spaces and NUL becomes U+FFFD;
* ``md_code`` — inline code: a backtick fence longer than any run of backticks inside (code spans are never
  parsed as HTML or Markdown), with ``|`` escaped for table cells;
* ``html_text`` / ``html_attr`` — an HTML text node or a quoted attribute value (``html.escape``);
* ``json_script`` — JSON inside ``<script>``: ``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\u`` escapes, so
  ``</script>`` cannot close the tag and the text stays valid JavaScript.

``Markup`` marks a fragment that is already safe for its context (HTML or Markdown built by this layer, such as
a verdict badge): the escapes leave it alone, as markupsafe's ``Markup`` does for Jinja.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character (CommonMark's escapable set)
_CONTROL = re.compile(r"[\x00]")
_NEWLINES = re.compile(r"[\r\n\u2028\u2029]+")


class Markup(str):
    """A string already escaped for the page it goes into (trusted HTML or Markdown fragment)."""

    __slots__ = ()

    def __add__(self, other: object) -> Markup:
        return Markup(str.__add__(self, str(other) if isinstance(other, Markup) else html_text(other)))


def _plain(value: Any) -> str:
    return _CONTROL.sub("\ufffd", "" if value is None else str(value))


def md_text(value: Any, *, strong: bool = False) -> str:
    """``value`` as literal Markdown text on one line. With ``strong``, ``**bold**`` pairs are kept as emphasis
    (what headline helpers use); every other character is literal."""
    if isinstance(value, Markup):
        return str(value)
    text = _NEWLINES.sub(" ", _plain(value))
    if not strong:
        return _PUNCTUATION.sub(r"\\\1", text)
    parts = text.split("**")
    if len(parts) % 2 == 0:  # an unpaired ** stays literal
        parts[-2:] = ["**".join(parts[-2:])]
    escaped = [_PUNCTUATION.sub(r"\\\1", part) for part in parts]
    return "".join(e if i % 2 == 0 or not e.strip() else f"**{e}**" for i, e in enumerate(escaped))


def md_cell(value: Any, *, strong: bool = False) -> str:
    """``value`` inside a Markdown table cell (``|`` escaped like every other punctuation, one line). An HTML
    ``Markup`` fragment passes as raw inline HTML, its ``|`` as ``&#124;`` (a table splits on it before parsing)."""
    if isinstance(value, Markup):
        return _NEWLINES.sub(" ", str(value)).replace("|", "&#124;").strip()
    return md_text(value, strong=strong).strip()


def md_code(value: Any) -> str:
    """``value`` as an inline code span, safe in a table cell: the fence outgrows every backtick run inside."""
    text = _NEWLINES.sub(" ", _plain(value)).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def html_text(value: Any) -> str:
    """``value`` as an HTML text node."""
    if isinstance(value, Markup):
        return str(value)
    return html.escape(_plain(value), quote=False)


def html_attr(value: Any) -> str:
    """``value`` inside a double- or single-quoted HTML attribute."""
    return html.escape(_plain(value), quote=True)


def json_script(value: Any, **dumps: Any) -> str:
    """JSON for a ``<script>`` element (or a ``.js`` file): no ``</script>``, no ``<!--``, no line terminators."""
    text = json.dumps(value, ensure_ascii=False, default=str, **dumps)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def tag(name: str, content: Any = "", **attributes: Any) -> Markup:
    """``<name attr="…">content</name>``: attributes always escaped, ``content`` escaped unless it is ``Markup``.
    A trailing underscore in an attribute name is dropped (``class_`` → ``class``); None leaves it out."""
    attrs = "".join(f' {key.rstrip("_").replace("_", "-")}="{html_attr(value)}"' for key, value in attributes.items()
                    if value is not None)
    return Markup(f"<{name}{attrs}>{html_text(content)}</{name}>")


def join(parts, separator: str = "") -> Markup:
    """Concatenate fragments, escaping every part that is not ``Markup`` already."""
    return Markup(html_text(separator).join(html_text(part) for part in parts))
