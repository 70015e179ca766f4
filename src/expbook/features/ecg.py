"""Heartbeat features in the manner of the inter-patient literature (de Chazal, O'Dwyer & Reilly 2004): a filtered
signal, RR intervals normalised by the patient's own rhythm, and a few morphology samples around each R peak.

* **Filtering** — baseline wander removed with two median filters (200 ms, then 600 ms: the QRS and P/T waves are
  taken out, what is left is the baseline), then a 35 Hz low-pass (4th-order Butterworth, forward and backward).
* **Amplitude** — each record divided by the median absolute R-peak height of its filtered signal, so electrodes
  and gains do not change a beat's size between patients.
* **RR** — pre-RR and post-RR (s), the patient's average RR (the whole record), the local average RR (the ten
  beats before), and pre-/post-RR divided by each average: prematurity is relative to the patient, not absolute.
* **Morphology** — the QRS from −50 to +100 ms in 10 samples and the T wave from +150 to +500 ms in 9 samples, as
  they are and relative to the patient's own median beat (what makes a beat unusual *for this patient*).

``REFERENCE`` are the columns the reference model uses: chosen on DS1 by patient-wise cross-validation (the table
of what was tried is in ``bench/bench_ecg_real.py``), never on DS2.

Pure functions on arrays: the reading lives in ``data.wfdb_beats``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from expbook.data.wfdb_beats import filtered  # the one filter: the CNN's beats and these features alike

RR_NAMES = ("pre_rr", "post_rr", "avg_rr", "local_rr", "pre_over_avg", "post_over_avg", "pre_over_local",
            "post_over_local")
QRS_WINDOW, QRS_SAMPLES = (-0.050, 0.100), 10
T_WINDOW, T_SAMPLES = (0.150, 0.500), 9
LOCAL_BEATS = 10
N_MORPHOLOGY = QRS_SAMPLES + T_SAMPLES
COLUMNS = {"rr": list(range(0, 8)), "rr_normalised": list(range(4, 8)), "morphology": list(range(8, 8 + N_MORPHOLOGY)),
           "morphology_relative": list(range(8 + N_MORPHOLOGY, 8 + 2 * N_MORPHOLOGY))}
REFERENCE = COLUMNS["rr_normalised"] + COLUMNS["morphology_relative"]


def rr_features(r_peaks: np.ndarray, fs: float) -> np.ndarray:
    """(n, 8) in ``RR_NAMES`` order; NaN pre-RR for the first beat and post-RR for the last (they are dropped)."""
    rr = np.diff(r_peaks) / fs
    pre = np.concatenate([[np.nan], rr])
    post = np.concatenate([rr, [np.nan]])
    average = np.full(pre.size, np.nanmean(rr) if rr.size else np.nan)
    local = pd.Series(pre).shift(1).rolling(LOCAL_BEATS, min_periods=1).mean().to_numpy()
    local = np.where(np.isnan(local), pre, local)
    return np.column_stack([pre, post, average, local, pre / average, post / average, pre / local, post / local])


def _samples(signal: np.ndarray, peaks: np.ndarray, fs: float, window: tuple[float, float], count: int) -> np.ndarray:
    offsets = np.round(np.linspace(window[0], window[1], count) * fs).astype(np.int64)
    return signal[np.clip(peaks[:, None] + offsets[None, :], 0, signal.size - 1)]


def morphology(signal: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray:
    """(n, 19): the QRS and T-wave samples of each beat of a filtered, amplitude-normalised signal."""
    return np.hstack([_samples(signal, peaks, fs, QRS_WINDOW, QRS_SAMPLES),
                      _samples(signal, peaks, fs, T_WINDOW, T_SAMPLES)])


@dataclass(frozen=True)
class BeatFeatures:
    """The features of one or more records: ``x`` (n, 46; ``COLUMNS`` names them), labels, each beat's record."""

    x: np.ndarray
    y: np.ndarray
    record: np.ndarray

    @staticmethod
    def concat(parts: list[BeatFeatures]) -> BeatFeatures:
        return BeatFeatures(np.vstack([p.x for p in parts]), np.concatenate([p.y for p in parts]),
                            np.concatenate([p.record for p in parts]))

    def take(self, rows: np.ndarray) -> BeatFeatures:
        return BeatFeatures(self.x[rows], self.y[rows], self.record[rows])


def record_features(signal: np.ndarray, fs: float, r_peaks: np.ndarray, labels: np.ndarray, name: str
                    ) -> BeatFeatures:
    """Every beat of one record with both RR intervals and a full morphology window."""
    clean = filtered(signal, fs)
    rr = rr_features(r_peaks, fs)
    margin = int(round(T_WINDOW[1] * fs))
    keep = ~np.isnan(rr).any(axis=1) & (r_peaks - int(round(-QRS_WINDOW[0] * fs)) >= 0) & (r_peaks + margin < clean.size)
    peaks = r_peaks[keep]
    height = float(np.median(np.abs(clean[peaks]))) if peaks.size else 1.0
    shape = morphology(clean / (height or 1.0), peaks, fs)
    relative = shape - np.median(shape, axis=0) if peaks.size else shape
    x = np.hstack([rr[keep], shape, relative]).astype(np.float32)
    return BeatFeatures(x, labels[keep].astype(np.int64), np.full(peaks.size, name, dtype=object))


def load_features(folder, records: list[str] | tuple[str, ...], *, lead: str = "MLII") -> BeatFeatures:
    """The features of every beat of ``records`` in ``folder`` (WFDB files, read by ``data.wfdb_beats``)."""
    from pathlib import Path

    from expbook.data.wfdb_beats import annotated_beats, read_record

    parts = []
    for name in records:
        signal, fs, samples, symbols = read_record(Path(folder), name, lead)
        peaks, labels = annotated_beats(samples, symbols)
        parts.append(record_features(signal, fs, peaks, labels, name))
    return BeatFeatures.concat(parts)
