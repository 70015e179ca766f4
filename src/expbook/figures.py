"""One place that sets the figure theme for every report."""

from __future__ import annotations

import matplotlib as mpl
import seaborn as sns

PALETTE = {"Direct": "#4C72B0", "Two-Stage": "#DD8452", "Two-Stage (EV)": "#E8B07F", "Stage1-only": "#55A868",
           "Stage2-only": "#8172B3", "Oracle-p": "#C44E52", "Oracle-m": "#937860", "Oracle-both": "#DA8BC3",
           "Binary upper bound": "#8C8C8C"}


def set_theme() -> None:
    """Seaborn whitegrid and readable sizes for every report figure."""
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.95)
    mpl.rcParams.update({"figure.dpi": 100, "axes.titleweight": "bold"})
