"""The one theme: seaborn's whitegrid, pandas Stylers that escape their cells, a fixed colour per name."""

import pandas as pd

from expbook.figures import colors, set_theme


def test_the_theme_makes_stylers_escape_their_cells():
    set_theme()
    html = pd.DataFrame({"a": ["<img src=x onerror=alert(1)>"]}).style.to_html()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_name_keeps_its_colour_whatever_else_is_listed():
    first = colors(["Direct", "Two-Stage", "Oracle-p"])
    assert colors(["Direct", "Two-Stage"]) == {k: first[k] for k in ("Direct", "Two-Stage")}
    assert len(set(first.values())) == 3 and all(c.startswith("#") for c in first.values())
