"""Click-level labels and leak-safe features for gift-value prediction on KuaiLive.

Label: each gift is credited to the user's latest click on the same live room at or before
the gift's time (or the first click of that room if the gift precedes every click), and a
click's label is the sum of the gift_price credited to it. Each gift counts exactly once.

Past-only features (the default) use whole days strictly before the row's day: for user,
streamer and (user, streamer) pair, the clicks, gift rows, revenue, gift rate and mean gift
so far, plus days since the pair's last gift. Day granularity is conservative: events
earlier on the same day are not used, so no feature can contain the row's own outcome.

Side information comes from the user and streamer tables. Their *crawl-time snapshot* counts — a
streamer's fans and accumulated number of lives (``SNAPSHOT_COLUMNS``) — were measured once, at the end
of the logging period, so they carry the future (the real ``accu_live_cnt`` counts lives that happen
after the row). They cannot be truncated to a row's past, so only the leaky protocol uses them.

``leaky=True`` reproduces the original report's protocol: the same aggregates over the *full
period* (including the row itself and the future), the snapshot counts, and ``watch_live_time``,
which is result leakage (it includes time spent after gifting).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from expbook.data.kuailive import TIMEZONE_OFFSET_MS, KuaiLiveData, day_index, range_lower_bound

ENTITY_KEYS: dict[str, list[str]] = {
    "user": ["user_id"],
    "streamer": ["streamer_id"],
    "pair": ["user_id", "streamer_id"],
}
RESULT_LEAKAGE_COLUMNS = ("watch_live_time",)
# feature -> (table, column) of a count measured once at crawl time (the end of the logs)
SNAPSHOT_COLUMNS = {"streamer_fans": ("streamer", "fans_user_num"), "streamer_live_count": ("streamer", "accu_live_cnt")}
PEAK_HOURS = (12, 13, 20, 21, 22)


@dataclass(frozen=True)
class FeatureTable:
    """One row per click: ids, ``day``, ``split``, ``label`` (gift value) and ``feature_columns``."""

    frame: pd.DataFrame
    feature_columns: tuple[str, ...]
    leaky: bool


def click_labels(click: pd.DataFrame, gift: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Gift value credited to each click (see module docstring) and the number of gifts with no click."""
    clicks = pd.DataFrame({"user_id": click["user_id"].to_numpy(), "live_id": click["live_id"].to_numpy(),
                           "timestamp": click["timestamp"].to_numpy(), "row": np.arange(len(click))})
    clicks = clicks.sort_values("timestamp", kind="stable")
    gifts = gift[["user_id", "live_id", "timestamp", "gift_price"]].sort_values("timestamp", kind="stable")
    backward = pd.merge_asof(gifts, clicks, on="timestamp", by=["user_id", "live_id"], direction="backward")
    unmatched = backward["row"].isna()
    if unmatched.any():
        forward = pd.merge_asof(gifts[unmatched.to_numpy()], clicks, on="timestamp", by=["user_id", "live_id"],
                                direction="forward")
        backward.loc[unmatched, "row"] = forward["row"].to_numpy()
    credited = backward.dropna(subset=["row"])
    labels = np.bincount(credited["row"].astype(np.int64), weights=credited["gift_price"], minlength=len(click))
    return labels, int(len(gifts) - len(credited))


def _past_aggregates(rows: pd.DataFrame, entity: str) -> pd.DataFrame:
    """Per-row aggregates of the entity over days strictly before the row's day."""
    keys = ENTITY_KEYS[entity]
    daily = rows.groupby(keys + ["day"], sort=True).agg(
        clicks=("label", "size"), gifts=("is_gift", "sum"), revenue=("label", "sum")).reset_index()
    totals = daily.groupby(keys, sort=False)[["clicks", "gifts", "revenue"]].cumsum()
    past = daily[keys + ["day"]].copy()
    for column in ("clicks", "gifts", "revenue"):
        past[column] = (totals[column] - daily[column]).to_numpy()
    if entity == "pair":
        gift_day = daily["day"].where(daily["gifts"] > 0)
        last_gift = _previous_gift_day(daily, keys, gift_day)
        past["days_since_gift"] = (daily["day"] - last_gift).to_numpy()
    return past


def _previous_gift_day(daily: pd.DataFrame, keys: list[str], gift_day: pd.Series) -> pd.Series:
    """Latest day with a gift strictly before each (key, day) row; NaN if none. Vectorised ffill."""
    group = daily.groupby(keys, sort=False).ngroup()
    shifted = gift_day.groupby(group).shift(1)
    return shifted.groupby(group).ffill()


def _full_period_aggregates(rows: pd.DataFrame, entity: str) -> pd.DataFrame:
    """The leaky protocol: aggregates over all days, the row's own outcome and the future included."""
    keys = ENTITY_KEYS[entity]
    grouped = rows.groupby(keys, sort=False)
    full = pd.DataFrame({
        "clicks": grouped["label"].transform("size"), "gifts": grouped["is_gift"].transform("sum"),
        "revenue": grouped["label"].transform("sum")})
    if entity == "pair":
        last_gift = rows["day"].where(rows["is_gift"] > 0).groupby([rows[k] for k in keys], sort=False).transform("max")
        full["days_since_gift"] = rows["day"] - last_gift
    return full


