"""Verdicts: a question, a measured value with the interval that decided it, an explicit rule, and the state the
data gives it — *holds*, *does not hold*, *inconclusive* (with what would decide it) or *not applicable* (with
why). ``expbook.claims`` decides them; this module holds the states, combines decided verdicts into a decision
(``combine``), words them for a headline (``say``) and renders them: CSS text badges (``badge_html``), never
emoji glyphs, and the conclusions table of a notebook (``verdict_table``).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from markupsafe import Markup

HOLDS, FAILS, INCONCLUSIVE, NOT_APPLICABLE = "holds", "does not hold", "inconclusive", "not applicable"
STATES = (HOLDS, FAILS, INCONCLUSIVE, NOT_APPLICABLE)
SHORT = {HOLDS: "yes", FAILS: "no", INCONCLUSIVE: "inconclusive", NOT_APPLICABLE: "n/a"}
_CSS = {HOLDS: "holds", FAILS: "fails", INCONCLUSIVE: "inconclusive", NOT_APPLICABLE: "na"}
FAMILY, SANITY, REFERENCE, CONTROL, DECISION, CHECK = (
    "family", "sanity check", "reference", "positive control", "decision", "check")

_COMPARATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
SYMBOLS = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}
Formatter = str | Callable[[float], str]


def format_value(fmt: Formatter, value: float) -> str:
    return fmt(value) if callable(fmt) else fmt.format(value)


def state_of(holds: bool) -> str:
    """The two-state verdict of a yes/no finding."""
    return HOLDS if holds else FAILS


@dataclass(frozen=True)
class Verdict:
    """One decided hypothesis: the question, the measured value and the interval that decided it, the rule, the
    state; why it is n/a (``reason``) or what would decide it (``decide``); its role; its p and adjusted p."""

    id: str
    question: str
    value: float
    rule: str
    state: str
    evidence: str = ""
    value_text: str = ""
    ci: tuple[float, float] | None = None
    role: str = FAMILY
    reason: str = ""
    decide: dict | None = None
    p: float | None = None
    p_adjusted: float | None = None
    level: float | None = None
    interval_note: str = ""
    parts: tuple[dict, ...] = ()  # of an all_of: each part's rule, state and measured value

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

    @property
    def note(self) -> str:
        """Why it is n/a, or what would decide it; empty when it is decided."""
        if self.state == NOT_APPLICABLE:
            return self.reason
        return (self.decide or {}).get("text", "") if self.state == INCONCLUSIVE else ""

    def part_state(self, index: int) -> str:
        """The state of part ``index`` of an ``all_of`` (n/a for a part that was left out)."""
        return self.parts[index]["state"] if index < len(self.parts) else NOT_APPLICABLE

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ci": list(self.ci) if self.ci else None, "verdict": self.verdict,
                "parts": list(self.parts)}


def state_from_record(verdict: Mapping[str, Any]) -> str:
    """The state of a stored verdict; runs recorded before three states carry only ``verdict: bool``."""
    if verdict.get("state") in STATES:
        return verdict["state"]
    return state_of(bool(verdict.get("verdict")))


def note_from_record(verdict: Mapping[str, Any]) -> str:
    """A stored verdict's note: why it is n/a, or what would decide it when inconclusive ("" otherwise)."""
    state = state_from_record(verdict)
    if state == NOT_APPLICABLE:
        return verdict.get("reason") or verdict.get("evidence") or ""
    if state == INCONCLUSIVE:
        decide_ = verdict.get("decide")
        return (decide_.get("text", "") if isinstance(decide_, Mapping) else decide_) or ""
    return ""


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


def combined_state(states: list[str]) -> str:
    """AND of states: any *does not hold* → does not hold; all *holds* → holds; all n/a → n/a; else inconclusive."""
    if any(s == FAILS for s in states):
        return FAILS
    if all(s == HOLDS for s in states):
        return HOLDS
    if all(s == NOT_APPLICABLE for s in states):
        return NOT_APPLICABLE
    return INCONCLUSIVE


def not_applicable(id: str, question: str, reason: str, *, role: str = FAMILY) -> Verdict:
    """A verdict whose premise is absent; recorded so the set of verdict ids never depends on the outcome."""
    return Verdict(id, question, math.nan, "—", NOT_APPLICABLE, "", "—", role=role, reason=reason)


