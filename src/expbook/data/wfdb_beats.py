"""WFDB heartbeat adapter: read MIT-BIH-style records, cut beats around annotated R peaks, split inter-patient.

A record is ``<name>.hea`` (header) + ``<name>.dat`` (signals) + ``<name>.atr`` (reference beat
annotations), read with the ``wfdb`` package, so real MIT-BIH works by pointing ``data_dir`` at it
and the generator (``expbook.data.ecg_synth``) writes the very same files.

Beat symbols map to the AAMI classes N/S/V/O; non-beat annotations (rhythm changes ``+``, noise
``~``, comments) are skipped. RR features come from consecutive *beat* annotations: pre-RR,
post-RR and both divided by the local mean RR (the ten preceding beats). The split is de Chazal's
inter-patient one: DS1 records train (and validate, by record), DS2 records are the
generalisation set; the paced records are excluded.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from expbook.errors import DataError

CLASSES = ("N", "S", "V", "O")
AAMI = {"N": "NLRej", "S": "AaJS", "V": "VE", "O": "FQ/f"}
SYMBOL_TO_CLASS = {symbol: index for index, name in enumerate(CLASSES) for symbol in AAMI[name]}
DS1 = ("101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124", "201", "203", "205",
       "207", "208", "209", "215", "220", "223", "230")
DS2 = ("100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210", "212", "213", "214", "219",
       "221", "222", "228", "231", "232", "233", "234")
PACED = ("102", "104", "107", "217")
RR_FEATURES = ("pre_rr", "post_rr", "pre_rr_local", "post_rr_local", "pre_rr_average", "post_rr_average")
LOCAL_BEATS = 10


@dataclass(frozen=True)
class Beats:
    """Beats of a set of records: windows ``x`` (n, 2, window: the beat and the beat less its patient's median
    beat), RR features ``rr`` (n, 6), labels ``y`` (0..3)."""

    x: np.ndarray
    rr: np.ndarray
    y: np.ndarray
    record: np.ndarray
    fs: float

    def __len__(self) -> int:
        return int(self.y.size)

    def take(self, rows: np.ndarray) -> Beats:
        return Beats(self.x[rows], self.rr[rows], self.y[rows], self.record[rows], self.fs)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.y, minlength=len(CLASSES))


@contextmanager
def quiet_wfdb():
    """The ``wfdb`` module, imported and used without its pandas-3.1 ``inplace=`` deprecation warnings (not ours)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The inplace keyword", category=Warning)
        import wfdb

        yield wfdb


def record_names(data_dir: str | Path) -> list[str]:
    """Names of the records (``*.hea``) in ``data_dir``; ``DataError`` if there are none."""
    folder = Path(data_dir).expanduser()
    if not folder.is_dir():
        raise DataError(f"{folder}: data_dir is not a folder")
    names = sorted(p.stem for p in folder.glob("*.hea"))
    if not names:
        raise DataError(f"{folder}: no WFDB records (*.hea files) found")
    return names


def check_folder(data_dir: str | Path) -> None:
    """Cheap pre-flight check before a run: records exist, each has its signal and ``.atr`` files, and they can form
    the inter-patient split (at least two DS1 records, training and validation patients, and DS2 records; or three
    DS1 records and no DS2: the DS1-only split)."""
    folder = Path(data_dir).expanduser()
    for name in record_names(folder):
        if not (folder / f"{name}.atr").is_file():
            raise DataError(f"record {name}: annotation file {name}.atr is missing in {folder}")
        if not (folder / f"{name}.dat").is_file():
            raise DataError(f"record {name}: signal file {name}.dat is missing in {folder}")
    ds1, ds2 = inter_patient_records(folder)
    if len(ds1) < (2 if ds2 else 3):
        raise DataError(f"{folder}: the inter-patient split needs at least {2 if ds2 else 3} DS1 records (training "
                        f"and validation patients{'' if ds2 else ', and held-out ones as there is no DS2 record'}); "
                        f"found {len(ds1)} ({', '.join(ds1)})")


def read_record(folder: Path, name: str, lead: str) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """(the lead's signal in mV, sampling rate, annotation samples, annotation symbols) of one record."""
    path = str(folder / name)
    if not (folder / f"{name}.atr").is_file():
        raise DataError(f"record {name}: annotation file {name}.atr is missing in {folder}")
    try:
        with quiet_wfdb() as wfdb:
            record = wfdb.rdrecord(path)
            annotation = wfdb.rdann(path, "atr")
    except Exception as exc:  # wfdb raises many types for malformed headers and files
        raise DataError(f"record {name}: cannot read it with wfdb ({type(exc).__name__}: {exc})") from None
    if lead not in record.sig_name:
        raise DataError(f"record {name}: lead {lead!r} not found (leads: {', '.join(record.sig_name)})")
    signal = record.p_signal[:, record.sig_name.index(lead)].astype(np.float32)
    return signal, float(record.fs), np.asarray(annotation.sample), np.asarray(annotation.symbol)


