"""Claims, and the one pass that decides them into verdicts.

A report states *claims* — ``test`` (an ``Estimate`` against a threshold), ``all_of`` (several at once, an
intersection-union test), ``check`` (a count with no sampling error) — and ``decide`` turns them into verdicts:

* **the family** — every claim of role ``FAMILY`` is one hypothesis of the report's family; their p-values are
  Holm-adjusted together, and each is decided by its interval at the level Holm grants it, 1 − α / c with c the
  factor Holm multiplied its p by, so the interval shown is the one the decision used (it excludes the threshold
  exactly when the adjusted p is below α). Claims declared outside the family (a sanity check, a reference
  comparison, a positive control) use plain 95% intervals and carry their role as a visible label.
* **holds** — the whole interval is on the rule's side of the threshold; **does not hold** — wholly on the other
  side; **inconclusive** — it straddles the threshold, and the verdict says what would decide it: the sampling
  unit and about how many of them (``metrics.estimates``);
* **not applicable**, with its reason, when the contrast cannot fail, detected from the data: the arms are
  identical in every unit, the report passes a structural reason computed from its data (every swept M ≤ K), or
  every unit measured a detector's sentinel. An n/a claim leaves the family.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from expbook.metrics.estimates import Estimate, within_population
from expbook.verdicts import (
    CHECK,
    FAMILY,
    INCONCLUSIVE,
    NOT_APPLICABLE,
    SYMBOLS,
    Formatter,
    Verdict,
    combined_state,
    format_value,
    interval_state,
)


@dataclass(frozen=True)
class Claim:
    """A verdict before the data decides it: a rule on an estimate (or a count), or several at once (``parts``)."""

    id: str
    question: str
    estimate: Estimate | None
    op: str
    threshold: float
    label: str
    fmt: Formatter = "{:.3f}"
    evidence: str = ""
    role: str = FAMILY
    cannot_fail: str | None = None
    sentinel: float | None = None
    value: float = math.nan
    parts: tuple[Claim, ...] = field(default=())

    @property
    def rule(self) -> str:
        if self.parts:
            return " AND ".join(p.rule for p in self.parts)
        return f"{self.label} {SYMBOLS[self.op]} {format_value(self.fmt, self.threshold)}"

    def reason_not_applicable(self) -> str:
        """Why the data leaves this claim nothing to decide ("" when it can fail)."""
        if self.cannot_fail:
            return self.cannot_fail
        e = self.estimate
        if e is None:
            return ""
        if getattr(e, "identical", False):
            return (f"the arms are identical in every one of the {getattr(e, 'sampling', None) or f'{e.n:,} {e.unit}'}: "
                    "the contrast cannot fail")
        values = getattr(e, "values", None)
        if self.sentinel is not None and values is not None and values.size and np.all(values == self.sentinel):
            return (f"every one of the {e.n:,} {e.unit} measured {format_value(self.fmt, self.sentinel)}, the detector's "
                    f"value when there is nothing to measure")
        return ""

    def p_value(self) -> float:
        """Two-sided p of the claim's test; for ``all_of``, the largest of its testable parts' (an intersection-
        union test needs no correction inside the composite)."""
        if self.parts:
            ps = [p.p_value() for p in self.parts if not p.reason_not_applicable()]
            return max(ps) if ps else math.nan
        return self.estimate.p_value(self.threshold) if self.estimate is not None else math.nan


def test(id: str, question: str, estimate: Estimate, op: str, threshold: float, *, label: str,
         fmt: Formatter = "{:.3f}", evidence: str = "", role: str = FAMILY, cannot_fail: str | None = None,
         sentinel: float | None = None) -> Claim:
    """Claim ``estimate <op> threshold``, decided by ``estimate``'s interval (``decide``). ``cannot_fail`` is a
    structural reason the report computed from its data; ``sentinel`` the value a detector reports for nothing."""
    return Claim(id, question, estimate, op, threshold, label, fmt, evidence, role, cannot_fail, sentinel,
                 estimate.value)


def all_of(id: str, question: str, parts: list[Claim], *, evidence: str = "", role: str | None = None) -> Claim:
    """Holds when every part holds (an n/a part is left out, with its reason in the evidence)."""
    return Claim(id, question, parts[0].estimate, parts[0].op, parts[0].threshold, parts[0].label, parts[0].fmt,
                 evidence, role or parts[0].role, value=parts[0].value, parts=tuple(parts))


def check(id: str, question: str, value: float, op: str, threshold: float, *, label: str, fmt: Formatter = "{:.3f}",
          evidence: str = "") -> Claim:
    """A claim on a value with no sampling error (a count of findings): two states, outside the family."""
    return Claim(id, question, None, op, threshold, label, fmt, evidence, CHECK, value=float(value))


def format_p(p: float | None) -> str:
    """The one p-value format of every page: "< 0.001", else three decimals; "—" when there is none."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


