"""Verdicts: a question, a measured value, an explicit rule and the rule's state. Pure functions, no I/O.

A verdict may carry the interval ``ci = (low, high)`` of its measured value (a bootstrap over the right
sampling unit, or a t-interval over seeds). Its state is then three-valued:

* **holds** — the whole interval is on the rule's side of the threshold;
* **does not hold** — the whole interval is on the other side;
* **inconclusive** — the interval straddles the threshold.

Without an interval the point value decides (two states). *Not applicable* marks a verdict whose
premise is absent (e.g. no configuration to recommend), so a run records the same verdict ids whatever
the outcome. Pages render the states as CSS text badges (``badge_html``), never as emoji glyphs.
"""

from __future__ import annotations

import html
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

HOLDS, FAILS, INCONCLUSIVE, NOT_APPLICABLE = "holds", "does not hold", "inconclusive", "not applicable"
STATES = (HOLDS, FAILS, INCONCLUSIVE, NOT_APPLICABLE)
SHORT = {HOLDS: "yes", FAILS: "no", INCONCLUSIVE: "inconclusive", NOT_APPLICABLE: "n/a"}
_CSS = {HOLDS: "holds", FAILS: "fails", INCONCLUSIVE: "inconclusive", NOT_APPLICABLE: "na"}

_COMPARATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_SYMBOLS = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}
Formatter = str | Callable[[float], str]


def _format(fmt: Formatter, value: float) -> str:
    return fmt(value) if callable(fmt) else fmt.format(value)


def state_of(holds: bool) -> str:
    """The two-state verdict of a yes/no finding."""
    return HOLDS if holds else FAILS


@dataclass(frozen=True)
class Verdict:
    """One hypothesis or gate: the question, the measured value (and its interval), the rule, and its state."""

    id: str
    question: str
    value: float
    rule: str
    state: str
    evidence: str = ""
    value_text: str = ""
    ci: tuple[float, float] | None = None

    def __post_init__(self):
        if self.state not in STATES:
            raise ValueError(f"verdict {self.id}: state must be one of {STATES}, got {self.state!r}")

    @property
    def holds(self) -> bool:
        return self.state == HOLDS

    @property
    def verdict(self) -> bool | None:
        """Two-state view: True / False, None when inconclusive or not applicable."""
        return {HOLDS: True, FAILS: False}.get(self.state)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ci": list(self.ci) if self.ci else None, "verdict": self.verdict}


def state_from_record(verdict: Mapping[str, Any]) -> str:
    """The state of a stored verdict; runs recorded before three states carry only ``verdict: bool``."""
    if verdict.get("state") in STATES:
        return verdict["state"]
    return state_of(bool(verdict.get("verdict")))


def interval_state(value: float, op: str, threshold: float, ci: tuple[float, float] | None = None) -> str:
    """State of ``value <op> threshold``: by the point value without ``ci``, by the whole interval with it.

    A NaN value (or interval) never holds: without an interval it does not hold, with one it is inconclusive.
    """
    compare = _COMPARATORS[op]
    if ci is None:
        return state_of(not math.isnan(value) and compare(value, threshold))
    low, high = ci
    if math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE
    if compare(low, threshold) and compare(high, threshold):
        return HOLDS
    if not compare(low, threshold) and not compare(high, threshold):
        return FAILS
    return INCONCLUSIVE


def threshold_rule(id: str, question: str, value: float, op: str, threshold: float, *, label: str,
                   evidence: str = "", fmt: Formatter = "{:.3f}", ci: tuple[float, float] | None = None) -> Verdict:
    """Verdict ``value <op> threshold``; ``label`` names the value in the rule text; ``ci`` makes it three-state.

    ``fmt`` (a format string or a function) renders the threshold in the rule, the measured value and its interval.
    """
    ci = (float(ci[0]), float(ci[1])) if ci is not None else None
    text = _format(fmt, value) + (f" [{_format(fmt, ci[0])}, {_format(fmt, ci[1])}]" if ci else "")
    return Verdict(id, question, float(value), f"{label} {_SYMBOLS[op]} {_format(fmt, threshold)}",
                   interval_state(float(value), op, threshold, ci), evidence, text, ci)