def filtered(signal: np.ndarray, fs: float) -> np.ndarray:
    """``signal`` without baseline wander (200 ms then 600 ms median filters: the QRS and the P and T waves are
    taken out, what is left is the baseline) and low-passed at 35 Hz (4th-order Butterworth, forward and back),
    as the inter-patient literature prepares beats (de Chazal, O'Dwyer & Reilly 2004)."""
    from scipy.ndimage import median_filter
    from scipy.signal import butter, sosfiltfilt

    def odd(seconds: float) -> int:
        return int(round(seconds * fs)) // 2 * 2 + 1

    baseline = median_filter(median_filter(signal, size=odd(0.2), mode="nearest"), size=odd(0.6), mode="nearest")
    sos = butter(4, 35.0, btype="low", fs=fs, output="sos")
    return sosfiltfilt(sos, signal - baseline).astype(np.float32)


def _rr_features(r_peaks: np.ndarray, fs: float) -> np.ndarray:
    """(n, 6): pre-RR, post-RR (s), both over the mean pre-RR of the preceding ``LOCAL_BEATS`` beats, and both over
    the patient's own average RR (the whole record): prematurity relative to the patient, not absolute."""
    rr = np.diff(r_peaks) / fs
    pre = np.concatenate([[np.nan], rr])
    post = np.concatenate([rr, [np.nan]])
    local = pd.Series(pre).shift(1).rolling(LOCAL_BEATS, min_periods=1).mean().to_numpy()
    local = np.where(np.isnan(local), pre, local)
    average = np.nanmean(rr) if rr.size else np.nan
    return np.column_stack([pre, post, pre / local, post / local, pre / average, post / average])


