"""One place that sets the figure theme and the table escaping of every report, and gives every report its colours."""

from __future__ import annotations

import matplotlib as mpl
import pandas as pd
import seaborn as sns


def set_theme() -> None:
    """Seaborn whitegrid and readable sizes for every report figure; pandas Stylers escape their cells as HTML
    (a label from the data or a parameter must never become markup on the page)."""
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.95)
    mpl.rcParams.update({"figure.dpi": 100, "axes.titleweight": "bold"})
    pd.set_option("styler.format.escape", "html")


def colors(names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """A fixed colour per name, in order, from seaborn's deep palette (cycled): the same name keeps its colour in
    every figure of a report, and across reports that list their names in the same order."""
    palette = sns.color_palette("deep", n_colors=10).as_hex()
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}