def family_rule(id: str, question: str, diff: float, ci: tuple[float, float], p_adjusted: float, alpha: float, *,
                label: str, correction: str | None = "Holm", evidence: str = "", fmt: Formatter = "{:+.3f}",
                test: str = "") -> Verdict:
    """Verdict "``diff`` > 0" from one significance test: the state follows the (multiplicity-adjusted) p-value.

    *Holds* when the difference is positive and significant (after ``correction``, None for a single test),
    *does not hold* when it is significantly negative, *inconclusive* otherwise. ``ci`` is the difference's
    interval (shown); ``test`` names the test in the rule ("paired p (users)").
    """
    significant = not math.isnan(p_adjusted) and p_adjusted < alpha
    state = (HOLDS if diff > 0 else FAILS) if significant and diff != 0 else INCONCLUSIVE
    p_text = "< 0.001" if p_adjusted < 0.001 else f"{p_adjusted:.3f}"
    p_name = f"{correction} p" if correction else "p"
    rule = (f"{label} > 0 and {correction}-adjusted p < {alpha:g}" if correction
            else f"{label} > 0 and {test or 'p'} < {alpha:g}")
    text = f"{_format(fmt, diff)} [{_format(fmt, ci[0])}, {_format(fmt, ci[1])}]; {p_name} {p_text}"
    return Verdict(id, question, float(diff), rule, state, evidence, text, (float(ci[0]), float(ci[1])))


def combined_state(states: list[str]) -> str:
    """AND of states: any *does not hold* → does not hold; all *holds* → holds; all n/a → n/a; else inconclusive."""
    if any(s == FAILS for s in states):
        return FAILS
    if all(s == HOLDS for s in states):
        return HOLDS
    if all(s == NOT_APPLICABLE for s in states):
        return NOT_APPLICABLE
    return INCONCLUSIVE


def all_of(id: str, question: str, parts: list[Verdict], *, evidence: str = "") -> Verdict:
    """Holds when every part holds; rule = the parts' rules joined by AND; value and interval = the first part's."""
    return Verdict(id, question, parts[0].value, " AND ".join(p.rule for p in parts),
                   combined_state([p.state for p in parts]), evidence, "; ".join(p.value_text for p in parts), parts[0].ci)


def not_applicable(id: str, question: str, reason: str) -> Verdict:
    """A verdict whose premise is absent; recorded so the set of verdict ids never depends on the outcome."""
    return Verdict(id, question, math.nan, "—", NOT_APPLICABLE, reason, "—")


def join_names(names: list[str]) -> str:
    """"a", "a and b", "a, b and c": names in a sentence a headline composes."""
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def badge_html(state: str, label: str = "", *, note: str = "") -> str:
    """A text badge styled by ``expbook.css`` (colour plus a word, readable without an emoji font); the tooltip
    names the state and ``note`` (why it is n/a, what would decide it). Label and note are escaped."""
    text = html.escape(f"{label} {SHORT[state]}".strip(), quote=False)
    title = html.escape(state + (f": {note}" if note else ""), quote=True)
    return f'<span class="expbook-verdict expbook-verdict-{_CSS[state]}" title="{title}">{text}</span>'


@dataclass(frozen=True)
class VerdictTable:
    """The conclusions table of a notebook: question → measured value [interval] → rule → state badge → evidence.

    Displayed as HTML built cell by cell: every text escaped, only the badges as markup (a Styler would have to
    either escape the badges or trust the texts). ``frame`` is the same table as plain text, for tests and exports.
    """

    verdicts: tuple[Verdict, ...]

    @property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"": [v.id for v in self.verdicts], "question": [v.question for v in self.verdicts],
                             "measured": [v.value_text or f"{v.value:.3f}" for v in self.verdicts],
                             "rule": [v.rule for v in self.verdicts], "verdict": [v.state for v in self.verdicts],
                             "evidence": [v.evidence for v in self.verdicts]})

    def _repr_html_(self) -> str:
        from expbook.escape import Markup, tag

        head = "".join(str(tag("th", h)) for h in ("", "question", "measured", "rule", "verdict", "evidence"))
        rows = []
        for v in self.verdicts:
            cells = (v.id, v.question, v.value_text or f"{v.value:.3f}", v.rule, Markup(badge_html(v.state)), v.evidence)
            rows.append(str(tag("tr", Markup("".join(str(tag("td", cell)) for cell in cells)))))
        rows = "".join(rows)
        return f'<table class="expbook-verdicts"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def verdict_table(verdicts: list[Verdict]) -> VerdictTable:
    """The conclusions table of ``verdicts``, to display as a notebook's last expression (``VerdictTable``)."""
    return VerdictTable(tuple(verdicts))
