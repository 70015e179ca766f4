"""The feature-based reference model of the heartbeat report: a linear model on RR intervals normalised by the
patient's own rhythm and morphology relative to the patient's median beat (``features.ecg``), in the spirit of de
Chazal, O'Dwyer & Reilly (IEEE TBME 2004).

de Chazal weighted each class's training beats so that the classes count alike; here a multinomial logistic
regression with balanced class weights does the same (on real DS1, by patient folds, it beat linear discriminants
with equal priors on every feature set tried: ``bench/bench_ecg_real.py``). Features are standardised on the
training beats. A baseline every model of the report is compared with, and the yardstick that calibrates the
generator's difficulty (never the CNN under test).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from expbook.features.ecg import REFERENCE, BeatFeatures


@dataclass(frozen=True)
class ReferenceModel:
    """A fitted reference model: the standardisation and the discriminants."""

    mean: np.ndarray
    scale: np.ndarray
    model: object
    columns: tuple[int, ...]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict((x[:, list(self.columns)] - self.mean) / self.scale)


def fit_reference(train: BeatFeatures, columns: list[int] | tuple[int, ...] = tuple(REFERENCE), *,
                  kind: str = "logistic") -> ReferenceModel:
    """Balanced multinomial logistic regression (``kind="lda"``: linear discriminants with equal priors) on
    ``columns`` of the features; a class missing from the training beats is never predicted."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression

    x = train.x[:, list(columns)]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    if kind == "lda":
        present = np.unique(train.y)
        model = LinearDiscriminantAnalysis(priors=np.full(present.size, 1.0 / present.size))
    else:
        model = LogisticRegression(class_weight="balanced", max_iter=2000)
    model.fit((x - mean) / scale, train.y)
    return ReferenceModel(mean, scale, model, tuple(columns))


def patient_folds(records: np.ndarray, k: int | None = None, seed: int = 0) -> list[np.ndarray]:
    """Held-out records of each fold: every record once (leave-one-patient-out when ``k`` is None)."""
    names = np.unique(records)
    if k is None or k >= names.size:
        return [np.array([name]) for name in names]
    order = np.random.default_rng(seed).permutation(names)
    return [order[i::k] for i in range(k)]


def cross_validated_predictions(beats: BeatFeatures, folds: list[np.ndarray], **model) -> np.ndarray:
    """Every beat's prediction by the model fitted on the other patients' beats (each patient out once); ``model``
    goes to ``fit_reference`` (columns, kind)."""
    predicted = np.empty(beats.y.size, dtype=np.int64)
    for held_out in folds:
        test = np.isin(beats.record, held_out)
        predicted[test] = fit_reference(beats.take(~test), **model).predict(beats.x[test])
    return predicted
