"""Claims decided into verdicts: the interval the decision used, n/a from the data, Holm over the family and
what would decide an inconclusive verdict."""

import numpy as np
import pytest

from expbook.claims import all_of, check, decide
from expbook.claims import test as claim  # (pytest would collect a name starting with test)
from expbook.metrics.estimates import TEstimate, holm
from expbook.verdicts import CHECK, FAILS, FAMILY, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, SANITY


def _seeds(*values: float) -> TEstimate:
    return TEstimate.of(np.array(values), "seeds")

def test_a_check_has_no_sampling_error_two_states_and_flips_at_its_threshold():
    below, above = (decide([check("G", "q?", v, ">=", 0.56, label="Top-1%", fmt="{:.0%}")])[0] for v in (0.54, 0.57))
    assert (below.state, above.state) == (FAILS, HOLDS) and below.role == CHECK
    assert below.rule == "Top-1% ≥ 56%" and below.value_text == "54%" and below.p_adjusted is None


def test_the_interval_not_the_point_decides():
    sure, unsure = _seeds(0.30, 0.31, 0.29, 0.30), _seeds(0.6, -0.2, 0.5, 0.3)
    assert sure.value == pytest.approx(unsure.value)
    a, b = decide([claim("A", "q", sure, ">", 0.0, label="Δ"), claim("B", "q", unsure, ">", 0.0, label="Δ")])
    assert (a.state, b.state) == (HOLDS, INCONCLUSIVE)
    assert f"[{b.ci[0]:.3f}, {b.ci[1]:.3f}]" in b.value_text


def test_identical_arms_are_not_applicable_and_flip_to_decided_when_the_arms_differ():
    same = decide([claim("H5.1", "q", _seeds(0.0, 0.0, 0.0), ">", 0.0, label="Δ")])[0]
    assert same.state == NOT_APPLICABLE and same.verdict is None
    assert "identical in every one of the 3 seeds" in same.reason and same.note == same.reason
    differ = decide([claim("H5.1", "q", _seeds(0.05, 0.06, 0.07), ">", 0.0, label="Δ")])[0]
    assert differ.state == HOLDS and differ.ci[0] > 0 and differ.note == ""
    lower = decide([claim("H5.1", "q", _seeds(-0.05, -0.06, -0.07), ">", 0.0, label="Δ")])[0]
    assert lower.state == FAILS


def test_a_structural_reason_or_a_sentinel_makes_it_not_applicable():
    cannot = decide([claim("H", "q", _seeds(0.1, 0.2, 0.3), ">", 0.0, label="Δ",
                          cannot_fail="every swept M ≤ K = 1,636")])[0]
    assert cannot.state == NOT_APPLICABLE and cannot.reason == "every swept M ≤ K = 1,636"
    clamp = decide([claim("C2", "q", _seeds(1.0, 1.0, 1.0), ">", 1.1, label="ratio", sentinel=1.0)])[0]
    assert clamp.state == NOT_APPLICABLE and "detector's value" in clamp.reason
    measured = decide([claim("C2", "q", _seeds(1.0, 1.3, 1.0), ">", 1.1, label="ratio", sentinel=1.0)])[0]
    assert measured.state != NOT_APPLICABLE


def test_holm_applies_across_the_family_and_leaves_the_others_alone():
    strong = _seeds(0.50, 0.52, 0.49, 0.51, 0.50)
    weak = _seeds(0.1, 0.01, 0.12, 0.02, 0.08)  # p ≈ 0.04 alone: decided at 95%, not after Holm (× 2)
    null = _seeds(0.1, -0.1, 0.05, -0.04, 0.0)
    assert 0.025 < weak.p_value(0.0) < 0.05
    family = [claim(i, "q", e, ">", 0.0, label="Δ") for i, e in (("F1", strong), ("F2", weak), ("F3", null))]
    outside = claim("S0", "q", weak, ">", 0.0, label="Δ", role=SANITY)
    verdicts = {v.id: v for v in decide([*family, outside], alpha=0.05)}
    expected = holm([e.p_value(0.0) for e in (strong, weak, null)])
    assert [verdicts[i].p_adjusted for i in ("F1", "F2", "F3")] == pytest.approx(list(expected))
    assert verdicts["F1"].state == HOLDS and verdicts["F2"].state == INCONCLUSIVE
    assert verdicts["S0"].state == HOLDS and verdicts["S0"].p_adjusted is None and verdicts["S0"].level == 0.95
    assert verdicts["S0"].role == SANITY and verdicts["F2"].role == FAMILY
    assert verdicts["F2"].ci[0] < 0 < verdicts["F2"].ci[1]  # the interval shown is the one that decided
    assert "Holm-adjusted" in verdicts["F2"].interval_note and "Holm p" in verdicts["F2"].value_text