_p_text = format_p


def _interval_text(claim: Claim, level: float, adjusted: bool) -> tuple[tuple[float, float] | None, str, str]:
    """(interval, its text, the note naming its level and unit)."""
    e = claim.estimate
    if e is None:
        return None, format_value(claim.fmt, claim.value), ""
    low, high = e.interval(level)
    unit = getattr(e, "sampling", None) or f"{getattr(e, 'splits', e.n):,} {'splits' if hasattr(e, 'splits') else e.unit}"
    note = f"{'Holm-adjusted ' if adjusted else ''}{level:.1%} interval over {unit}"
    if math.isnan(low):
        return None, format_value(claim.fmt, claim.value), note
    value, low_text, high_text = (format_value(claim.fmt, x) for x in (claim.value, low, high))
    return (low, high), f"{value} [{low_text}, {high_text}]", note


def _decided(claim: Claim, level: float, adjusted: bool) -> tuple[str, str, tuple | None, str, dict | None]:
    """(state, value text, interval, interval note, what would decide it) of one testable claim at ``level``."""
    ci, text, note = _interval_text(claim, level, adjusted)
    if claim.estimate is not None and ci is None:  # an estimate without an interval (one seed) settles nothing
        return INCONCLUSIVE, text + " (no interval)", None, note, claim.estimate.units_to_decide(
            claim.threshold, level).as_dict()
    state = interval_state(claim.value, claim.op, claim.threshold, ci if claim.estimate is not None else None)
    decide = None
    if state == INCONCLUSIVE and claim.estimate is not None:
        decide = within_population(claim.estimate.units_to_decide(claim.threshold, level),
                                   getattr(claim.estimate, "population", None)).as_dict()
    return state, text, ci, note, decide


def decide(claims: list[Claim | Verdict], *, alpha: float = 0.05) -> list[Verdict]:
    """Decide every claim (see the module docstring); verdicts passed in are kept as they are. Order is kept."""
    from expbook.metrics.estimates import holm

    reasons = {c.id: c.reason_not_applicable() for c in claims if isinstance(c, Claim) and not c.parts}
    family = [c for c in claims if isinstance(c, Claim) and c.role == FAMILY and c.estimate is not None
              and not _composite_reason(c) and not reasons.get(c.id)]
    raw = np.array([c.p_value() for c in family], dtype=float)
    adjusted = holm(raw) if len(family) else np.array([])
    multipliers = holm_multipliers(raw)
    levels = {}
    for claim, p, p_adj, multiplier in zip(family, raw, adjusted, multipliers, strict=True):
        levels[claim.id] = (1 - alpha / max(multiplier, 1.0), p, p_adj)
    out = []
    for claim in claims:
        if isinstance(claim, Verdict):
            out.append(claim)
            continue
        level, p, p_adj = levels.get(claim.id, (1 - alpha, claim.p_value(), None))
        is_adjusted = claim.id in levels and len(family) > 1
        out.append(_verdict(claim, level, p, p_adj if is_adjusted else None, is_adjusted))
    return out


