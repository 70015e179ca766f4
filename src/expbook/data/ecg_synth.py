"""Synthetic MIT-BIH: writes WFDB records (``.hea/.dat/.atr``, 360 Hz, leads MLII and V1) for the 44 non-paced patients.

Targets (the site's *Data* page, book/data.md): DS1 N/S/V/O = 89.9/1.9/7.4/0.8 %, DS2 = 89.0/3.7/6.5/0.8 %, rare classes
concentrated in a few patients; S beats premature (RR ≈0.6–0.8 of the local mean) with a normal
QRS and an abnormal P wave; V beats premature with a wide QRS, no P wave, an inverted T wave and a
compensatory pause; O beats are fusions of N and V. Each patient has their own heart rate and
morphology, so a model trained on DS1 patients meets new morphologies on DS2.

Beats are sums of Gaussian waves (P, Q, R, S, T) placed at the R peaks; class counts per split
are exact and allocated to patients with Gamma weights (``rare_concentration``: small = a few
patients hold most rare beats, as in the real records).

What makes it as hard as the real records (inter-patient DS2 results in the literature: S sensitivity
≈ 76–83 %, S PPV ≈ 34–39 %, V sensitivity ≈ 78–87 %, V PPV ≈ 76–93 %):

* each patient has their own heart rate, beat morphology, P-wave size, baseline wander and sinus
  arrhythmia (a lognormal per-patient RR spread), so some patients' normal RR dips look premature;
* S beats keep a normal QRS: their only cues are a subtle P-wave change and a prematurity that
  overlaps normal RR variability; they come in runs inside which the local RR adapts;
* a share of patients (``bbb_share``) has bundle-branch-block morphology: wide N beats (AAMI class N,
  symbols L/R), mostly with a discordant T wave, which V beats resemble (a V beat stays wider than the
  patient's own QRS);
* electrode-motion artifact (``artifact_share``) covers part of each record;
* a few patients carry most rare beats (``rare_concentration``).

Knobs that let the conclusions go either way:

* ``s_separability`` — 0: S beats are timed and shaped like N beats (unlearnable); 1: clearly
  premature (RR 0.6–0.8 of the local mean) with a flattened P wave. The default is 1: inter-patient
  morphology, S runs, sinus arrhythmia and artifact keep S at the literature's difficulty even then.
* ``s_run_length`` — mean length of S runs; inside a run the local RR adapts, hiding prematurity.
* ``rr_variability`` — median beat-to-beat RR spread of the sinus rhythm (per patient lognormal around it).
* ``patient_variability`` — spread of per-patient morphology (the inter-patient gap).
* ``bbb_share`` — share of patients with wide (bundle-branch-block) normal beats.
* ``noise_mv`` — white noise on top of baseline wander.
* ``artifact_share`` — share of each record under electrode-motion artifact (two bursts of 1–12 Hz noise, as
  large as a QRS, marked ``~`` in the annotations as in the real files): beats inside a burst are hard for every class.
* ``v_separability`` — how far V beats are from the patient's own N beats in shape (a mix of the N and the
  ventricular complex; their timing stays that of real PVCs); each patient draws their own around it (× 0.4–1.6,
  at most 1).
* ``af_share`` — share of patients in atrial fibrillation: irregularly irregular N beats without a P wave
  (AAMI class N, as in records 201 and 203), whose short RR intervals look premature.
* ``beat_variability`` — how much a patient's own beats wander (QRS width drifting over the record, T-wave
  size beat to beat; each patient draws a share of it): some N beats look unusual for their patient.

**Calibration.** ``v_separability``, ``af_share`` and ``beat_variability`` were set so that the feature-based
reference model (``models.ecg_reference``, leave-one-patient-out on DS1) scores on generated DS1 what it scores on
the real DS1 records (S sensitivity/PPV 0.78/0.20, V 0.41/0.49), averaged over 16 generator seeds — never by
looking at the CNN under test or at DS2 (``bench/bench_ecg_real.py`` prints both; book/data.md keeps them). S
sensitivity, S PPV and V PPV match within ±0.05; V sensitivity stays about 0.09 higher on generated records (no
setting tried lowered it without lowering V PPV with it: the real records' missed V beats are read as S in
V-heavy patients, which the generator does not reproduce).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from expbook.cache import cache_root, cached_folder, fingerprint_folder
from expbook.data.wfdb_beats import CLASSES, DS1, DS2, quiet_wfdb

TARGET_SHARES = {"DS1": (0.899, 0.019, 0.074, 0.008), "DS2": (0.890, 0.037, 0.065, 0.008)}
# Annotation symbols written per class, with their probabilities (every one maps back through AAMI).
SYMBOLS = {0: (["N"], [1.0]), 1: (["A", "a", "J"], [0.8, 0.1, 0.1]), 2: (["V", "E"], [0.95, 0.05]), 3: (["F"], [1.0])}
WINDOW_S = (-0.45, 0.6)  # extent of one synthesised beat around its R peak


@dataclass(frozen=True, kw_only=True)
class EcgSpec:
    """Parameters of the generator (see the module docstring)."""

    minutes: float = 5.0
    fs: int = 360
    s_separability: float = 1.0
    s_run_length: float = 3.0
    rr_variability: float = 0.06
    patient_variability: float = 1.0
    bbb_share: float = 0.3
    rare_concentration: float = 0.35
    noise_mv: float = 0.06
    artifact_share: float = 0.03
    v_separability: float = 0.5  # these three: calibrated with the reference model on real DS1 (book/data.md)
    af_share: float = 0.3
    beat_variability: float = 0.8
    seed: int = 0


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Integer counts summing exactly to ``total``, proportional to ``weights`` (largest remainder)."""
    raw = total * weights / weights.sum()
    counts = np.floor(raw).astype(np.int64)
    counts[np.argsort(raw - counts)[::-1][: total - counts.sum()]] += 1
    return counts