def annotated_beats(samples: np.ndarray, symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R-peak samples, AAMI class indices) of the beat annotations; rhythm, noise and comment marks skipped."""
    is_beat = np.isin(symbols, list(SYMBOL_TO_CLASS))
    return samples[is_beat], pd.Series(symbols[is_beat]).map(SYMBOL_TO_CLASS).to_numpy(dtype=np.int64)


def read_record_beats(folder: Path, name: str, *, lead: str, before: int, after: int) -> Beats:
    """Beats of one record: windows ``[r - before, r + after)`` of the filtered signal (``filtered``) divided by
    the record's median R-peak height, in two channels: the beat, and the beat less the patient's median beat
    (what is unusual *for this patient*, the cue that carries across patients)."""
    signal, fs, samples, symbols = read_record(folder, name, lead)
    is_beat = np.isin(symbols, list(SYMBOL_TO_CLASS))
    r_peaks, beat_symbols = samples[is_beat], symbols[is_beat]
    rr = _rr_features(r_peaks, fs)
    inside = (r_peaks - before >= 0) & (r_peaks + after <= signal.size)
    keep = inside & ~np.isnan(rr).any(axis=1)
    keep_peaks = r_peaks[keep]
    if keep_peaks.size == 0:
        raise DataError(f"record {name}: no annotated beats with a full window ({before}+{after} samples)")
    clean = filtered(signal, fs)
    scale = float(np.median(np.abs(clean[keep_peaks]))) or float(np.std(clean)) or 1.0
    windows = clean[keep_peaks[:, None] + np.arange(-before, after)[None, :]] / scale
    x = np.stack([windows, windows - np.median(windows, axis=0)], axis=1)
    labels = pd.Series(beat_symbols[keep]).map(SYMBOL_TO_CLASS).to_numpy(dtype=np.int64)
    return Beats(x.astype(np.float32), rr[keep].astype(np.float32), labels, np.full(labels.size, name, dtype=object),
                 fs)


def load_beats(data_dir: str | Path, *, records: list[str] | tuple[str, ...], lead: str = "MLII",
               before: int = 90, after: int = 144) -> Beats:
    """Beats of ``records`` (each must exist in ``data_dir``), concatenated in record order."""
    folder = Path(data_dir).expanduser()
    available = set(record_names(folder))
    missing = [r for r in records if r not in available]
    if missing:
        raise DataError(f"record {missing[0]}: {missing[0]}.hea not found in {folder}")
    parts = [read_record_beats(folder, name, lead=lead, before=before, after=after) for name in records]
    rates = {p.fs for p in parts}
    if len(rates) > 1:
        raise DataError(f"{folder}: records have different sampling rates {sorted(rates)}; windows would differ")
    return Beats(np.concatenate([p.x for p in parts]), np.concatenate([p.rr for p in parts]),
                 np.concatenate([p.y for p in parts]), np.concatenate([p.record for p in parts]), parts[0].fs)


def inter_patient_records(data_dir: str | Path) -> tuple[list[str], list[str]]:
    """(DS1, DS2) record names present in ``data_dir``; paced records are never included. DS2 may be empty (a folder
    of DS1 records only: ``inter_patient_splits`` then holds out DS1 patients instead); DS1 may not."""
    available = set(record_names(data_dir))
    ds1, ds2 = [r for r in DS1 if r in available], [r for r in DS2 if r in available]
    if not ds1:
        raise DataError(f"{data_dir}: the inter-patient split needs MIT-BIH record names; found DS1 {len(ds1)}, "
                        f"DS2 {len(ds2)} of them (e.g. {DS1[0]}.hea, {DS2[0]}.hea)")
    return ds1, ds2


def split_train_val(records: list[str], labels_by_record: dict[str, np.ndarray], *, val_fraction: float,
                    seed: int, tries: int = 200) -> tuple[list[str], list[str]]:
    """Hold out whole DS1 records for validation, so validation is inter-patient too.

    Rare classes sit in a few patients, so a random subset of records can hold most of a class's beats out of
    training (41 of 177 S beats were left to train on). Of ``tries`` seeded subsets with every DS1 class on
    both sides, this keeps the one whose share of each class's beats in validation is closest to
    ``val_fraction`` (the largest deviation over classes, smallest); the first subset if none has every class.
    """
    rng = np.random.default_rng(seed)
    n_val = min(max(1, round(len(records) * val_fraction)), len(records) - 1)  # never every record
    classes = np.unique(np.concatenate([labels_by_record[r] for r in records]))
    counts = np.stack([(labels_by_record[r][:, None] == classes).sum(axis=0) for r in records])  # (records, classes)
    draws = np.argsort(rng.random((tries, len(records))), axis=1)  # each row one permutation of the records
    in_val = np.zeros((tries, len(records)), dtype=bool)
    np.put_along_axis(in_val, draws[:, :n_val], True, axis=1)
    val_counts = in_val.astype(np.int64) @ counts
    both_sides = ((val_counts > 0) & (counts.sum(axis=0) - val_counts > 0)).all(axis=1)
    deviation = np.abs(val_counts / counts.sum(axis=0) - val_fraction).max(axis=1)
    best = int(np.argmin(np.where(both_sides, deviation, np.inf))) if both_sides.any() else 0
    names = np.array(records)
    return sorted(names[~in_val[best]].tolist()), sorted(names[in_val[best]].tolist())


@dataclass(frozen=True)
class Splits:
    """The inter-patient split: DS1 records for training and validation (whole records apart), DS2 to generalise."""

    train: Beats
    val: Beats
    gen: Beats
    records: dict[str, list[str]]
    data_dir: Path
    data_fingerprint: str
    test_set: str = "DS2"  # what ``gen`` is: "DS2", or "held-out DS1" for a folder of DS1 records only

    def counts(self) -> pd.DataFrame:
        return pd.DataFrame({name: getattr(self, name).class_counts() for name in ("train", "val", "gen")},
                            index=list(CLASSES)).T


def inter_patient_splits(folder: Path, fingerprint: str, *, lead: str, before: int, after: int, val_fraction: float,
                         split_seed: int) -> Splits:
    """Read the records of ``folder``: DS1 → train and validation by whole records, DS2 → the generalisation set.

    A folder with DS1 records only (the real DS1 half, DS2 held out) is split three ways by whole records: a
    ``val_fraction`` of the DS1 patients is held out as the generalisation set ("held-out DS1"), then validation is
    held out of the rest as usual, each with every class on both sides where the patients allow it."""
    ds1, ds2 = inter_patient_records(folder)
    development = load_beats(folder, records=ds1, lead=lead, before=before, after=after)
    by_record = {r: development.y[development.record == r] for r in ds1}
    test_set = "DS2"
    if not ds2:
        ds1, ds2 = split_train_val(ds1, by_record, val_fraction=val_fraction, seed=split_seed + 1)
        test_set = "held-out DS1"
    train_records, val_records = split_train_val(ds1, by_record, val_fraction=val_fraction, seed=split_seed)
    in_val = np.isin(development.record, val_records)
    if test_set == "DS2":
        gen = load_beats(folder, records=ds2, lead=lead, before=before, after=after)
    else:
        gen = development.take(np.isin(development.record, ds2))
        development = development.take(~np.isin(development.record, ds2))
        in_val = np.isin(development.record, val_records)
    return Splits(development.take(~in_val), development.take(in_val), gen,
                  {"train": train_records, "val": val_records, "gen": ds2}, folder, fingerprint, test_set)