def _name(entity: str, column: str) -> str:
    return f"{entity}_{column}"


def build_features(data: KuaiLiveData, *, leaky: bool = False) -> FeatureTable:
    """Labels plus user/streamer/pair aggregates, time and side features for every click."""
    click = data.click
    labels, _ = click_labels(click, data.gift)
    origin = int(click["timestamp"].min())
    rows = pd.DataFrame({
        "user_id": click["user_id"].to_numpy(), "streamer_id": click["streamer_id"].to_numpy(),
        "live_id": click["live_id"].to_numpy(), "timestamp": click["timestamp"].to_numpy(),
        "day": day_index(click["timestamp"], origin), "label": labels,
    })
    rows["is_gift"] = (rows["label"] > 0).astype(np.int32)
    features: list[str] = []
    for entity, keys in ENTITY_KEYS.items():
        if leaky:
            aggregates = _full_period_aggregates(rows, entity)
        else:
            aggregates = rows[keys + ["day"]].merge(_past_aggregates(rows, entity), on=keys + ["day"], how="left")
        for column in [c for c in aggregates.columns if c not in keys + ["day"]]:
            rows[_name(entity, column)] = aggregates[column].to_numpy(dtype=np.float64)
            features.append(_name(entity, column))
        clicks, gifts = rows[_name(entity, "clicks")], rows[_name(entity, "gifts")]
        rows[_name(entity, "gift_rate")] = np.where(clicks > 0, gifts / clicks.where(clicks > 0, 1), np.nan)
        rows[_name(entity, "mean_gift")] = np.where(gifts > 0, rows[_name(entity, "revenue")] / gifts.where(gifts > 0, 1),
                                                    np.nan)
        features += [_name(entity, "gift_rate"), _name(entity, "mean_gift")]

    local_ms = rows["timestamp"].to_numpy() + TIMEZONE_OFFSET_MS
    rows["hour"] = (local_ms // 3_600_000) % 24
    rows["weekday"] = (local_ms // 86_400_000 + 3) % 7  # 1970-01-01 was a Thursday (3 when Monday = 0)
    rows["is_peak_hour"] = np.isin(rows["hour"], PEAK_HOURS).astype(np.int8)
    room_start = rows[["live_id"]].merge(data.room[["live_id", "start_timestamp"]].drop_duplicates("live_id"),
                                         on="live_id", how="left")["start_timestamp"].to_numpy(dtype=np.float64)
    rows["minutes_since_live_start"] = (rows["timestamp"].to_numpy() - room_start) / 60_000
    features += ["hour", "weekday", "is_peak_hour", "minutes_since_live_start"]

    user = data.user.drop_duplicates("user_id").set_index("user_id")
    streamer = data.streamer.drop_duplicates("streamer_id").set_index("streamer_id")
    side = {
        "user_age": range_lower_bound(user["age"]), "user_device_price": range_lower_bound(user["device_price"]),
        "user_gender": (user["gender"] == "M").astype(np.float64).to_numpy(),
    }
    for name, values in side.items():
        rows[name] = pd.Series(values, index=user.index).reindex(rows["user_id"]).to_numpy()
    streamer_side = {
        "streamer_age": range_lower_bound(streamer["age"]), "streamer_fans": range_lower_bound(streamer["fans_user_num"]),
        "streamer_live_count": range_lower_bound(streamer["accu_live_cnt"]),
        "streamer_gender": (streamer["gender"] == "M").astype(np.float64).to_numpy(),
        "streamer_tag": streamer["live_operation_tag"].astype("category").cat.codes.to_numpy(dtype=np.float64),
    }
    if not leaky:
        streamer_side = {name: values for name, values in streamer_side.items() if name not in SNAPSHOT_COLUMNS}
    for name, values in streamer_side.items():
        rows[name] = pd.Series(values, index=streamer.index).reindex(rows["streamer_id"]).to_numpy()
    features += list(side) + list(streamer_side)

    if leaky:
        rows["watch_live_time"] = click["watch_live_time"].to_numpy(dtype=np.float64)
        features.append("watch_live_time")
    return FeatureTable(frame=rows, feature_columns=tuple(features), leaky=leaky)


def assign_split(day: np.ndarray, *, val_days: int, test_days: int) -> np.ndarray:
    """'train' / 'val' / 'test' by day: the last ``test_days`` days test, the ``val_days`` before val."""
    last = int(day.max())
    test_start = last - test_days + 1
    val_start = test_start - val_days
    if val_start <= int(day.min()):
        raise ValueError(f"{last + 1} days of data cannot hold {val_days} val days, {test_days} test days "
                         f"and at least one train day")
    return np.where(day >= test_start, "test", np.where(day >= val_start, "val", "train"))