def _class_counts(rng: np.random.Generator, base_n: np.ndarray, shares: tuple[float, ...], concentration: float) -> np.ndarray:
    """(records, 4) beat counts: N = each record's base count, rare classes allocated with Gamma weights."""
    counts = np.zeros((base_n.size, len(CLASSES)), dtype=np.int64)
    counts[:, 0] = base_n
    for c in range(1, len(CLASSES)):
        total = round(shares[c] / shares[0] * base_n.sum())
        weights = rng.gamma(concentration, size=base_n.size) * (rng.random(base_n.size) < 0.6)
        if weights.sum() == 0:
            weights[rng.integers(base_n.size)] = 1.0
        counts[:, c] = _allocate(total, weights)
    return counts


def _patient(rng: np.random.Generator, variability: float, bbb_share: float, v_separability: float = 1.0,
             af_share: float = 0.0) -> dict[str, float]:
    v = variability
    bbb = rng.random() < bbb_share  # bundle-branch block: every normal beat is wide (class N all the same)
    pt = {"amp": float(np.exp(0.15 * v * rng.standard_normal())),
          "qrs": float(rng.uniform(1.8, 2.5)) if bbb else float(np.clip(1 + 0.12 * v * rng.standard_normal(), 0.75, 1.35)),
          "bbb": bbb,
          "p": 0.15 * float(np.clip(1 + 0.35 * v * rng.standard_normal(), 0.3, 1.8)),
          "rr_spread": float(np.exp(0.5 * v * rng.standard_normal())),
          "wander": float(rng.uniform(0.3, 2.0)),
          # bundle-branch block brings a discordant (inverted) T wave, as a ventricular beat has
          "t": (-1.0 if bbb and rng.random() < 0.7 else 1.0) * 0.3 * float(np.clip(1 + 0.3 * v * rng.standard_normal(), 0.3, 1.8)),
          "v_sign": -1.0 if rng.random() < 0.3 * min(v, 1.0) else 1.0,
          "v_amp": rng.uniform(0.8, 1.6), "v_width": rng.uniform(0.02, 0.045) * (1 + 0.1 * v * rng.standard_normal())}
    pt["v_width"] = max(pt["v_width"], 1.4 * 0.011 * pt["qrs"])  # a ventricular beat is wider than the patient's own QRS
    # how far this patient's ventricular beats are from their normal ones (shape and prematurity), 1 = fully
    pt["v_sep"] = float(np.clip(v_separability * rng.uniform(0.4, 1.6), 0.05, 1.0))
    pt["beat_var"] = float(rng.uniform(0.0, 1.0))  # how much this patient's own beats vary (× ``beat_variability``)
    pt["af"] = bool(rng.random() < af_share)  # atrial fibrillation: irregular normal beats with no P wave
    if pt["af"]:
        pt["p"] = 0.0
    return pt