def combine(id: str, question: str, verdicts: list[Verdict], *, role: str = DECISION, evidence: str = "") -> Verdict:
    """A decision made of verdicts already decided (a gate): holds when every one that applies holds; the n/a ones
    are left out and named; n/a when none applies."""
    applies = [v for v in verdicts if v.state != NOT_APPLICABLE]
    skipped = [f"{v.id} is n/a ({v.reason})" for v in verdicts if v.state == NOT_APPLICABLE]
    evidence = "; ".join([evidence, *skipped]) if skipped else evidence
    if not applies:
        return Verdict(id, question, math.nan, " AND ".join(v.rule for v in verdicts), NOT_APPLICABLE,
                       evidence=evidence, value_text="—", role=role, reason="; ".join(skipped))
    state = combined_state([v.state for v in applies])
    undecided = [v.decide for v in applies if v.state == INCONCLUSIVE and v.decide]
    return Verdict(id, question, applies[0].value, " AND ".join(f"{v.id}" for v in applies), state,
                   evidence=evidence, value_text="; ".join(f"{v.id} {SHORT[v.state]}" for v in applies), role=role,
                   decide=max(undecided, key=lambda d: d["needed"] or math.inf) if state == INCONCLUSIVE and undecided
                   else None,
                   parts=tuple({"rule": v.id, "state": v.state, "value_text": v.value_text} for v in applies))


# --- sentences --------------------------------------------------------------------------------------------------------

def say(verdict: Verdict, *, holds: str, fails: str, inconclusive: str, na: str | None = None) -> str:
    """The clause a headline uses for ``verdict``: never a settled claim when the verdict is not settled."""
    return {HOLDS: holds, FAILS: fails, INCONCLUSIVE: inconclusive,
            NOT_APPLICABLE: na if na is not None else inconclusive}[verdict.state]


def join_names(names: list[str]) -> str:
    """"a", "a and b", "a, b and c": names in a sentence a headline composes."""
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def badge_html(state: str, label: str = "", *, note: str = "") -> Markup:
    """A text badge styled by ``expbook.css`` (colour plus a word, readable without an emoji font); the tooltip
    names the state and ``note`` (why it is n/a, what would decide it). Label and note are escaped."""
    return Markup('<span class="expbook-verdict expbook-verdict-{}" title="{}">{}</span>').format(
        _CSS[state], state + (f": {note}" if note else ""), f"{label} {SHORT[state]}".strip())


@dataclass(frozen=True)
class VerdictTable:
    """The conclusions table of a notebook: question → measured value [the interval that decided it] → rule →
    state badge → why it is n/a or what would decide it → evidence.

    Displayed as HTML built cell by cell: every text escaped, only the badges as markup (a Styler would have to
    either escape the badges or trust the texts). ``frame`` is the same table as plain text, for tests and exports.
    """

    verdicts: tuple[Verdict, ...]

    @property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"": [v.id for v in self.verdicts], "role": [v.role for v in self.verdicts],
                             "question": [v.question for v in self.verdicts],
                             "measured": [v.value_text or f"{v.value:.3f}" for v in self.verdicts],
                             "rule": [v.rule for v in self.verdicts], "verdict": [v.state for v in self.verdicts],
                             "why n/a · what would decide it": [v.note for v in self.verdicts],
                             "evidence": [v.evidence for v in self.verdicts]})

    def _repr_html_(self) -> str:
        """Built with markupsafe: ``Markup.format`` escapes every value; only the badges are markup."""
        head = Markup("").join(Markup("<th>{}</th>").format(h) for h in (
            "", "question", "measured", "rule", "verdict", "why n/a · what would decide it", "evidence"))
        rows = []
        for v in self.verdicts:
            label = Markup("<b>{}</b>").format(v.id) + (Markup("") if v.role == FAMILY else Markup(
                "<small> {}</small>").format(v.role))
            measured = Markup("<span>{}</span>").format(v.value_text or f"{v.value:.3f}") + (
                Markup("<small> ({})</small>").format(v.interval_note) if v.interval_note else Markup(""))
            cells = (label, v.question, measured, v.rule, badge_html(v.state), v.note, v.evidence)
            rows.append(Markup("<tr>{}</tr>").format(Markup("").join(Markup("<td>{}</td>").format(c) for c in cells)))
        return str(Markup('<table class="expbook-verdicts"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>').format(
            head, Markup("").join(rows)))


def verdict_table(verdicts: list[Verdict]) -> VerdictTable:
    """The conclusions table of ``verdicts``, to display as a notebook's last expression (``VerdictTable``)."""
    return VerdictTable(tuple(verdicts))
