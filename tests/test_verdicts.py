"""Verdict rules: two states from a point value, three from an interval, the AND of parts, badges."""

import math

import pytest

from expbook.verdicts import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NOT_APPLICABLE,
    all_of,
    badge_html,
    family_rule,
    not_applicable,
    state_from_record,
    threshold_rule,
    verdict_table,
)


def test_threshold_rule_states_the_rule_and_flips_at_the_threshold():
    below = threshold_rule("G", "q?", 0.54, ">=", 0.56, label="Top-1%", fmt="{:.0%}")
    above = threshold_rule("G", "q?", 0.57, ">=", 0.56, label="Top-1%", fmt="{:.0%}")
    assert (below.state, above.state) == (FAILS, HOLDS)
    assert (below.verdict, above.verdict) == (False, True)
    assert below.rule == "Top-1% ≥ 56%" and below.value_text == "54%"
    assert threshold_rule("G", "q?", math.nan, "<", 1.0, label="x").verdict is False


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
def test_an_interval_makes_the_verdict_three_state(op, ci, state):
    verdict = threshold_rule("H", "q?", sum(ci) / 2 if not math.isnan(ci[0]) else 0.3, op, 0.1, label="Δ", ci=ci)
    assert verdict.state == state
    assert verdict.ci == ci or math.isnan(ci[0])
    assert verdict.verdict is {HOLDS: True, FAILS: False}.get(state)


def test_the_interval_not_the_point_decides():
    # point estimate above the threshold, interval straddling it: not a ✓
    assert threshold_rule("H", "q", 0.3, ">", 0.1, label="x", ci=(-0.1, 0.7)).state == INCONCLUSIVE
    assert threshold_rule("H", "q", 0.3, ">", 0.1, label="x").state == HOLDS
    assert "[-0.100, 0.700]" in threshold_rule("H", "q", 0.3, ">", 0.1, label="x", ci=(-0.1, 0.7)).value_text


def test_all_of_needs_every_part_and_one_failure_decides():
    yes = threshold_rule("A", "", 1.0, ">", 0.0, label="a")
    no = threshold_rule("A", "", 0.0, ">", 0.0, label="b")
    unsure = threshold_rule("A", "", 0.5, ">", 0.0, label="c", ci=(-1.0, 2.0))
    assert all_of("A", "q", [yes, yes]).state == HOLDS
    assert all_of("A", "q", [yes, no]).state == FAILS
    assert all_of("A", "q", [yes, unsure]).state == INCONCLUSIVE
    assert all_of("A", "q", [unsure, no]).state == FAILS
    assert all_of("A", "q", [yes, no]).rule == "a > 0.000 AND b > 0.000"


def test_a_verdict_without_its_premise_is_recorded_as_not_applicable():
    verdict = not_applicable("C3", "q?", "nothing to recommend")
    assert verdict.state == NOT_APPLICABLE and verdict.verdict is None
    assert verdict.as_dict()["state"] == NOT_APPLICABLE


def test_stored_verdicts_from_before_three_states_still_read():
    assert state_from_record({"verdict": True}) == HOLDS
    assert state_from_record({"verdict": False}) == FAILS
    assert state_from_record({"verdict": None, "state": INCONCLUSIVE}) == INCONCLUSIVE


def test_badges_are_text_with_a_css_class_per_state():
    assert badge_html(HOLDS, "H1") == '<span class="expbook-verdict expbook-verdict-holds" title="holds">H1 yes</span>'
    assert ">inconclusive<" in badge_html(INCONCLUSIVE)
    table = verdict_table([threshold_rule("H1", "q", 1.0, ">", 0.0, label="v"),
                           threshold_rule("H2", "<img src=x onerror=alert(1)>", -1.0, ">", 0.0, label="v")])
    assert table.frame["verdict"].tolist() == [HOLDS, FAILS]
    page = table._repr_html_()
    assert page.count('class="expbook-verdict expbook-verdict-') == 2 and ">yes</span>" in page and ">no</span>" in page
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page and "✅" not in page


def test_a_family_verdict_follows_the_adjusted_p_value_and_the_sign():
    win = family_rule("V1", "q", 0.05, (0.01, 0.09), 0.02, 0.05, label="Δ")
    loss = family_rule("V1", "q", -0.05, (-0.09, -0.01), 0.02, 0.05, label="Δ")
    unsure = family_rule("V1", "q", 0.05, (0.01, 0.09), 0.2, 0.05, label="Δ")  # its own interval excludes 0
    assert (win.state, loss.state, unsure.state) == (HOLDS, FAILS, INCONCLUSIVE)
    assert "Holm-adjusted p < 0.05" in win.rule and win.value_text.endswith("Holm p 0.020")
    assert family_rule("V1", "q", 0.1, (0.05, 0.15), 1e-6, 0.05, label="Δ").value_text.endswith("Holm p < 0.001")
