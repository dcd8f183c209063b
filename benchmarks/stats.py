"""Summaries of repeated timings: medians with their spread, paired ratios, exponents."""

import numpy as np


def spread(values):
    """(median, min, max) of a non-empty sequence."""
    v = np.asarray(values, dtype=np.float64)
    return float(np.median(v)), float(v.min()), float(v.max())


def paired_ratios(seconds_a, seconds_b):
    """Per-repeat ratios seconds_b / seconds_a, i.e. how many times faster a is than b.

    Repeats are interleaved (a b c a b c ...), so the r-th times of two
    contenders were taken seconds apart, under the same machine load; their
    ratio is much steadier than a ratio of two medians taken minutes apart.
    """
    a = np.asarray(seconds_a, dtype=np.float64)
    b = np.asarray(seconds_b, dtype=np.float64)
    n = min(len(a), len(b))
    return (b[:n] / a[:n]).tolist()


def cost_exponent(n_weights, seconds_per_sample):
    """Slope p of log(time per sample) = p log(n_weights) + c, least squares.

    p ~ 1 means the cost grows in proportion to the weights (the cost is the
    weights streaming through the core); p < 1 means a fixed per-sample
    overhead still dominates at the small sizes.
    """
    x = np.log(np.asarray(n_weights, dtype=np.float64))
    y = np.log(np.asarray(seconds_per_sample, dtype=np.float64))
    if len(x) < 2 or np.ptp(x) == 0:
        return float("nan")
    slope, _ = np.polyfit(x, y, 1)
    return float(slope)


def fmt_rate(value):
    """Samples per second, rounded to 3 significant digits, with thousands separators."""
    if not np.isfinite(value):
        return "n/a"
    if value >= 100:
        digits = max(0, int(np.floor(np.log10(value))) - 2)
        return f"{round(value, -digits):,.0f}"
    return f"{value:.3g}"


def fmt_spread(values, fmt=fmt_rate):
    med, lo, hi = spread(values)
    return f"{fmt(med)} [{fmt(lo)}-{fmt(hi)}]"


def fmt_ratio(value):
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"
