"""The reference model: patient folds hold every patient out once, and on features that separate the classes the
cross-validated predictions recover them; a class absent from training is never predicted."""

import numpy as np

from expbook.features.ecg import REFERENCE, BeatFeatures
from expbook.metrics import classification as cls
from expbook.models.ecg_reference import cross_validated_predictions, fit_reference, patient_folds


def _beats(seed=0, patients=6, per=300):
    rng = np.random.default_rng(seed)
    y = rng.choice(4, size=patients * per, p=[0.8, 0.07, 0.1, 0.03])
    x = rng.normal(0, 1, (y.size, 46)).astype(np.float32)
    x[:, REFERENCE[0]] += np.where(y == 1, -3.0, 0.0)  # S: premature
    x[:, REFERENCE[5]] += np.where(y == 2, 3.0, 0.0)  # V: wide
    x[:, REFERENCE[6]] += np.where(y == 3, 3.0, 0.0)  # O: its own shape
    return BeatFeatures(x, y, np.repeat([f"p{i}" for i in range(patients)], per).astype(object))


def test_patient_folds_hold_each_patient_out_once():
    records = np.repeat(np.array(["a", "b", "c", "d", "e"], dtype=object), 3)
    assert sorted(np.concatenate(patient_folds(records)).tolist()) == ["a", "b", "c", "d", "e"]
    two = patient_folds(records, 2, seed=1)
    assert len(two) == 2 and sorted(np.concatenate(two).tolist()) == ["a", "b", "c", "d", "e"]


def test_cross_validated_predictions_recover_separable_classes_with_either_model():
    beats = _beats()
    for kind in ("logistic", "lda"):
        predicted = cross_validated_predictions(beats, patient_folds(beats.record), kind=kind)
        recall = cls.recall(cls.confusion(beats.y, predicted, 4))
        assert recall[1] > 0.8 and recall[2] > 0.8, (kind, recall)


def test_a_class_missing_from_training_is_never_predicted():
    beats = _beats(1)
    no_o = beats.take(beats.y != 3)
    assert 3 not in set(fit_reference(no_o).predict(beats.x))