def holm_multipliers(p_values: np.ndarray) -> np.ndarray:
    """What Holm multiplies each p by before capping at 1: p_Holm / p uncapped, so that the interval at level
    1 − α / multiplier excludes the threshold exactly when the Holm-adjusted p is below α (a NaN p gets the
    family size, the largest multiplier)."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, float(max(p.size, 1)))
    finite = np.flatnonzero(np.isfinite(p) & (p > 0))
    m = np.isfinite(p).sum()
    order = finite[np.argsort(p[finite], kind="stable")]
    ranks = np.searchsorted(np.sort(p[np.isfinite(p)], kind="stable"), p[order], side="left")
    uncapped = np.maximum.accumulate((m - ranks) * p[order])
    out[order] = uncapped / p[order]
    return out


def _composite_reason(claim: Claim) -> str:
    if not claim.parts:
        return ""
    reasons = [p.reason_not_applicable() for p in claim.parts]
    return "; ".join(f"{p.label}: {r}" for p, r in zip(claim.parts, reasons, strict=True)) if all(reasons) else ""


def _verdict(claim: Claim, level: float, p: float, p_adj: float | None, adjusted: bool) -> Verdict:
    common = {"role": claim.role, "evidence": claim.evidence}
    if claim.parts:
        return _composite(claim, level, p, p_adj, adjusted, common)
    reason = claim.reason_not_applicable()
    if reason:
        return Verdict(claim.id, claim.question, claim.value, claim.rule, NOT_APPLICABLE,
                       value_text=_interval_text(claim, level, False)[1], reason=reason, **common)
    state, text, ci, note, decide_ = _decided(claim, level, adjusted)
    if p_adj is not None:
        text += f"; Holm p {_p_text(p_adj)}"
    return Verdict(claim.id, claim.question, claim.value, claim.rule, state, value_text=text, ci=ci, decide=decide_,
                   p=None if p is None or math.isnan(p) else float(p), p_adjusted=p_adj, level=level, interval_note=note,
                   **common)


def _composite(claim: Claim, level: float, p: float, p_adj: float | None, adjusted: bool, common: dict) -> Verdict:
    decided, skipped, parts = [], [], []
    for part in claim.parts:
        reason = part.reason_not_applicable()
        if reason:
            skipped.append(f"{part.label} is n/a ({reason})")
            parts.append({"rule": part.rule, "state": NOT_APPLICABLE, "value_text": "—", "reason": reason})
        else:
            decided.append((part, _decided(part, level, adjusted)))
            parts.append({"rule": part.rule, "state": decided[-1][1][0], "value_text": decided[-1][1][1]})
    if not decided:
        return Verdict(claim.id, claim.question, claim.value, claim.rule, NOT_APPLICABLE, value_text="—",
                       reason="; ".join(skipped), parts=tuple(parts), **common)
    state = combined_state([d[0] for _, d in decided])
    # every part's value labelled ("stage-1 share 26% [19%, 33%]; stage-1 share − stage-2 share −48% [−62%, −34%]")
    text = "; ".join(f"{part.label} {d[1]}" if part.label else d[1] for part, d in decided) + (
        f"; Holm p {_p_text(p_adj)}" if p_adj is not None else "")
    undecided = [d[4] for _, d in decided if d[0] == INCONCLUSIVE and d[4]]
    decide_ = max(undecided, key=lambda d: d["needed"] or math.inf) if state == INCONCLUSIVE and undecided else None
    evidence = "; ".join([claim.evidence, *skipped]) if skipped else claim.evidence
    first_part, first = decided[0]
    return Verdict(claim.id, claim.question, first_part.value, " AND ".join(part.rule for part, _ in decided), state,
                   evidence=evidence, value_text=text, ci=first[2], role=claim.role, decide=decide_,
                   p=None if math.isnan(p) else float(p), p_adjusted=p_adj, level=level, interval_note=first[3],
                   parts=tuple(parts))
