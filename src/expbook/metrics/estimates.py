"""Estimates with their sampling distribution: a measured value that can be tested against a threshold, shown with
its interval at any level, and asked how many more sampling units would decide it.

Three kinds, one per way the reports resample:

* ``TEstimate`` — the mean of per-unit values (seeds, users): a one-sample t-test and the t-interval;
* ``CorrectedTEstimate`` — the mean difference over repeated k-fold splits, with Nadeau & Bengio's corrected
  variance (1/J + n_test/n_train)·σ² (the splits share training rows);
* ``CrossedTEstimate`` — the mean of a (seeds × users) table of paired differences, seeds and users both random
  (two-way ANOVA variance of the grand mean, Satterthwaite's degrees of freedom);
* ``BootstrapEstimate`` — a point value and its percentile-bootstrap draws over whole clusters (records).

*What would decide it* (``units_to_decide``) assumes the observed effect is the true one and that the interval's
width scales as 1/√n in the sampling unit: for a t-interval the closed form n = (t₍ₙ₋₁₎·s / δ)², solved with the
t quantile of n itself; for a bootstrap the width at n units scaled by √(n / n'); for the corrected resampled t-test
its own variance, whose floor n_test/n_train · σ² more repeats cannot lower — only more rows (employees) can.
An estimate may know its ``population``, the most units the data can have (the users of a data set, MIT-BIH's
records, a survey's employees): a need past it reads "cannot be settled on this data" (``within_population``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def _t():
    from scipy import stats
    return stats.t


@dataclass(frozen=True)
class Decide:
    """How many sampling units would decide an inconclusive verdict at the observed effect."""

    unit: str
    needed: float  # inf: no number of units decides an effect that sits on the threshold
    have: int
    text: str
    population: int | None = None  # how many units the data can have at most (None: no limit known)

    @property
    def settleable(self) -> bool:
        """Could more units of this data settle it? False when it needs more than the data can ever have."""
        return not math.isinf(self.needed) and (self.population is None or self.needed <= self.population)

    def as_dict(self) -> dict:
        return {"unit": self.unit, "needed": None if math.isinf(self.needed) else int(self.needed), "have": self.have,
                "text": self.text, "population": self.population, "settleable": self.settleable}


def within_population(decide: Decide, population: int | None) -> Decide:
    """``decide`` compared with the population the data can have: past it, the verdict cannot be settled on it."""
    if population is None or math.isinf(decide.needed):
        return decide
    if decide.needed <= population:
        return Decide(decide.unit, decide.needed, decide.have, decide.text, population)
    return Decide(decide.unit, decide.needed, decide.have,
                  f"cannot be settled on this data: about {_count(decide.needed)} {decide.unit} would be needed, and "
                  f"the data has {population:,} at most", population)


def _count(n: float) -> str:
    """Round a needed count for reading: 31 → "31", 1,287 → "1,300"."""
    if n >= 1000:
        return f"{round(n, -2):,.0f}"
    if n >= 100:
        return f"{round(n, -1):,.0f}"
    return f"{math.ceil(n):,.0f}"


def _decide_text(unit: str, needed: float, have: int) -> Decide:
    if math.isinf(needed):
        return Decide(unit, needed, have, f"no number of {unit} (the effect sits on the threshold)")
    return Decide(unit, needed, have, f"about {_count(needed)} {unit} (has {have:,})")


def _stabilise(x: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """arcsin √x of ``x`` rescaled from ``bounds`` to [0, 1]: the variance-stabilising map of a bounded measure."""
    low, high = bounds
    return np.arcsin(np.sqrt(np.clip((x - low) / (high - low), 0.0, 1.0)))


def bounded_t_interval(values: np.ndarray, bounds: tuple[float, float], level: float = 0.95
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The interval of the mean of a measure in ``bounds`` over the last axis of ``values`` (vectorised over the
    others): the t-interval intersected with the range, widened where the variance-stabilised t-interval reaches
    further (see ``TEstimate``)."""
    values = np.asarray(values, dtype=float)
    n = values.shape[-1]
    t = float(_t().ppf(0.5 + level / 2, n - 1))
    half = t * values.std(axis=-1, ddof=1) / math.sqrt(n)
    mean = values.mean(axis=-1)
    z = _stabilise(values, bounds)
    z_mean, z_half = z.mean(axis=-1), t * z.std(axis=-1, ddof=1) / math.sqrt(n)
    low, high = bounds

    def back(w):
        return low + (high - low) * np.sin(np.clip(w, 0.0, np.pi / 2)) ** 2

    return (np.minimum(np.maximum(mean - half, low), back(z_mean - z_half)),
            np.maximum(np.minimum(mean + half, high), back(z_mean + z_half)))


