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
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import accumulate

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
    """A sum of stored histograms (``add``), kept as the stored sorted arrays: a quantile is found by
    bisecting each one's running counts (C-speed ``accumulate`` and ``bisect``) rather than by adding
    every bucket of every histogram one by one — a dashboard merges a thousand of them per view."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        #: (sorted bucket keys, running counts) of each histogram added
        self.parts: list[tuple[Sequence[int], list[int]]] = []

    @classmethod
    def of(cls, values: Iterable[float]) -> Histogram:
        counts: dict[int, int] = {}
        for value in values:
            bucket = key(value)
            counts[bucket] = counts.get(bucket, 0) + 1
        histogram = cls()
        keys = sorted(counts)
        histogram.add(keys, [counts[bucket] for bucket in keys])
        return histogram

    def add(self, keys: Sequence[int] | None, counts: Sequence[int] | None) -> None:
        if keys:
            self.parts.append((keys, list(accumulate(counts or ()))))

    @property
    def total(self) -> int:
        return sum(running[-1] for _keys, running in self.parts)

    def arrays(self) -> tuple[list[int], list[int]]:
        """The sum as one pair of sorted arrays (bucket keys, counts)."""
        summed: dict[int, int] = {}
        for keys, running in self.parts:
            previous = 0
            for bucket, upto in zip(keys, running, strict=True):
                summed[bucket] = summed.get(bucket, 0) + upto - previous
                previous = upto
        keys = sorted(bucket for bucket, count in summed.items() if count)
        return keys, [summed[bucket] for bucket in keys]

    def _at_most(self, bucket: int) -> int:
        """How many durations fall in buckets up to ``bucket``."""
        found = 0
        for keys, running in self.parts:
            at = bisect_right(keys, bucket)
            if at:
                found += running[at - 1]
        return found

    def _order_statistic(self, rank: int, low: int, high: int) -> float:
        """The value of the rank-th smallest duration (0-based): the first bucket holding more than
        ``rank`` durations at or below it, by bisection over the bucket keys."""
        while low < high:
            middle = (low + high) // 2
            if self._at_most(middle) > rank:
                high = middle
            else:
                low = middle + 1
        return estimate(low)

    def quantiles(self, *qs: float) -> list[float | None]:
        """Each quantile (0 ≤ q ≤ 1) in seconds, as ``percentile_cont`` places it; None when empty."""
        total = self.total
        if not total:
            return [None] * len(qs)
        low = min(keys[0] for keys, _running in self.parts)
        high = max(keys[-1] for keys, _running in self.parts)
        found: list[float | None] = []
        for q in qs:
            rank = q * (total - 1)
            below_rank = math.floor(rank)
            below = self._order_statistic(below_rank, low, high)
            above = self._order_statistic(below_rank + 1, low, high) if rank > below_rank else below
            found.append(below + (rank - below_rank) * (above - below))
        return found