def _beat_waves(rng: np.random.Generator, labels: np.ndarray, rr: np.ndarray, pt: dict[str, float],
                s_sep: float, beat_variability: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(amplitude, centre s, width s) of 10 Gaussian waves per beat: an N-shaped and a V-shaped complex, mixed by class.

    ``beat_variability`` lets the QRS width and the T wave of a patient's own beats wander (a slow drift plus
    beat-to-beat spread, as posture, respiration and rate-dependent aberrancy do): some normal beats then look
    unusual for their patient."""
    n = labels.size
    spread = beat_variability * pt.get("beat_var", 0.0)
    drift = np.cumsum(rng.standard_normal(n)) / np.sqrt(max(n, 1))  # a random walk over the record, about ±1
    q = pt["qrs"] * np.clip(np.exp(spread * (0.5 * drift + 0.5 * rng.standard_normal(n))), 0.7, 1.6)
    p_amp = np.full(n, pt["p"])
    is_s = labels == 1
    p_amp[is_s] *= 1 - s_sep * rng.uniform(0.3, 0.8, is_s.sum())  # flattened ectopic P wave, often lost in T
    t_centre = 0.26 * np.sqrt(np.clip(rr, 0.3, 2.0) / 0.8)
    t_amp = pt["t"] * np.clip(np.exp(spread * rng.standard_normal(n)), 0.4, 2.0)
    normal = [(p_amp, -0.18, 0.022), (-0.12, -0.028 * q, 0.009 * q), (1.0, 0.0, 0.011 * q),
              (-0.25, 0.03 * q, 0.011 * q), (t_amp, t_centre, 0.05)]
    s, w = pt["v_sign"], pt["v_width"]
    ventricular = [(0.0, -0.18, 0.02), (-0.1 * s, -0.05, w * 0.6), (pt["v_amp"] * s, 0.0, w),
                   (-0.45 * s, 0.07, w * 1.2), (-0.35 * s, t_centre + 0.04, 0.07)]
    mix = np.zeros(n)  # V beats: each its own mix around the patient's (multiform and aberrant PVCs)
    mix[labels == 2] = np.clip(pt.get("v_sep", 1.0) + 0.3 * (1 - pt.get("v_sep", 1.0)) * rng.standard_normal(
        (labels == 2).sum()), 0.05, 1.0)
    mix[labels == 3] = rng.uniform(0.15, 0.6, (labels == 3).sum())  # fusion beats
    amps, centres, widths = [], [], []
    for waves, weight in ((normal, 1 - mix), (ventricular, mix)):
        for amp, centre, width in waves:
            amps.append(np.broadcast_to(amp, n) * weight)
            centres.append(np.broadcast_to(centre, n))
            widths.append(np.broadcast_to(width, n))
    jitter = 1 + 0.05 * rng.standard_normal((n, 1))
    return np.column_stack(amps) * pt["amp"] * jitter, np.column_stack(centres), np.column_stack(widths)


def _beat_sequence(rng: np.random.Generator, counts: np.ndarray, s_run_length: float) -> np.ndarray:
    """Class of each beat in time order: S beats come in runs (mean length ``s_run_length``), the rest one by one.

    Inside a run the local mean RR falls, so the later beats of a run are *not* premature relative
    to it: only their absolute RR and P wave tell them from N (as in real SVTA runs).
    """
    lengths = rng.geometric(1.0 / max(s_run_length, 1.0), size=max(int(counts[1]), 1))
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), counts[1]) + 1]
    lengths[-1] -= lengths.sum() - counts[1]
    lengths = lengths[lengths > 0]
    unit_class = np.concatenate([np.repeat([0, 2, 3], counts[[0, 2, 3]]), np.ones(lengths.size, dtype=np.int64)])
    unit_length = np.concatenate([np.ones(counts[[0, 2, 3]].sum(), dtype=np.int64), lengths])
    order = rng.permutation(unit_class.size)
    return np.repeat(unit_class[order], unit_length[order])


def synthesize_record(rng: np.random.Generator, counts: np.ndarray, spec: EcgSpec, *, heart_rate: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, np.ndarray]:
    """(signal (T, 2) in mV, R-peak samples, class labels, annotation symbol of the normal beats: N, or L/R
    for a bundle-branch-block patient, the samples where artifact bursts start) of one patient with the given mean
    heart rate."""
    pt = _patient(rng, spec.patient_variability, spec.bbb_share, spec.v_separability, spec.af_share)
    labels = _beat_sequence(rng, counts, spec.s_run_length)
    n, fs = labels.size, spec.fs
    rr0 = 60.0 / heart_rate
    local = rr0 * (1 + 0.04 * np.sin(2 * np.pi * np.arange(n) / rng.uniform(8, 20) + rng.uniform(0, 6.3)))
    # beat-to-beat variability (per patient: some have marked sinus arrhythmia) overlaps mild prematurity
    local *= np.exp(spec.rr_variability * pt["rr_spread"] * rng.standard_normal(n))
    if pt["af"]:  # atrial fibrillation: an irregularly irregular rhythm, its beats still AAMI class N
        local *= np.exp(0.2 * rng.standard_normal(n))
    factor = np.ones(n)
    factor[labels == 1] = 1 - spec.s_separability * rng.uniform(0.2, 0.4, (labels == 1).sum())
    factor[labels == 2] = rng.uniform(0.62, 0.95, (labels == 2).sum())  # early and late-coupled PVCs
    factor[labels == 3] = rng.uniform(0.85, 1.0, (labels == 3).sum())
    compensatory = np.ones(n)
    compensatory[1:] = np.where(labels[:-1] == 2, 2 - factor[:-1], 1.0)  # the pause after a V beat
    interval = local * factor * compensatory
    r_peaks = np.round((1.0 + np.cumsum(interval)) * fs).astype(np.int64)
    length = int(r_peaks[-1] + fs)
    amps, centres, widths = _beat_waves(rng, labels, interval, pt, spec.s_separability, spec.beat_variability)
    offsets = np.arange(round(WINDOW_S[0] * fs), round(WINDOW_S[1] * fs))
    t = offsets / fs
    waves = amps[:, :, None] * np.exp(-((t[None, None, :] - centres[:, :, None]) ** 2) / (2 * widths[:, :, None] ** 2))
    index = r_peaks[:, None] + offsets[None, :]
    clean = np.bincount(index.ravel(), weights=waves.sum(axis=1).ravel(), minlength=length)[:length]
    seconds = np.arange(length) / fs
    wander = pt["wander"] * (0.08 * np.sin(2 * np.pi * 0.25 * seconds + rng.uniform(0, 6.3))
                             + 0.04 * np.sin(2 * np.pi * 0.05 * seconds))
    artifact, bursts = _motion_artifact(rng, length, fs, spec.artifact_share)
    mlii = clean + wander + artifact + spec.noise_mv * rng.standard_normal(length)
    v1 = -0.6 * clean + 0.5 * wander + 0.7 * artifact + spec.noise_mv * rng.standard_normal(length)
    normal_symbol = str(rng.choice(["L", "R"])) if pt["bbb"] else "N"
    return np.column_stack([mlii, v1]), r_peaks, labels, normal_symbol, bursts


def _motion_artifact(rng: np.random.Generator, length: int, fs: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """(signal in mV, the two burst starts): band-limited noise (random 1–12 Hz sinusoids, 0.2–0.6 mV) over two
    bursts that together cover ``share`` of the record, with smooth on- and offsets."""
    duration = max(int(share * length / 2), 1)
    starts = np.sort(rng.integers(0, max(length - duration, 1), 2))
    t = np.arange(duration) / fs
    freqs, phases = rng.uniform(1, 12, (2, 6)), rng.uniform(0, 2 * np.pi, (2, 6))
    bursts = np.sin(2 * np.pi * freqs[:, :, None] * t + phases[:, :, None]).sum(axis=1) / np.sqrt(6)
    bursts *= rng.uniform(0.2, 0.6, (2, 1)) * np.sin(np.linspace(0, np.pi, duration)).clip(0) ** 0.5
    artifact = np.zeros(length)
    np.add.at(artifact, (starts[:, None] + np.arange(duration)).clip(max=length - 1), bursts * (share > 0))
    return artifact, starts


def _write_record(out_dir: Path, name: str, split: str, signal: np.ndarray, r_peaks: np.ndarray, labels: np.ndarray,
                  rng: np.random.Generator, fs: int, normal_symbol: str, noise: np.ndarray) -> None:
    """``<name>.hea/.dat`` (format 212, 200 adu/mV as MIT-BIH) and ``<name>.atr`` with beat and non-beat annotations."""
    symbols = np.empty(labels.size, dtype=object)
    for c, (choices, probs) in SYMBOLS.items():
        symbols[labels == c] = rng.choice(choices, size=(labels == c).sum(), p=probs)
    symbols[labels == 0] = normal_symbol
    # a rhythm annotation and a noise mark per artifact burst, as in the real files: the adapter must skip them
    sample = np.concatenate([[max(r_peaks[0] - 20, 0)], r_peaks, noise])
    symbol = np.array(["+", *symbols.tolist(), "~", "~"], dtype=object)
    aux = np.array(["(N", *([""] * labels.size), "", ""], dtype=object)
    order = np.argsort(sample, kind="stable")
    with quiet_wfdb() as wfdb:
        wfdb.wrsamp(name, fs=fs, units=["mV", "mV"], sig_name=["MLII", "V1"], p_signal=signal, fmt=["212", "212"],
                    adc_gain=[200.0, 200.0], baseline=[1024, 1024], comments=[f"synthetic expbook record ({split})"],
                    write_dir=str(out_dir))
        wfdb.wrann(name, "atr", sample[order], symbol=symbol[order].tolist(), aux_note=aux[order].tolist(), fs=fs,
                   write_dir=str(out_dir))


def generate_ecg(out_dir: str | Path, spec: EcgSpec) -> dict[str, list[int]]:
    """Write the 44 records into ``out_dir``; returns the beat counts per class for DS1 and DS2."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    totals = {}
    for split, names in (("DS1", DS1), ("DS2", DS2)):
        heart_rates = rng.uniform(60, 95, len(names))
        base_n = np.round(spec.minutes * heart_rates).astype(np.int64)
        counts = _class_counts(rng, base_n, TARGET_SHARES[split], spec.rare_concentration)
        totals[split] = counts.sum(axis=0).tolist()
        for name, row, heart_rate in zip(names, counts, heart_rates, strict=True):
            record_rng = np.random.default_rng([spec.seed, int(name)])
            signal, r_peaks, labels, normal_symbol, bursts = synthesize_record(record_rng, row, spec, heart_rate=heart_rate)
            _write_record(out_dir, name, split, signal, r_peaks, labels, record_rng, spec.fs, normal_symbol, bursts)
    return totals


