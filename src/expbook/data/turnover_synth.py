"""Synthetic turnover survey: writes the five CSV tables of ``expbook.data.turnover`` with the survey's statistics.

Targets (the site's *Data* page, book/data.md): 500 employees, 11% intend to leave; 13 post types (≈1.25 per employee);
company size and type with 6 levels each; 14 hypothetical posts × 10 attributes; 7 choice tasks per
employee → 3,500 pairs, the chosen post first (option A) about half of the time.

Planted signal, with knobs:

* intends to leave: ``logit = b0 + s·(√(1−g²)·risk_features + g·risk_graph)``, where ``risk_features``
  comes from the satisfaction and fit items, commute and tenure, and ``risk_graph`` from the
  employee's post types and company type (learnable only through the graph). ``g = graph_signal``,
  ``s = turnover_scale``; ``b0`` is solved for the positive rate.
* preferences: utility ``u(e, p) = preference_signal · skill_e · M · attr_p + popularity · attr_p1 + Gumbel``;
  the chosen post of a pair has the higher utility. ``preference_signal = 0`` leaves only the
  popularity of attribute 1, the same for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from expbook.cache import cache_root, cached_folder
from expbook.data.turnover import N_ATTRIBUTES, EmployeeGraph, load_survey

POST_TYPES = ("production", "quality", "maintenance", "logistics", "sales", "customer service", "finance", "hr",
              "it", "r&d", "design", "administration", "management")


@dataclass(frozen=True, kw_only=True)
class SurveySpec:
    employees: int = 500
    positive_rate: float = 0.11
    graph_signal: float = 0.3
    turnover_scale: float = 2.5
    preference_signal: float = 1.0
    popularity: float = 0.5
    posts: int = 14
    tasks: int = 7
    seed: int = 0


def _likert(rng: np.random.Generator, latent: np.ndarray, items: int, noise: float = 0.8) -> np.ndarray:
    """``items`` 1–5 answers driven by ``latent`` (standard normal) plus item noise."""
    raw = latent[:, None] + noise * rng.standard_normal((latent.size, items))
    return np.clip(np.round(3 + 1.1 * raw), 1, 5).astype(int)


def _z(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() + 1e-12)


def generate_survey(out_dir: str | Path, spec: SurveySpec) -> dict[str, int]:
    """Write the survey tables into ``out_dir``; returns row counts."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    n = spec.employees
    satisfaction, fit = rng.standard_normal(n), rng.standard_normal(n)
    skill = rng.standard_normal((n, 2))
    tenure = np.round(rng.gamma(2.0, 2.5, n), 1)
    commute = np.round(rng.gamma(3.0, 12.0, n)).astype(int)
    training = np.round(rng.gamma(2.0, 10.0, n)).astype(int)
    size = rng.choice(6, n, p=[0.1, 0.15, 0.25, 0.2, 0.18, 0.12]) + 1
    ctype = rng.choice(6, n, p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.1]) + 1

    n_types = len(POST_TYPES)
    type_share = rng.dirichlet(np.full(n_types, 3.0))
    first = rng.choice(n_types, n, p=type_share)
    second_mask = rng.random(n) < 0.25
    second = (first + rng.integers(1, n_types, n)) % n_types  # a different post type
    edge_employee = np.concatenate([np.arange(n), np.flatnonzero(second_mask)])
    edge_type = np.concatenate([first, second[second_mask]])

    type_risk, company_risk = rng.standard_normal(n_types), rng.standard_normal(6)
    per_type = np.bincount(edge_employee, weights=type_risk[edge_type], minlength=n) / np.bincount(edge_employee, minlength=n)
    risk_graph = _z(per_type + company_risk[ctype - 1])
    risk_features = _z(-0.9 * satisfaction - 0.6 * fit + 0.3 * _z(commute) - 0.3 * _z(np.log1p(tenure)))
    g = spec.graph_signal
    score = spec.turnover_scale * (np.sqrt(1 - g**2) * risk_features + g * risk_graph)
    b0 = brentq(lambda b: expit(b + score).mean() - spec.positive_rate, -20, 20)
    label = (rng.random(n) < expit(b0 + score)).astype(int)

    employee_ids = 1000 + np.arange(n)
    pd.DataFrame({
        "employee_id": employee_ids, "tenure_years": tenure, "training_hours": training, "commute_minutes": commute,
        **{f"sat_{i + 1}": col for i, col in enumerate(_likert(rng, satisfaction, 4).T)},
        **{f"fit_{i + 1}": col for i, col in enumerate(_likert(rng, fit, 3).T)},
        **{f"skill_{i + 1}": col for i, col in enumerate(np.hstack([_likert(rng, skill[:, 0], 2),
                                                                     _likert(rng, skill[:, 1], 2)]).T)},
        "company_size": size, "company_type": ctype, "intends_to_leave": label,
    }).to_csv(out_dir / "employees.csv", index=False)
    pd.DataFrame({"post_type_id": np.arange(1, n_types + 1), "name": POST_TYPES}).to_csv(out_dir / "post_types.csv",
                                                                                         index=False)
    pd.DataFrame({"employee_id": employee_ids[edge_employee], "post_type_id": edge_type + 1}).to_csv(
        out_dir / "employee_post_types.csv", index=False)

    attributes = rng.integers(0, 3, (spec.posts, N_ATTRIBUTES)).astype(float)
    post_ids = 1 + np.arange(spec.posts)
    pd.DataFrame({"post_id": post_ids, **{f"attr_{i + 1}": attributes[:, i].astype(int) for i in range(N_ATTRIBUTES)}}
                 ).to_csv(out_dir / "posts.csv", index=False)
    mixing = rng.standard_normal((2, N_ATTRIBUTES)) / np.sqrt(N_ATTRIBUTES)
    z_attr = (attributes - attributes.mean(axis=0)) / (attributes.std(axis=0) + 1e-12)
    utility = spec.preference_signal * skill @ mixing @ z_attr.T + spec.popularity * z_attr[:, 0][None, :]  # (n, posts)
    shown = rng.random((n, spec.tasks, spec.posts)).argsort(axis=2)[:, :, :2]  # two different posts per task
    rows = np.repeat(np.arange(n), spec.tasks).reshape(n, spec.tasks)
    noisy = utility[rows[..., None], shown] + rng.gumbel(size=shown.shape)
    a_wins = noisy[..., 0] > noisy[..., 1]
    chosen = np.where(a_wins, shown[..., 0], shown[..., 1])
    rejected = np.where(a_wins, shown[..., 1], shown[..., 0])
    pd.DataFrame({"employee_id": employee_ids[rows.ravel()], "task_id": np.tile(np.arange(1, spec.tasks + 1), n),
                  "chosen_post_id": post_ids[chosen.ravel()], "rejected_post_id": post_ids[rejected.ravel()],
                  "chosen_option": np.where(a_wins.ravel(), "A", "B")}).to_csv(out_dir / "preferences.csv", index=False)
    return {"employees": n, "positives": int(label.sum()), "edges": int(edge_type.size), "pairs": int(chosen.size)}


def ensure_synthetic_survey(spec: SurveySpec, cache_root: str | Path) -> Path:
    """Folder of generated files for ``spec``, generated once (atomically), keyed by the generator's code and spec."""
    return cached_folder("turnover", generate_survey, spec, root=cache_root)


def load_survey_graph(data_dir: str | None, spec: SurveySpec) -> EmployeeGraph:
    """The user's survey folder, or the generator's cached tables for ``spec``."""
    return load_survey(Path(data_dir).expanduser() if data_dir else ensure_synthetic_survey(spec, cache_root()))
