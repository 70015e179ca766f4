"""Verdict states, the gate made of decided verdicts, headline clauses that follow the states, and the badges."""

import math

import numpy as np
import pytest

from expbook.claims import check, decide
from expbook.claims import test as claim  # (pytest would collect a name starting with test)
from expbook.metrics.estimates import TEstimate
from expbook.verdicts import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NOT_APPLICABLE,
    SANITY,
    badge_html,
    combine,
    interval_state,
    not_applicable,
    say,
    state_from_record,
    verdict_table,
)


def _seeds(*values: float) -> TEstimate:
    return TEstimate.of(np.array(values), "seeds")

@pytest.mark.parametrize("op, ci, state", [
    (">", (0.2, 0.4), HOLDS),          # wholly above the threshold 0.1
    (">", (-0.3, 0.05), FAILS),        # wholly below
    (">", (0.05, 0.3), INCONCLUSIVE),  # straddles
    (">", (0.1, 0.3), INCONCLUSIVE),   # touches: 0.1 > 0.1 is false at the low end
    (">=", (0.1, 0.3), HOLDS),         # ... but 0.1 ≥ 0.1 holds
    ("<", (-0.5, 0.0), HOLDS),
    ("<", (0.0, 0.5), INCONCLUSIVE),
    ("<", (0.2, 0.5), FAILS),
    (">", (math.nan, 0.5), INCONCLUSIVE),
])
def test_an_interval_makes_the_state_three_way(op, ci, state):
    assert interval_state(0.3, op, 0.1, ci) == state


def test_a_gate_combines_decided_verdicts_and_names_what_it_left_out():
    h1, h2, h3 = decide([claim("H1", "q", _seeds(0.0, 0.0, 0.0), ">", 0.0, label="Δ", role=SANITY),
                         claim("H2", "q", _seeds(0.5, 0.51, 0.49), ">", 0.0, label="Δ", role=SANITY),
                         claim("H3", "q", _seeds(0.4, -0.3, 0.2), ">", 0.0, label="Δ", role=SANITY)])
    assert combine("G", "q", [h1, h2]).state == HOLDS and "H1 is n/a" in combine("G", "q", [h1, h2]).evidence
    gate = combine("G", "q", [h1, h2, h3])
    assert gate.state == INCONCLUSIVE and gate.note == h3.note
    assert combine("G", "q", [h1]).state == NOT_APPLICABLE


@pytest.mark.parametrize("state", [INCONCLUSIVE, NOT_APPLICABLE])
def test_a_headline_clause_is_never_settled_when_its_verdict_is_not(state):
    estimate = _seeds(0.0, 0.0, 0.0) if state == NOT_APPLICABLE else _seeds(0.4, -0.3, 0.2)
    v = decide([claim("T1", "q", estimate, ">", 0.0, label="Δ")])[0]
    assert v.state == state
    clause = say(v, holds="beats", fails="loses to", inconclusive="is not distinguishable from")
    assert clause == "is not distinguishable from"


def test_a_verdict_without_its_premise_is_recorded_as_not_applicable():
    verdict = not_applicable("C3", "q?", "nothing to recommend")
    assert verdict.state == NOT_APPLICABLE and verdict.verdict is None and verdict.note == "nothing to recommend"
    assert verdict.as_dict()["state"] == NOT_APPLICABLE


def test_stored_verdicts_from_before_three_states_still_read():
    assert state_from_record({"verdict": True}) == HOLDS
    assert state_from_record({"verdict": False}) == FAILS
    assert state_from_record({"verdict": None, "state": INCONCLUSIVE}) == INCONCLUSIVE


def test_badges_are_text_with_a_css_class_per_state_and_an_escaped_note():
    assert badge_html(HOLDS, "H1") == '<span class="expbook-verdict expbook-verdict-holds" title="holds">H1 yes</span>'
    assert ">inconclusive<" in badge_html(INCONCLUSIVE) and ">n/a<" in badge_html(NOT_APPLICABLE)
    noted = badge_html(NOT_APPLICABLE, note='M ≤ K "<b>"')
    assert 'title="not applicable: M ≤ K &#34;&lt;b&gt;&#34;"' in noted
    table = verdict_table(decide([check("H1", "q", 1.0, ">", 0.0, label="v"),
                                  check("H2", "<img src=x onerror=alert(1)>", -1.0, ">", 0.0, label="v")]))
    assert table.frame["verdict"].tolist() == [HOLDS, FAILS]
    page = table._repr_html_()
    assert page.count('class="expbook-verdict expbook-verdict-') == 2 and ">yes</span>" in page and ">no</span>" in page
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page and "✅" not in page
