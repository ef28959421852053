"""Medians and p90 of durations with a guaranteed bound: mergeable log-bucket histograms.

The DDSketch construction (Masson, Rim & Lee, VLDB 2019). A duration of ``x`` seconds falls in
bucket ``ceil(log_γ x)``, with ``γ = (1 + α) / (1 − α)``; every value of bucket ``k`` lies in
``(γ^(k−1), γ^k]``, and reading the bucket as ``2γ^k / (γ + 1)`` is within ``α`` of each of them.
Durations under one second fall in bucket −1 and read as 0 (they are the contacts logged on the
call itself, at the request time).

A histogram is two sorted arrays, the bucket keys and their counts: the engine stores one per day
and slice (``KPIValue.hist_keys`` / ``hist_counts``), and the histogram of any range or any set
of slices is their sum — adding counts is exact, so the bound holds for a range as for a day.

A quantile is interpolated between the two order statistics around its rank, with the weights of
``percentile_cont``: each is read within ``α``, so their weighted mean is within ``α`` of the exact
``percentile_cont`` whatever the data (``tests/kpis/test_quantiles.py`` holds it to that).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

#: The relative error of every median and p90 the desk shows: 1 %.
RELATIVE_ERROR = 0.01
GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
LOG_GAMMA = math.log(GAMMA)
#: Durations below one second: read as 0.
ZERO_KEY = -1


def key(seconds: float) -> int:
    """The bucket of a duration (the SQL of ``key_sql`` computes the same)."""
    if seconds < 1:
        return ZERO_KEY
    return math.ceil(math.log(seconds) / LOG_GAMMA)


def key_sql(seconds_sql: str) -> str:
    """``key`` in SQL, over an expression giving seconds as a float (NULL stays NULL)."""
    return f"(CASE WHEN ({seconds_sql}) < 1 THEN {ZERO_KEY} ELSE ceil(ln({seconds_sql}) / {LOG_GAMMA!r})::int END)"


def estimate(bucket: int) -> float:
    """The value a bucket is read as: within ``RELATIVE_ERROR`` of every duration in it."""
    if bucket <= ZERO_KEY:
        return 0.0
    return 2 * GAMMA**bucket / (GAMMA + 1)


class Histogram:
    """Counts by bucket; ``add`` merges a stored histogram in."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}

    @classmethod
    def of(cls, values: Iterable[float]) -> Histogram:
        histogram = cls()
        for value in values:
            bucket = key(value)
            histogram.counts[bucket] = histogram.counts.get(bucket, 0) + 1
        return histogram

    def add(self, keys: Sequence[int] | None, counts: Sequence[int] | None) -> None:
        if not keys:
            return
        found = self.counts
        for bucket, count in zip(keys, counts or (), strict=True):
            found[bucket] = found.get(bucket, 0) + count

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def arrays(self) -> tuple[list[int], list[int]]:
        keys = sorted(self.counts)
        return keys, [self.counts[bucket] for bucket in keys]

    def quantiles(self, *qs: float) -> list[float | None]:
        """Each quantile (0 ≤ q ≤ 1) in seconds, as ``percentile_cont`` places it; None when empty."""
        total = self.total
        if not total:
            return [None] * len(qs)
        ordered = sorted(self.counts.items())

        def order_statistic(rank: int) -> float:  # the value of the rank-th smallest (0-based)
            seen = 0
            for bucket, count in ordered:
                seen += count
                if seen > rank:
                    return estimate(bucket)
            return estimate(ordered[-1][0])

        found: list[float | None] = []
        for q in qs:
            rank = q * (total - 1)
            low = math.floor(rank)
            below = order_statistic(low)
            above = order_statistic(low + 1) if rank > low else below
            found.append(below + (rank - low) * (above - below))
        return found
