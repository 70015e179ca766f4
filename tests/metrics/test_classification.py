"""Confusion-matrix scores against scikit-learn, and the collapse detector on controlled predictions."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from expbook.data.wfdb_beats import CLASSES
from expbook.metrics import classification as cls
from expbook.metrics.classification import detect_collapse, measurable_count


def _truth(n=1000):
    return np.repeat([0, 1, 2, 3], [900, 40, 50, 10])[:n]


DETECTOR = {"max_distance": 0.1, "min_fraction": 0.1}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_sklearn_on_random_predictions(seed):
    rng = np.random.default_rng(seed)
    y = rng.choice(4, size=600, p=[0.8, 0.08, 0.1, 0.02])
    pred = np.where(rng.random(600) < 0.6, y, rng.choice(4, size=600))
    matrix = cls.confusion(y, pred, 4)
    assert np.array_equal(matrix, confusion_matrix(y, pred, labels=range(4)))
    precision, recall, f1, _ = precision_recall_fscore_support(y, pred, labels=range(4), zero_division=0)
    assert np.allclose(cls.precision(matrix), precision) and np.allclose(cls.recall(matrix), recall)
    assert np.allclose(cls.f1(matrix), f1) and cls.mean_f1(matrix) == pytest.approx(f1.mean())
    assert cls.mean_f1(matrix, [1, 2]) == pytest.approx(f1[1:3].mean())


def test_grouped_confusions_sum_to_the_pooled_one_and_absent_classes_are_undefined():
    y, pred, groups = np.array([0, 0, 1, 2, 0, 1]), np.array([0, 1, 1, 2, 0, 0]), np.array([0, 0, 0, 1, 1, 1])
    per_group = cls.confusion(y, pred, 3, groups=groups)
    assert per_group.shape == (2, 3, 3) and np.array_equal(per_group.sum(axis=0), cls.confusion(y, pred, 3))
    group_1 = per_group[1]  # classes 0, 1, 2 present; nothing absent
    assert cls.f1(per_group[0])[2] != cls.f1(per_group[0])[2]  # class 2 absent from group 0: NaN, not 0
    assert cls.recall(group_1)[1] == 0 and cls.precision(per_group[0], zero_division=np.nan)[2] != 0
    assert cls.mean_f1(per_group[0]) == pytest.approx(np.mean([2 / 3, 2 / 3]))


def test_a_collapsing_prediction_vector_is_flagged_and_a_balanced_one_is_not():
    y = _truth()
    kept = detect_collapse(y, y.copy(), CLASSES, **DETECTOR)
    assert not kept.collapsed and kept.distance == 0.0 and kept.least_ratio == 1.0
    collapsed = y.copy()
    collapsed[:300] = 1  # 300 N beats predicted S: S share 34% against a 4% prior
    finding = detect_collapse(y, collapsed, CLASSES, **DETECTOR)
    assert finding.collapsed and finding.over_predicted == ("S",)
    assert finding.distance == pytest.approx(0.30)  # half of |−0.30| + |+0.30|
    assert "S predicted 34.0% vs prior 4.0%" in finding.describe()


def test_the_distance_is_bounded_and_sees_under_prediction():
    y = _truth()
    everything_o = np.full(y.size, 3)  # all beats called O, a 1% class: the old ratio read 100×
    finding = detect_collapse(y, everything_o, CLASSES, **DETECTOR)
    assert finding.distance == pytest.approx(0.99) and finding.distance <= 1.0
    no_s = np.where(y == 1, 0, y)  # S swallowed by N: the shares move 4 points, a ratio of over-prediction 1.04×
    finding = detect_collapse(y, no_s, CLASSES, max_distance=0.1, min_fraction=0.5)  # 40 S beats ≥ ⌈5 / 0.5⌉
    assert finding.distance == pytest.approx(0.04) and finding.collapsed and finding.never_predicted == ("S",)
    assert finding.least_ratio == 0.0


def test_a_class_too_rare_to_measure_is_not_called_never_predicted():
    """At min_fraction 0.1 a class needs ⌈5 / 0.1⌉ = 50 true beats before missing it means anything: 40 S beats
    missed is drift (distance 0.04), 10 O beats missed too; 50 V beats missed is a collapse."""
    y = _truth()
    assert measurable_count(0.1) == 50 and measurable_count(0.5) == 10
    no_s_no_o = np.where(np.isin(y, [1, 3]), 0, y)
    finding = detect_collapse(y, no_s_no_o, CLASSES, **DETECTOR)
    assert finding.never_predicted == () and not finding.collapsed and finding.distance == pytest.approx(0.05)
    no_v = np.where(y == 2, 0, y)
    assert detect_collapse(y, no_v, CLASSES, **DETECTOR).never_predicted == ("V",)


def test_a_class_never_predicted_is_a_collapse_and_small_drift_is_not():
    y = _truth()
    no_v = np.where(y == 2, 0, y)  # V swallowed by N
    finding = detect_collapse(y, no_v, CLASSES, **DETECTOR)
    assert finding.collapsed and finding.never_predicted == ("V",)
    drift = y.copy()
    drift[:30] = 1  # S predicted 7% vs 4%: a distance of 0.03
    assert not detect_collapse(y, drift, CLASSES, **DETECTOR).collapsed
    assert detect_collapse(y, drift, CLASSES, **DETECTOR).distance == pytest.approx(0.03)


def test_the_share_distance_over_records_and_seeds_is_bounded_and_resamples_patients():
    from expbook.metrics.classification import share_distance_estimate

    y = np.array([0] * 300 + [1] * 30 + [2] * 30)
    records = np.repeat(["a", "b", "c"], 120)
    same = share_distance_estimate(y, records, [y, y], 4, n_boot=300, seed=0)
    assert same.value == 0.0 and same.interval() == (0.0, 0.0)  # the prior kept in every record and seed
    everything_s = share_distance_estimate(y, records, [np.ones_like(y)], 4, n_boot=300, seed=0)
    assert everything_s.value == pytest.approx(1 - 30 / 360)  # all mass moved onto S: 1 − prior(S)
    drift = np.where(records == "a", 2, y)  # one record's predictions drift: resampling records varies the distance
    low, high = share_distance_estimate(y, records, [drift, y], 4, n_boot=500, seed=0).interval()
    assert 0.0 <= low < high <= 1.0


def test_named_scores_look_classes_up_by_name():
    from expbook.metrics.classification import named_scores

    rng = np.random.default_rng(3)
    y = rng.choice(4, 400)
    pred = np.where(rng.random(400) < 0.6, y, rng.choice(4, 400))
    scores = named_scores(cls.confusion(y, pred, 4), ("N", "S", "V", "O"), {"all": None, "rare": ("S", "V")})
    expected = precision_recall_fscore_support(y, pred, labels=[0, 1, 2, 3], zero_division=0)[2]
    assert scores["all"] == pytest.approx(expected.mean()) and scores["rare"] == pytest.approx(expected[1:3].mean())
    assert scores["recall_V"] == pytest.approx(np.mean(pred[y == 2] == 2))
