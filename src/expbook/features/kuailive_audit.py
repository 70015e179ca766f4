"""The leakage audit of the KuaiLive feature table: does any feature the models used carry the outcome or the future?

Only structural problems count as findings: an outcome column among the features, validation or test rows that
overlap the training period, and rows whose features change when every event after their day is deleted. A
feature with a very high single-feature AUC is listed for the reader but not counted: an AUC cannot tell leakage
from a genuinely strong signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from expbook.data.kuailive import KuaiLiveData, day_index
from expbook.features.kuailive import RESULT_LEAKAGE_COLUMNS, SNAPSHOT_COLUMNS, build_features
from expbook.metrics.binary import roc_auc


@dataclass(frozen=True)
class LeakageAudit:
    """Findings about the features the main models used; ``findings`` > 0 means a protocol problem.

    Only structural problems count as findings. A feature with a very high single-feature AUC is listed
    for the reader, but not counted: an AUC cannot tell leakage from a genuinely strong signal.
    """

    result_leakage_columns: tuple[str, ...]
    overlap_rows: int  # val/test rows at or before the last train timestamp
    future_information_rows: int  # rows whose features change when the future is removed
    checked_rows: int
    suspicious_features: tuple[str, ...]  # single-feature AUC for y>0 above the threshold
    single_feature_auc: dict[str, float]

    @property
    def findings(self) -> int:
        return len(self.result_leakage_columns) + int(self.overlap_rows > 0) + int(self.future_information_rows > 0)


def time_overlap_rows(timestamp: np.ndarray, split: np.ndarray) -> int:
    """Val/test rows whose timestamp is not strictly after the last train row."""
    last_train = timestamp[split == "train"].max()
    return int(((split != "train") & (timestamp <= last_train)).sum())


def future_information_rows(data: KuaiLiveData, frame: pd.DataFrame, feature_columns: tuple[str, ...], *,
                            leaky: bool, check_day: int) -> tuple[int, int]:
    """Rows of ``check_day`` whose features differ when every event after that day is deleted.

    Every table goes through the truncation: clicks and gifts after the day are dropped, rooms that start
    after it are dropped, and the streamer table's crawl-time snapshot counts (``SNAPSHOT_COLUMNS``) become
    unknown, since a value measured at the end of the logs cannot be cut back to that day. A past-only
    feature cannot change; a full-period aggregate, a snapshot count or an outcome column does.
    Returns (rows that changed, rows checked).
    """
    origin = int(data.click["timestamp"].min())
    keep_click = day_index(data.click["timestamp"], origin) <= check_day
    keep_gift = day_index(data.gift["timestamp"], origin) <= check_day
    keep_room = day_index(data.room["start_timestamp"], origin) <= check_day
    snapshot = {column for table, column in SNAPSHOT_COLUMNS.values() if table == "streamer"}
    truncated = KuaiLiveData(click=data.click[keep_click].reset_index(drop=True),
                             gift=data.gift[keep_gift].reset_index(drop=True), user=data.user,
                             streamer=data.streamer.assign(**{column: "" for column in snapshot}),
                             room=data.room[keep_room].reset_index(drop=True))
    cut = build_features(truncated, leaky=leaky).frame
    rows = frame["day"].to_numpy() == check_day
    full_rows = frame.loc[rows].sort_values(["timestamp", "user_id", "streamer_id"], kind="stable")
    cut_rows = cut.loc[cut["day"].to_numpy() == check_day].sort_values(["timestamp", "user_id", "streamer_id"],
                                                                        kind="stable")
    columns = [c for c in feature_columns if c in cut_rows.columns]
    a = full_rows[columns].to_numpy(dtype=np.float64)
    b = cut_rows[columns].to_numpy(dtype=np.float64)
    differs = ~np.isclose(a, b, equal_nan=True)
    return int(differs.any(axis=1).sum()), int(rows.sum())


def single_feature_auc(frame: pd.DataFrame, feature_columns: tuple[str, ...], split: str = "test") -> dict[str, float]:
    """max(AUC, 1−AUC) of each feature alone for y>0 on ``split`` (NaN filled with the minimum)."""
    rows = frame["split"].to_numpy() == split
    target = frame.loc[rows, "label"].to_numpy() > 0
    if target.all() or not target.any():
        return {c: float("nan") for c in feature_columns}
    result = {}
    for column in feature_columns:  # a loop over ~30 columns, each one vectorised
        values = frame.loc[rows, column].to_numpy(dtype=np.float64)
        values = np.where(np.isnan(values), np.nanmin(values) - 1 if np.isfinite(np.nanmin(values)) else 0, values)
        auc = roc_auc(target, values)
        result[column] = float(max(auc, 1 - auc))
    return result


def leakage_audit(data: KuaiLiveData, frame: pd.DataFrame, feature_columns: tuple[str, ...], *, leaky: bool,
                  max_single_feature_auc: float) -> LeakageAudit:
    """Audit the features the main models used: outcome columns, time overlap, future information, AUCs."""
    test_days = np.unique(frame.loc[frame["split"] == "test", "day"])
    changed, checked = future_information_rows(data, frame, feature_columns, leaky=leaky, check_day=int(test_days[0]))
    aucs = single_feature_auc(frame, feature_columns)
    return LeakageAudit(
        result_leakage_columns=tuple(c for c in feature_columns if c in RESULT_LEAKAGE_COLUMNS),
        overlap_rows=time_overlap_rows(frame["timestamp"].to_numpy(), frame["split"].to_numpy()),
        future_information_rows=changed, checked_rows=checked,
        suspicious_features=tuple(c for c, a in aucs.items() if a >= max_single_feature_auc),
        single_feature_auc=aucs)


def audit_table(audit: LeakageAudit, *, leaky_top1: float, clean_top1: float) -> pd.DataFrame:
    """The audit's findings and the leakage inflation of the direct model's Top-1% capture, as a two-column table."""
    return pd.DataFrame({
        "check": ["outcome columns among the features", "val/test rows not after the last train row",
                  "first-test-day rows whose features change without the future",
                  "features with single-feature AUC ≥ threshold (listed, not counted: strong signal looks the same)",
                  "Direct Top-1% with leaky features", "Direct Top-1% with past-only features", "inflation from leakage"],
        "result": [", ".join(audit.result_leakage_columns) or "none", f"{audit.overlap_rows:,}",
                   f"{audit.future_information_rows:,} of {audit.checked_rows:,}",
                   ", ".join(audit.suspicious_features) or "none", f"{leaky_top1:.1%}", f"{clean_top1:.1%}",
                   f"{(leaky_top1 - clean_top1) * 100:+.1f} pp"]})