def test_the_interval_shown_agrees_with_the_adjusted_p():
    rng = np.random.default_rng(3)
    claims = [claim(f"F{i}", "q", TEstimate.of(rng.normal(m, 0.05, 6), "seeds"), ">", 0.0, label="Δ")
              for i, m in enumerate((0.0, 0.02, 0.04, 0.06, 0.08, 0.1))]
    for v in decide(claims, alpha=0.05):
        excludes = v.ci[0] > 0 or v.ci[1] < 0
        assert excludes == (v.p_adjusted < 0.05), v


def test_an_n_a_claim_leaves_the_family():
    verdicts = decide([claim("A", "q", _seeds(0.0, 0.0, 0.0), ">", 0.0, label="Δ"),
                       claim("B", "q", _seeds(0.1, 0.03, 0.12, 0.02, 0.08), ">", 0.0, label="Δ")])
    assert verdicts[0].state == NOT_APPLICABLE and verdicts[1].state == HOLDS  # a family of one: nothing to adjust
    assert verdicts[1].p_adjusted is None


def test_every_inconclusive_verdict_says_what_would_decide_it():
    v = decide([claim("H2", "q", _seeds(0.021, -0.018, 0.006), ">", 0.0, label="Δ")])[0]
    assert v.state == INCONCLUSIVE
    assert v.decide["unit"] == "seeds" and v.decide["needed"] > 3 and v.decide["have"] == 3
    assert v.note.startswith("about ") and v.as_dict()["decide"]["text"] == v.note


def test_all_of_needs_every_part_and_skips_an_n_a_part():
    yes, no = _seeds(0.5, 0.51, 0.49), _seeds(-0.5, -0.51, -0.49)
    unsure, same = _seeds(0.4, -0.3, 0.2), _seeds(0.0, 0.0, 0.0)

    def one(*parts):
        return decide([all_of("A", "q", [claim(f"p{i}", "", e, ">", 0.0, label=f"x{i}") for i, e in enumerate(parts)])])[0]

    assert one(yes, yes).state == HOLDS and one(yes, no).state == FAILS
    assert one(yes, unsure).state == INCONCLUSIVE and one(unsure, no).state == FAILS
    skipped = one(yes, same)
    assert skipped.state == HOLDS and "x1 is n/a" in skipped.evidence and skipped.part_state(1) == NOT_APPLICABLE
    assert one(same, same).state == NOT_APPLICABLE


def test_an_estimate_without_an_interval_is_inconclusive_never_settled_by_its_point():
    """One seed: the point is far above the threshold, yet nothing is settled; it says what would decide it."""
    one = decide([claim("C1", "q", _seeds(0.9), ">", 0.1, label="distance")])[0]
    assert one.state == INCONCLUSIVE and one.ci is None and "no interval" in one.value_text
    assert one.decide["text"] == "needs at least 2 seeds for an interval (has 1)" and one.decide["needed"] == 2
    two = decide([claim("C1", "q", _seeds(0.9, 0.91), ">", 0.1, label="distance")])[0]
    assert two.state == HOLDS  # with an interval the same measure is settled


def test_a_need_past_the_population_reads_cannot_be_settled_on_this_data():
    """The same effect: with no population known it names a count; past the data's population it says it cannot be
    settled on this data; within it, the count stands."""
    values = np.array([0.02, -0.01, 0.03, 0.0, 0.01, -0.02, 0.04, 0.01])
    free = decide([claim("A", "q", TEstimate.of(values, "records"), ">", 0.0, label="Δ")])[0]
    small = decide([claim("A", "q", TEstimate.of(values, "records", population=10), ">", 0.0, label="Δ")])[0]
    large = decide([claim("A", "q", TEstimate.of(values, "records", population=10**6), ">", 0.0, label="Δ")])[0]
    assert free.state == small.state == large.state == INCONCLUSIVE
    needed = free.decide["needed"]
    assert 10 < needed < 10**6 and free.note.startswith("about ")
    assert small.note.startswith("cannot be settled on this data") and "has 10 at most" in small.note
    assert small.decide["settleable"] is False and large.decide["settleable"] is True and large.note == free.note
