"""Every page and fragment built from run data is a Jinja2 template with autoescape on (``site/templates``): a
run's text reaches HTML only as an escaped value, never as markup, and never as MyST or Sphinx source.

Sphinx pages that show run data (the overview, each history and sweep page) are a fixed MyST heading around a
``{raw} html`` directive whose ``:file:`` is a fragment rendered here: Sphinx copies the file into the page
without parsing it. Report pages carry their banner and answer as an HTML output of an inserted cell, which
myst-nb also passes through unparsed. Run and compare pages are whole standalone pages.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from expbook.verdicts import _CSS, SHORT, note_from_record, state_from_record


def url(*parts: str) -> str:
    """A relative URL from path segments, each percent-encoded (run ids and names are folder names: hostile too)."""
    return "/".join(quote(str(part), safe="") if part not in ("..", ".") else part for part in parts)


def strong(text: Any) -> Markup:
    """``text`` escaped, its ``**bold**`` pairs as ``<strong>`` (what headline helpers write); nothing else kept."""
    escaped = str(escape("" if text is None else str(text).replace("\x00", "\ufffd")))
    return Markup(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped))


def number(value: Any, spec: str = ".4g") -> str:
    return "–" if value is None else format(value, spec)


def plain(value: Any) -> str:
    """Any value as text a reader can see: NUL (which browsers drop silently) shown as U+FFFD."""
    return ("" if value is None else str(value)).replace("\x00", "\ufffd")


@lru_cache(maxsize=1)
def environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("expbook.site", "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(strong=strong, number=number, plain=plain, repr=repr, url=lambda value: url(value))
    env.globals.update(url=url, short=SHORT, css=_CSS, state_of=state_from_record, note_of=note_from_record)
    return env


def render(template: str, **context: Any) -> str:
    """``templates/<template>`` rendered with ``context`` (every value escaped unless the template says otherwise)."""
    return environment().get_template(template).render(**context)