@dataclass(frozen=True)
class TEstimate:
    """The mean of ``n`` per-unit values with standard deviation ``sd``: t-test and t-interval over the units.

    ``bounds`` is the range of the measure (a share, a distance, a capture: (0, 1); a difference of two: (−1, 1)).
    Its interval is the t-interval intersected with the range, widened where the variance-stabilised one reaches
    further: the t-interval of arcsin √x (x rescaled to [0, 1]) mapped back, which lies in the range by
    construction and is asymmetric where the values crowd a bound. Near a bound, with 2–5 seeds, the plain
    t-interval alone covers the mean of a skewed measure 89% of the time at 95% (``bench_interval_coverage``);
    the union covers ≥ 91%. Its p-value is the larger of the two t-tests', so the verdict read from the p-value and
    the one read from the interval agree.
    """

    value: float
    sd: float
    n: int
    unit: str
    values: np.ndarray | None = field(default=None, compare=False, repr=False)
    bounds: tuple[float, float] | None = None
    population: int | None = None  # how many units the data can have (users in the data set, records in MIT-BIH)

    @classmethod
    def of(cls, values, unit: str, *, bounds: tuple[float, float] | None = None,
           population: int | None = None) -> TEstimate:
        values = np.asarray(values, dtype=float)
        values = values[np.isfinite(values)]
        sd = float(values.std(ddof=1)) if values.size > 1 else math.nan
        return cls(float(values.mean()) if values.size else math.nan, sd, int(values.size), unit, values, bounds,
                   population)

    @property
    def se(self) -> float:
        return self.sd / math.sqrt(self.n) if self.n > 1 else math.nan

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        if self.n < 2 or math.isnan(self.sd):
            return math.nan, math.nan
        if self.bounds is not None and self.values is not None and all(map(math.isfinite, self.bounds)):
            low, high = bounded_t_interval(self.values, self.bounds, level)
            return float(low), float(high)
        half = float(_t().ppf(0.5 + level / 2, self.n - 1)) * self.se
        if self.bounds is not None:  # a one-sided range (a ratio ≥ 0): the t-interval, clipped
            return max(self.value - half, self.bounds[0]), min(self.value + half, self.bounds[1])
        return self.value - half, self.value + half

    def text(self, fmt: str = "{:.3f}", level: float = 0.95) -> str:
        """"0.512 ± 0.031" (the t-interval's half-width), "0.012 [0.000, 0.045]" where the measure's range shaped
        the interval, or the mean alone with one unit; no line break inside."""
        if self.n < 2 or math.isnan(self.sd):
            return fmt.format(self.value)
        low, high = self.interval(level)
        half = float(_t().ppf(0.5 + level / 2, self.n - 1)) * self.se
        if not (math.isclose(low, self.value - half) and math.isclose(high, self.value + half)):
            return f"{fmt.format(self.value)}\u00a0[{fmt.format(low)},\u00a0{fmt.format(high)}]"
        return f"{fmt.format(self.value)}\u00a0±\u00a0{fmt.format(half)}"

    def p_value(self, threshold: float) -> float:
        """Two-sided p of the t-test of mean = ``threshold`` (1 when there is no spread and no distance)."""
        if self.n < 2 or math.isnan(self.sd):
            return math.nan
        distance = self.value - threshold
        if self.sd == 0:
            return 1.0 if distance == 0 else 0.0
        p = float(2 * _t().sf(abs(distance) / self.se, self.n - 1))
        if self.bounds is not None and self.values is not None and all(map(math.isfinite, self.bounds)):  # (see
            # bounded_t_interval): the same test on the stabilised scale; the larger p matches the union interval
            z, z_threshold = _stabilise(self.values, self.bounds), _stabilise(np.float64(threshold), self.bounds)
            z_sd = float(z.std(ddof=1))
            z_p = (1.0 if z.mean() == z_threshold else 0.0) if z_sd == 0 else \
                float(2 * _t().sf(abs(z.mean() - z_threshold) / (z_sd / math.sqrt(z.size)), z.size - 1))
            p = max(p, z_p)
        return p

    def units_to_decide(self, threshold: float, level: float) -> Decide:
        """The fewest units n with t₍ₙ₋₁₎(level)·sd / √n < |value − threshold| (the interval clears the threshold)."""
        distance = abs(self.value - threshold)
        if self.n < 2:
            return Decide(self.unit, 2, self.n, f"needs at least 2 {self.unit} for an interval (has {self.n})")
        if distance == 0 or math.isnan(self.sd):
            return _decide_text(self.unit, math.inf, self.n)

        def decides(n: int) -> bool:
            return float(_t().ppf(0.5 + level / 2, n - 1)) * self.sd / math.sqrt(n) < distance

        high = max(self.n, 2)
        while not decides(high) and high < 10**12:  # half-width ∝ t(n)/√n falls with n: double to a deciding n
            high *= 2
        low = max(2, high // 2)
        while low < high:  # then the fewest n that decides
            middle = (low + high) // 2
            low, high = (low, middle) if decides(middle) else (middle + 1, high)
        return _decide_text(self.unit, high, self.n)

    @property
    def identical(self) -> bool:
        """Every unit measured exactly zero: the two arms of a difference never differed."""
        return self.values is not None and self.values.size > 0 and bool(np.all(self.values == 0))


@dataclass(frozen=True)
class CorrectedTEstimate:
    """The mean difference over ``splits`` repeated k-fold splits with the corrected resampled t variance
    (1/J + ``ratio``)·sd², ``ratio`` = n_test / n_train; ``rows`` employees (or other rows) behind the splits."""

    value: float
    sd: float
    splits: int
    ratio: float
    rows: int
    unit: str = "employees"
    values: np.ndarray | None = field(default=None, compare=False, repr=False)
    population: int | None = None  # rows the data can have (a survey's size, a real table's rows)

    @classmethod
    def of(cls, differences, *, ratio: float, rows: int, unit: str = "employees",
           population: int | None = None) -> CorrectedTEstimate:
        values = np.asarray(differences, dtype=float)
        values = values[np.isfinite(values)]
        sd = float(values.std(ddof=1)) if values.size > 1 else math.nan
        return cls(float(values.mean()) if values.size else math.nan, sd, int(values.size), ratio, rows, unit, values,
                   population)

    @property
    def n(self) -> int:
        return self.rows

    @property
    def se(self) -> float:
        return math.sqrt((1 / self.splits + self.ratio) * self.sd**2) if self.splits > 1 else math.nan

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        if self.splits < 2 or math.isnan(self.sd):
            return math.nan, math.nan
        half = float(_t().ppf(0.5 + level / 2, self.splits - 1)) * self.se
        return self.value - half, self.value + half

    def p_value(self, threshold: float) -> float:
        if self.splits < 2 or math.isnan(self.sd):
            return math.nan
        distance = self.value - threshold
        if self.se == 0:
            return 1.0 if distance == 0 else 0.0
        return float(2 * _t().sf(abs(distance) / self.se, self.splits - 1))

    def units_to_decide(self, threshold: float, level: float) -> Decide:
        """More repeats shrink only the 1/J part of the variance; more rows shrink σ² itself (a split's difference
        varies as 1/n_test). Says whether repeats can decide it, and how many rows would at the current repeats."""
        distance = abs(self.value - threshold)
        if distance == 0 or math.isnan(self.sd) or self.splits < 2:
            return _decide_text(self.unit, math.inf, self.rows)
        t = float(_t().ppf(0.5 + level / 2, self.splits - 1))
        rows = self.rows * (t * self.se / distance) ** 2  # at these repeats, σ² ∝ 1 / rows
        if t * math.sqrt(self.ratio) * self.sd >= distance:  # the half-width with infinitely many repeats
            text = f"repeats cannot (the variance floor); about {_count(rows)} {self.unit} (has {self.rows:,})"
        else:
            splits = 1 / ((distance / (t * self.sd)) ** 2 - self.ratio)
            text = f"about {_count(splits)} splits (has {self.splits}) or {_count(rows)} {self.unit} (has {self.rows:,})"
        return Decide(self.unit, rows, self.rows, text)

    @property
    def identical(self) -> bool:
        return self.values is not None and self.values.size > 0 and bool(np.all(self.values == 0))


@dataclass(frozen=True)
class CrossedTEstimate:
    """The grand mean of a (seeds × users) table of paired differences, with seeds and users both random.

    Every seed scores the same users, so the two factors are crossed: d_su = μ + a_s + b_u + e_su. From the two-way
    ANOVA mean squares (seeds MS_S, users MS_U, residual MS_E) the variance components are σ²_seed = (MS_S − MS_E)/U
    and σ²_user = (MS_U − MS_E)/S, each floored at zero, and the variance of the grand mean is σ²_seed / S +
    σ²_user / U + σ²_e / (S·U). Its degrees of freedom are Satterthwaite's for MS_S + MS_U − MS_E, every mean square
    kept in the sum whatever the floors, so neither the variance nor the degrees of freedom jump when a component
    crosses zero. A seed that lifts every user at once (training luck) widens the interval through MS_S, which a
    paired test over users on one trained model cannot see. One seed cannot estimate training luck: it gives no
    interval, and the verdict asks for a second seed. More users cannot be had (the data set's), so
    ``units_to_decide`` counts seeds.
    """

    value: float
    se: float
    df: float
    seeds: int
    users: int
    var_seed: float  # σ²_seed, floored at 0
    var_user: float  # σ²_user, floored at 0
    var_error: float  # σ²_e (MS_E)
    bounds: tuple[float, float] | None = None
    unit: str = "seeds"
    population: int | None = None

    @classmethod
    def of(cls, table, *, bounds: tuple[float, float] | None = None) -> CrossedTEstimate:
        d = np.atleast_2d(np.asarray(table, dtype=float))
        d = d[:, np.all(np.isfinite(d), axis=0)]
        s, u = d.shape
        mean = float(d.mean()) if d.size else math.nan
        if s < 2 or u < 2:
            return cls(mean, math.nan, math.nan, s, u, math.nan, math.nan, math.nan, bounds)
        by_user, by_seed = d.mean(axis=0), d.mean(axis=1)
        ms_seed = u * float(np.sum((by_seed - mean) ** 2)) / (s - 1)
        ms_user = s * float(np.sum((by_user - mean) ** 2)) / (u - 1)
        residual = d - by_seed[:, None] - by_user[None, :] + mean
        ms_error = float(np.sum(residual**2)) / ((s - 1) * (u - 1))
        var_seed, var_user = max(ms_seed - ms_error, 0.0) / u, max(ms_user - ms_error, 0.0) / s
        variance = var_seed / s + var_user / u + ms_error / (s * u)
        return cls(mean, math.sqrt(variance), _satterthwaite(variance * s * u, ms_seed, ms_user, ms_error, s, u), s, u,
                   var_seed, var_user, ms_error, bounds)

    @property
    def n(self) -> int:
        return self.seeds

    @property
    def sampling(self) -> str:
        """What the interval is over, for its note: "3 seeds × 671 users"."""
        return f"{self.seeds} seed{'s' * (self.seeds != 1)} × {self.users:,} users"

    def _t(self, level: float, df: float | None = None) -> float:
        df = self.df if df is None else df
        return float(_t().ppf(0.5 + level / 2, df)) if math.isfinite(df) else 1.959963984540054

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        if math.isnan(self.se):
            return math.nan, math.nan
        half = self._t(level) * self.se
        low, high = self.value - half, self.value + half
        if self.bounds is not None:
            low, high = max(low, self.bounds[0]), min(high, self.bounds[1])
        return low, high

    def p_value(self, threshold: float) -> float:
        if math.isnan(self.se):
            return math.nan
        distance = self.value - threshold
        if self.se == 0:
            return 1.0 if distance == 0 else 0.0
        return float(2 * _t().sf(abs(distance) / self.se, self.df))

    def _projected(self, seeds: int) -> tuple[float, float]:
        """(standard error, degrees of freedom) at ``seeds`` seeds of the same users, from the components."""
        u = self.users
        variance = self.var_seed / seeds + self.var_user / u + self.var_error / (seeds * u)
        ms_seed, ms_user = self.var_error + u * self.var_seed, self.var_error + seeds * self.var_user
        return math.sqrt(variance), _satterthwaite(variance * seeds * u, ms_seed, ms_user, self.var_error, seeds, u)

    def units_to_decide(self, threshold: float, level: float) -> Decide:
        """The fewest seeds whose projected interval (standard error and Satterthwaite degrees of freedom from the
        variance components) clears the threshold at the observed effect, the users fixed. σ²_user / U is a floor
        more seeds cannot lower: past it, no number of seeds decides it."""
        distance = abs(self.value - threshold)
        if self.seeds < 2:
            return Decide(self.unit, 2, self.seeds, f"needs at least 2 {self.unit} for an interval that includes "
                          f"training luck (has {self.seeds})")
        if distance == 0 or math.isnan(self.se):
            return _decide_text(self.unit, math.inf, self.seeds)
        if _normal_quantile(level) * math.sqrt(self.var_user / self.users) >= distance:
            return Decide(self.unit, math.inf, self.seeds, f"more seeds cannot (the {self.users:,} users' variance "
                          "floor): it cannot be settled on this data")

        def decides(seeds: int) -> bool:
            se, df = self._projected(seeds)
            return self._t(level, df) * se < distance

        high = self.seeds + 1
        while not decides(high) and high < 10**6:
            high *= 2
        if not decides(high):
            return _decide_text(self.unit, math.inf, self.seeds)
        low = max(self.seeds + 1, high // 2)
        while low < high:
            middle = (low + high) // 2
            low, high = (low, middle) if decides(middle) else (middle + 1, high)
        return _decide_text(self.unit, high, self.seeds)

    @property
    def identical(self) -> bool:
        return self.se == 0 and self.value == 0


def _normal_quantile(level: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(0.5 + level / 2))


def _satterthwaite(total: float, ms_seed: float, ms_user: float, ms_error: float, seeds: int, users: int) -> float:
    """Degrees of freedom of ``total`` (the grand mean's variance × S·U) as a sum of the three mean squares."""
    squares = ms_seed**2 / (seeds - 1) + ms_user**2 / (users - 1) + ms_error**2 / ((seeds - 1) * (users - 1))
    return total**2 / squares if squares > 0 else math.inf


@dataclass(frozen=True)
class BootstrapEstimate:
    """A point value and its cluster-bootstrap draws (``n`` clusters: records, users): percentile intervals."""

    value: float
    draws: np.ndarray = field(compare=False, repr=False)
    n: int
    unit: str
    population: int | None = None  # clusters the data can have (MIT-BIH's 44 non-paced records)

    def _finite(self) -> np.ndarray:
        draws = np.asarray(self.draws, dtype=float)
        return draws[np.isfinite(draws)]

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        from expbook.metrics.bootstrap import percentile_interval

        return percentile_interval(self.draws, level)

    def p_value(self, threshold: float) -> float:
        """Two-sided bootstrap p: twice the share of draws on the far side of ``threshold`` ((1 + k) / (B + 1))."""
        draws = self._finite()
        if not draws.size or math.isnan(self.value):
            return math.nan
        beyond = np.sum(draws <= threshold) if self.value > threshold else np.sum(draws >= threshold)
        return float(min(1.0, 2 * (1 + beyond) / (draws.size + 1)))

    def units_to_decide(self, threshold: float, level: float) -> Decide:
        distance = abs(self.value - threshold)
        low, high = self.interval(level)
        half = (self.value - low) if self.value > threshold else (high - self.value)
        if distance == 0 or math.isnan(half):
            return _decide_text(self.unit, math.inf, self.n)
        return _decide_text(self.unit, self.n * (half / distance) ** 2, self.n)

    @property
    def identical(self) -> bool:
        draws = self._finite()
        return self.value == 0 and draws.size > 0 and bool(np.all(draws == 0))


Estimate = TEstimate | CorrectedTEstimate | CrossedTEstimate | BootstrapEstimate


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (reject H_i at level α when adjusted p_i < α); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, math.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    order = finite[np.argsort(p[finite], kind="stable")]
    steps = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted[order] = np.minimum(steps, 1.0)
    return adjusted
