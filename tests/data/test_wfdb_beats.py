"""The WFDB adapter and the synthetic MIT-BIH generator: format round-trip, AAMI mapping, RR features, bad input."""

import shutil

import numpy as np
import pytest
import wfdb

from expbook.data.ecg_synth import TARGET_SHARES, EcgSpec, generate_ecg
from expbook.data.wfdb_beats import (
    DS1,
    DS2,
    check_folder,
    inter_patient_records,
    load_beats,
    read_record_beats,
    split_train_val,
)
from expbook.errors import DataError


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ecg")
    totals = generate_ecg(folder, EcgSpec(minutes=2.0, seed=3))
    return folder, totals


def test_generator_writes_records_that_wfdb_reads_back(generated):
    folder, _ = generated
    assert sorted(p.stem for p in folder.glob("*.hea")) == sorted(DS1 + DS2)
    record = wfdb.rdrecord(str(folder / "208"))
    annotation = wfdb.rdann(str(folder / "208"), "atr")
    assert record.fs == 360 and record.sig_name == ["MLII", "V1"] and record.p_signal.shape[1] == 2
    assert {"+", "~"} <= set(annotation.symbol)  # non-beat annotations, as in the real files
    assert annotation.sample.max() < record.sig_len
    assert np.all(np.diff(annotation.sample) >= 0)


def test_adapter_reproduces_the_requested_class_shares(generated):
    folder, totals = generated
    ds1, ds2 = inter_patient_records(folder)
    for split, records in (("DS1", ds1), ("DS2", ds2)):
        counts = load_beats(folder, records=records).class_counts()
        shares = counts / counts.sum()
        target = np.array(TARGET_SHARES[split])
        assert np.all(np.abs(shares / target - 1) <= 0.10), (split, shares, target)
        # only the first and last beat of each record (no pre/post RR) are dropped
        assert sum(totals[split]) - counts.sum() <= 2 * len(records)


def test_rare_classes_are_concentrated_in_a_few_patients(generated):
    folder, _ = generated
    beats = load_beats(folder, records=list(DS1))
    per_record = {r: np.bincount(beats.y[beats.record == r], minlength=4) for r in DS1}
    s_counts = np.sort([c[1] for c in per_record.values()])[::-1]
    assert s_counts[:3].sum() >= 0.5 * s_counts.sum()  # three patients hold at least half of the S beats


def test_s_and_v_beats_are_premature_and_v_beats_pause(generated):
    folder, _ = generated
    beats = load_beats(folder, records=list(DS1))
    median = {c: np.median(beats.rr[beats.y == c], axis=0) for c in range(3)}
    assert 0.6 <= median[2][2] <= 0.85 and median[0][2] == pytest.approx(1.0, abs=0.05)  # V pre-RR / local
    assert median[1][2] < 0.9  # S pre-RR / local
    assert median[2][3] > 1.15  # compensatory pause after V


def _write(folder, name, samples, symbols, fs=360, seconds=10):
    signal = np.zeros((fs * seconds, 1))
    signal[samples, 0] = 1.0
    wfdb.wrsamp(name, fs=fs, units=["mV"], sig_name=["MLII"], p_signal=signal, fmt=["212"], write_dir=str(folder))
    wfdb.wrann(name, "atr", np.asarray(samples), symbol=list(symbols), write_dir=str(folder))


def test_aami_mapping_skips_non_beats_and_computes_rr(tmp_path):
    samples = [10, 360, 700, 900, 1000, 1300, 1660, 2000, 2300, 2700, 3000]
    symbols = ["+", "N", "L", "A", "~", "V", "E", "f", "Q", "J", "N"]
    _write(tmp_path, "100", samples, symbols)
    beats = read_record_beats(tmp_path, "100", lead="MLII", before=90, after=144)
    # beats: N L A V E f Q J N at 360..3000; the first (no pre-RR) and last (no post-RR) are dropped
    assert beats.y.tolist() == [0, 1, 2, 2, 3, 3, 1]
    peaks = np.array([360, 700, 900, 1300, 1660, 2000, 2300, 2700, 3000])
    rr = np.diff(peaks) / 360
    assert np.allclose(beats.rr[:, 0], rr[:-1]) and np.allclose(beats.rr[:, 1], rr[1:])
    # local mean = mean pre-RR of the preceding beats (here: all of them, fewer than ten)
    assert beats.rr[2, 2] == pytest.approx(rr[2] / np.mean(rr[:2]), rel=1e-5)
    assert beats.x.shape == (7, 2, 234) and beats.rr.shape == (7, 6)


def test_no_records_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match=r"no WFDB records \(\*\.hea files\)"):
        check_folder(tmp_path)


def test_missing_annotation_names_the_record(generated, tmp_path):
    folder, _ = generated
    for path in folder.glob("10[01].*"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "101.atr").unlink()
    with pytest.raises(DataError, match=r"record 101: annotation file 101\.atr is missing"):
        check_folder(tmp_path)
    with pytest.raises(DataError, match="record 101"):
        load_beats(tmp_path, records=["100", "101"])


def test_missing_lead_names_the_record_and_its_leads(generated):
    folder, _ = generated
    with pytest.raises(DataError, match=r"record 100: lead 'V5' not found \(leads: MLII, V1\)"):
        load_beats(folder, records=["100"], lead="V5")


def test_validation_records_are_whole_patients_and_cover_every_class(generated):
    folder, _ = generated
    beats = load_beats(folder, records=list(DS1))
    by_record = {r: beats.y[beats.record == r] for r in DS1}
    train, val = split_train_val(list(DS1), by_record, val_fraction=0.25, seed=0)
    assert not set(train) & set(val) and sorted(train + val) == sorted(DS1)
    for side in (train, val):
        assert set(np.concatenate([by_record[r] for r in side])) == {0, 1, 2, 3}
    assert split_train_val(list(DS1), by_record, val_fraction=0.25, seed=0) == (train, val)


def test_validation_keeps_each_class_near_its_share_when_one_patient_holds_most_of_it():
    # record "a" holds 90 of a class's 100 beats: a draw putting it in validation would train on 10 of them
    records = [f"r{i}" for i in range(12)]
    by_record = {r: np.zeros(50, dtype=np.int64) for r in records}
    by_record["r0"] = np.concatenate([np.zeros(50, dtype=np.int64), np.ones(90, dtype=np.int64)])
    for r in records[1:11]:
        by_record[r] = np.concatenate([np.zeros(50, dtype=np.int64), [1]])
    train, val = split_train_val(records, by_record, val_fraction=0.25, seed=0)
    assert "r0" in train and len(val) == 3
    s_in_val = sum(int((by_record[r] == 1).sum()) for r in val)
    assert 1 <= s_in_val <= 3  # every class on both sides, and most of the rare class left to train on


def test_motion_artifact_covers_its_share_of_the_record_and_nothing_when_off():
    from expbook.data.ecg_synth import _motion_artifact

    artifact, starts = _motion_artifact(np.random.default_rng(0), 36_000, 360, 0.1)
    assert np.count_nonzero(artifact) == pytest.approx(3_600, rel=0.05) and starts.size == 2
    assert not _motion_artifact(np.random.default_rng(0), 36_000, 360, 0.0)[0].any()


def test_holding_out_never_takes_every_record():
    from expbook.data.wfdb_beats import split_train_val

    labels = {r: np.array([0, 1, 2]) for r in ("101", "106", "108")}
    train, val = split_train_val(list(labels), labels, val_fraction=0.99, seed=0)
    assert len(train) == 1 and len(val) == 2
