"""Synthetic KuaiLive: writes the real dataset's CSV files with its published statistics.

Targets (the site's *Data* page, book/data.md; at ``scale=1.0``): 23,772 users, 452,621 streamers (≈7.8% ever receive
gifts), 4.91M clicks over 21 days, ≈1.9% of click rows carry a gift; gift_price per gift
P(=1)≈44%, P(≤10)≈76%, median 2, mean ≈83, P90 ≈88, P99 ≈1,488, max ≈56k with spikes at
10 and 20; revenue concentrated on few users (Gini ≈0.94) and streamers; most gifts go to
a user's favourite streamers; activity peaks at 12–13h and 20–22h Beijing time.

Planted signal (the knobs that let conclusions go either way):

* whether a click carries a gift: ``logit = b0 + s·(ρ·z + √(1-ρ²)·ε)`` where ``z`` is a
  persistent user/pair/streamer trait (generosity, favourite streamer, streamer appeal) and
  ``ε`` per-click noise. ``ρ = gift_predictability``, ``s = gift_logit_scale``; ``b0`` is solved
  so the positive rate equals ``gift_rate``. ρ→1 with a large s makes stage 1 learnable to
  near perfection from the user's past behaviour; ρ→0 makes gifting unpredictable.
* how much: each gift's price is ``Q(Φ(α·t + √(1-α²)·η))`` with ``t`` the user's persistent
  spending tier and ``Q`` the price quantile function; ``α = amount_predictability``.
  α=0 leaves amounts unpredictable (a useless stage 2), α→1 makes them a user trait.
* ``watch_live_time`` grows with the gift (it includes time after gifting): result leakage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from expbook.cache import cached_folder
from expbook.data.kuailive import DAY_MS, TIMEZONE_OFFSET_MS

REAL_USERS, REAL_STREAMERS, REAL_CLICKS = 23_772, 452_621, 4_909_515
GIFTING_STREAMER_SHARE = 35_370 / 452_621
ORIGIN_MS = 1_746_374_400_000  # 2025-05-05 00:00 Beijing time, the first day of the real logs

# Share of clicks per Beijing hour: troughs at night, peaks at 12–13h and 20–22h.
HOUR_PROFILE = np.array([3.0, 1.8, 1.0, 0.6, 0.4, 0.4, 0.7, 1.2, 1.8, 2.4, 2.8, 3.4,
                         5.2, 5.0, 3.6, 3.4, 3.4, 3.6, 4.2, 5.0, 6.6, 7.0, 6.6, 4.6])


@dataclass(frozen=True, kw_only=True)
class KuaiLiveSpec:
    """Parameters of the generator (see module docstring for the signal they plant)."""

    scale: float = 0.1
    days: int = 21
    gift_rate: float = 0.019
    gift_predictability: float = 0.75
    gift_logit_scale: float = 2.5
    amount_predictability: float = 0.7
    favourite_click_share: float = 0.3
    seed: int = 0

    def sizes(self) -> tuple[int, int, int]:
        """(users, streamers, clicks) at this scale."""
        return (max(30, round(REAL_USERS * self.scale)), max(60, round(REAL_STREAMERS * self.scale)),
                max(2_000, round(REAL_CLICKS * self.scale)))


def gift_price_quantile(u: np.ndarray) -> np.ndarray:
    """Integer gift price at uniform quantile ``u``: the piecewise inverse CDF of the target marginal.

    44% are 1; 32% small gifts (2–10, spike at 10); 5% exactly 20; 9% log-uniform 11–88;
    9% log-uniform 88–1,488; the top 1% a Pareto tail from 1,488 capped at 56,000.
    """
    price = np.ones_like(u)
    small_values = np.array([2, 3, 5, 6, 9, 10])
    small_edges = 0.44 + np.cumsum([0.09, 0.04, 0.06, 0.03, 0.02, 0.08])
    small = (u >= 0.44) & (u < 0.76)
    price[small] = small_values[np.minimum(np.searchsorted(small_edges, u[small], side="right"), 5)]
    price[(u >= 0.76) & (u < 0.81)] = 20
    mid = (u >= 0.81) & (u < 0.90)
    price[mid] = np.round(11 * (88 / 11) ** ((u[mid] - 0.81) / 0.09))
    high = (u >= 0.90) & (u < 0.99)
    price[high] = np.round(88 * (1488 / 88) ** ((u[high] - 0.90) / 0.09))
    tail = u >= 0.99
    price[tail] = np.minimum(np.round(1488 * (1 - (u[tail] - 0.99) / 0.01 + 1e-12) ** (-1 / 1.6)), 56_000)
    return price


def _solve_intercept(logit: np.ndarray, target_mean: float) -> float:
    """b0 such that mean(sigmoid(logit + b0)) == target_mean (bisection; monotone in b0)."""
    low, high = -40.0, 40.0
    for _ in range(60):
        mid = (low + high) / 2
        if expit(logit + mid).mean() < target_mean:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _range_string(values: np.ndarray, edges: list[int]) -> np.ndarray:
    """Bucket numbers into KuaiLive-style range strings ``"lo-hi"`` / ``"lo+"``."""
    labels = [f"{a}-{b}" for a, b in zip(edges[:-1], edges[1:])] + [f"{edges[-1]}+"]
    return np.array(labels, dtype=object)[np.clip(np.searchsorted(edges, values, side="right") - 1, 0, None)]


def generate_kuailive(out_dir: str | Path, spec: KuaiLiveSpec) -> dict[str, int]:
    """Write ``click.csv, gift.csv, user.csv, streamer.csv, room.csv`` into ``out_dir``.

    Returns the row counts. Deterministic for a given ``spec`` (all draws from one seeded Generator).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    n_users, n_streamers, n_clicks = spec.sizes()

    # users: activity (clicks), generosity (whether they gift), spending tier (how much)
    activity = rng.lognormal(0.0, 1.1, n_users)
    generosity = rng.standard_normal(n_users)
    tier = 0.6 * generosity + 0.8 * rng.standard_normal(n_users)
    favourite_share = rng.beta(3, 3 * (1 - spec.favourite_click_share) / spec.favourite_click_share, n_users)

    # streamers: Zipf popularity, a few percent can receive gifts, with an appeal trait
    popularity = rng.permutation(1.0 / np.arange(1, n_streamers + 1) ** 0.9)
    popularity /= popularity.sum()
    n_gifting = max(5, round(GIFTING_STREAMER_SHARE * n_streamers))
    gifting = rng.choice(n_streamers, n_gifting, replace=False, p=np.sqrt(popularity) / np.sqrt(popularity).sum())
    accepts_gifts = np.zeros(n_streamers, bool)
    accepts_gifts[gifting] = True
    appeal = rng.standard_normal(n_streamers)

    # favourites: 1–5 gifting streamers per user, drawn by popularity
    fav_p = popularity[gifting] ** 0.2 / (popularity[gifting] ** 0.2).sum()
    favourites = gifting[rng.choice(n_gifting, size=(n_users, 5), p=fav_p)]
    n_favourites = np.minimum(1 + rng.poisson(1.0, n_users), 5)

    # clicks
    user = rng.choice(n_users, n_clicks, p=activity / activity.sum())
    is_favourite = rng.random(n_clicks) < favourite_share[user]
    streamer = rng.choice(n_streamers, n_clicks, p=popularity)
    fav_slot = (rng.random(n_clicks) * n_favourites[user]).astype(np.int64)
    streamer[is_favourite] = favourites[user[is_favourite], fav_slot[is_favourite]]
    day = rng.integers(0, spec.days, n_clicks)
    hour = rng.choice(24, n_clicks, p=HOUR_PROFILE / HOUR_PROFILE.sum())
    timestamp = (ORIGIN_MS + day * DAY_MS + hour * 3_600_000 + rng.integers(0, 3_600_000, n_clicks))
    order = np.argsort(timestamp, kind="stable")
    user, streamer, is_favourite, hour, timestamp = (a[order] for a in (user, streamer, is_favourite, hour, timestamp))
    day = (timestamp + TIMEZONE_OFFSET_MS) // DAY_MS - (ORIGIN_MS + TIMEZONE_OFFSET_MS) // DAY_MS
    live_id = 10_000_000 + streamer.astype(np.int64) * spec.days + day

    # does the click carry a gift?
    trait = 1.6 * generosity[user] + 1.2 * is_favourite + 0.6 * appeal[streamer]
    trait = (trait - trait.mean()) / trait.std()
    rho = spec.gift_predictability
    peak = np.isin(hour, [12, 13, 20, 21, 22])
    logit = spec.gift_logit_scale * (rho * trait + np.sqrt(1 - rho**2) * rng.standard_normal(n_clicks)) + 0.3 * peak
    can_gift = accepts_gifts[streamer]
    b0 = _solve_intercept(logit[can_gift], spec.gift_rate * n_clicks / max(1, can_gift.sum()))
    gifted = can_gift & (rng.random(n_clicks) < expit(logit + b0))

    # gift events: 1 + Poisson(0.5) per gifted click, each priced from the user's tier
    gift_click = np.repeat(np.flatnonzero(gifted), 1 + rng.poisson(0.5, gifted.sum()))
    alpha = spec.amount_predictability
    gift_tier = tier[user[gift_click]]
    gift_tier = (gift_tier - gift_tier.mean()) / max(gift_tier.std(), 1e-9)  # gifters skew generous: re-centre
    quantile = ndtr(alpha * gift_tier + np.sqrt(1 - alpha**2) * rng.standard_normal(gift_click.size))
    price = gift_price_quantile(quantile)

    # watch time (ms): longer when the user gifts, and longer for bigger gifts -> result leakage
    revenue = np.bincount(gift_click, weights=price, minlength=n_clicks)
    watch = rng.lognormal(np.log(40_000), 1.2, n_clicks) * np.exp(gifted * (1.0 + 0.15 * np.log1p(revenue)))
    watch = np.round(watch).astype(np.int64)
    gift_time = timestamp[gift_click] + (rng.random(gift_click.size) * watch[gift_click]).astype(np.int64)

    pd.DataFrame({"user_id": user, "live_id": live_id, "streamer_id": streamer, "timestamp": timestamp,
                  "watch_live_time": watch}).to_csv(out_dir / "click.csv", index=False)
    pd.DataFrame({"user_id": user[gift_click], "live_id": live_id[gift_click], "streamer_id": streamer[gift_click],
                  "timestamp": gift_time, "gift_price": price.astype(np.int64)}).to_csv(out_dir / "gift.csv", index=False)

    genders = np.array(["F", "M"], dtype=object)
    ages = np.array(["12-17", "18-23", "24-30", "31-40", "41-49", "50+"], dtype=object)
    device_value = np.exp(7.5 + 0.5 * generosity + 0.6 * rng.standard_normal(n_users))
    pd.DataFrame({
        "user_id": np.arange(n_users), "gender": genders[rng.integers(0, 2, n_users)],
        "age": ages[rng.choice(6, n_users, p=[0.05, 0.25, 0.3, 0.22, 0.12, 0.06])], "country": "China",
        "device_brand": np.array(["APPLE", "HUAWEI", "OPPO", "VIVO", "XIAOMI"], dtype=object)[rng.integers(0, 5, n_users)],
        "device_price": _range_string(device_value, [0, 1000, 2000, 3000, 5000]),
        "fans_num": _range_string(rng.lognormal(3, 2, n_users), [0, 10, 100, 1000, 10000]),
    }).to_csv(out_dir / "user.csv", index=False)

    fans = popularity * n_streamers * 200 * np.exp(0.3 * appeal)
    lives = np.bincount(streamer, minlength=n_streamers)
    pd.DataFrame({
        "streamer_id": np.arange(n_streamers), "gender": genders[rng.integers(0, 2, n_streamers)],
        "age": ages[rng.choice(6, n_streamers, p=[0.02, 0.3, 0.35, 0.2, 0.1, 0.03])], "country": "China",
        "live_operation_tag": np.array(["Relationship", "Talent", "Game", "Shopping", "Chat"], dtype=object)[
            rng.integers(0, 5, n_streamers)],
        "fans_user_num": _range_string(fans, [0, 10, 100, 1000, 10000, 100000]),
        "accu_live_cnt": _range_string(lives * 20 + rng.integers(0, 50, n_streamers), [0, 10, 50, 100, 500]),
    }).to_csv(out_dir / "streamer.csv", index=False)

    rooms = pd.DataFrame({"live_id": live_id, "streamer_id": streamer, "timestamp": timestamp})
    rooms = rooms.groupby(["live_id", "streamer_id"], sort=True)["timestamp"].agg(["min", "max"]).reset_index()
    lead = rng.integers(60_000, 3_600_000, len(rooms))
    pd.DataFrame({
        "live_id": rooms["live_id"], "streamer_id": rooms["streamer_id"],
        "live_type": rng.integers(1, 4, len(rooms)), "start_timestamp": rooms["min"] - lead,
        "end_timestamp": rooms["max"] + rng.integers(60_000, 7_200_000, len(rooms)),
    }).to_csv(out_dir / "room.csv", index=False)
    return {"click": n_clicks, "gift": int(gift_click.size), "user": n_users, "streamer": n_streamers,
            "room": len(rooms)}


def ensure_synthetic_kuailive(spec: KuaiLiveSpec, cache_root: str | Path) -> Path:
    """Folder of generated files for ``spec``, generated once, keyed by the generator's code and spec (``expbook.cache``)."""
    return cached_folder("kuailive", generate_kuailive, spec, root=cache_root)
