"""Heartbeat features: the filter removes baseline wander, RR intervals are normalised by the patient's rhythm, and
every beat gets a morphology relative to the patient's median beat."""

import numpy as np
import pytest

from expbook.features.ecg import COLUMNS, RR_NAMES, filtered, record_features, rr_features


def test_rr_features_normalise_by_the_patients_average_and_the_local_rhythm():
    fs = 360.0
    peaks = np.cumsum(np.r_[0, [360] * 20, 216, 504, [360] * 10])  # one premature beat (0.6 s) and its pause
    rr = rr_features(peaks, fs)
    premature = 21
    assert rr[premature, RR_NAMES.index("pre_rr")] == pytest.approx(0.6)
    assert rr[premature, RR_NAMES.index("pre_over_local")] == pytest.approx(0.6)  # ten 1.0 s beats before it
    average = np.diff(peaks).mean() / fs
    assert rr[premature, RR_NAMES.index("pre_over_avg")] == pytest.approx(0.6 / average)
    assert np.isnan(rr[0, 0]) and np.isnan(rr[-1, 1])  # the first and last beats lack an interval


def test_the_filter_takes_out_a_slow_baseline_and_keeps_the_qrs():
    fs = 360.0
    t = np.arange(int(20 * fs)) / fs
    baseline = 0.8 * np.sin(2 * np.pi * 0.3 * t)
    spikes = np.zeros_like(t)
    spikes[(np.arange(1, 20) * fs).astype(int)] = 1.0
    qrs = np.convolve(spikes, np.hanning(25), mode="same")  # 70 ms wide bumps
    out = filtered((baseline + qrs).astype(np.float32), fs)
    between = np.abs(out[(t % 1.0 > 0.3) & (t % 1.0 < 0.7)])
    assert between.max() < 0.05  # the wander is gone between beats
    assert out[(np.arange(1, 20) * fs).astype(int)].min() > 0.6  # the QRS stays


def test_record_features_have_every_column_and_a_relative_morphology_centred_on_the_patient():
    rng = np.random.default_rng(0)
    fs, n = 360.0, 60
    peaks = (np.arange(1, n + 1) * fs).astype(int)
    signal = rng.normal(0, 0.01, int((n + 2) * fs)).astype(np.float32)
    signal[peaks] += 1.0
    features = record_features(signal, fs, peaks, np.zeros(n, dtype=np.int64), "100")
    assert features.x.shape[1] == len(COLUMNS["rr"]) + 2 * len(COLUMNS["morphology"])
    relative = features.x[:, COLUMNS["morphology_relative"]]
    assert np.allclose(np.median(relative, axis=0), 0.0, atol=1e-6)
    assert len(features.y) == n - 2 and set(features.record) == {"100"}