def ensure_synthetic_ecg(spec: EcgSpec, cache_root: str | Path) -> Path:
    """Folder of generated files for ``spec``, generated once, keyed by the generator's code and spec (``expbook.cache``)."""
    return cached_folder("ecg", generate_ecg, spec, root=cache_root)


def ecg_folder(data_dir: str | None, spec: EcgSpec, root: str | Path | None = None) -> tuple[Path, str]:
    """(folder, fingerprint): the user's WFDB records, or the generated records of ``spec`` (made once, in the
    cache at ``root``)."""
    if data_dir:
        folder = Path(data_dir).expanduser()
        return folder, "files:" + fingerprint_folder(folder)
    folder = ensure_synthetic_ecg(spec, root or cache_root())
    return folder, "synthetic:" + folder.name


# the inter-patient DS2 results of the literature (MIT-BIH): how hard a generated DS2 should be, and the report's scale
LITERATURE = pd.DataFrame(
    {"S sensitivity": [0.76, 0.83, 0.79], "S PPV": [0.38, 0.34, 0.36], "V sensitivity": [0.78, 0.87, 0.86],
     "V PPV": [0.82, 0.76, 0.93]},
    index=pd.Index(["de Chazal et al. 2004 (IEEE TBME 51:1196): real MIT-BIH DS2",
                    "Mar et al. 2011 (IEEE TBME 58:2168): real MIT-BIH DS2",
                    "Zhang et al. 2014 (Comput. Biol. Med. 48:133): real MIT-BIH DS2"], name="inter-patient DS2 (data)"))
