"""The statistics of a robustness summary, from scipy.stats: Wilson intervals, Spearman's rho, quantiles."""

from __future__ import annotations

import numpy as np

#: Two-sided 95 % standard-normal quantile, for Wilson score intervals.
Z95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Return the Wilson score interval of a binomial proportion (95 % by default), from scipy.stats."""
    if trials == 0:
        return 0.0, 1.0
    from scipy import stats

    confidence = 2 * float(stats.norm.cdf(z)) - 1
    ci = stats.binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="wilson")
    low = 0.0 if successes == 0 else max(0.0, float(ci.low))
    high = 1.0 if successes == trials else min(1.0, float(ci.high))
    return low, high


def spearman_matrix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return Spearman's rho between every column of x and every column of y (NaN when constant).

    scipy.stats.spearmanr on the columns of both; ties get average ranks, infinities rank last.
    """
    if len(x) < 3:
        return np.full((x.shape[1], y.shape[1]), np.nan)
    import warnings

    from scipy import stats

    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        statistic = stats.spearmanr(x, y, axis=0).statistic
    if np.ndim(statistic) == 0:  # one column each: scipy returns the coefficient itself
        return np.full((1, 1), float(statistic))
    rho: np.ndarray = np.array(statistic[: x.shape[1], x.shape[1] :], dtype=float)
    return rho


def sample_quantile(values: np.ndarray, p: float) -> float:
    """Return the sample quantile `p` of `values`: a value that occurs (margins may be infinite)."""
    return float(np.quantile(values, p, method="inverted_cdf"))
