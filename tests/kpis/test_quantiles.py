"""The medians and p90 the desk shows are within 1 % of PostgreSQL's exact ``percentile_cont``,
on random and adversarial data, for one histogram and for a sum of many (a range of days)."""

from __future__ import annotations

import random

import pytest
from django.db import connection

from kpis.engine.quantiles import RELATIVE_ERROR, Histogram, key, key_sql

pytestmark = pytest.mark.django_db

DAY = 86_400
rng = random.Random(20261203)

DATASETS = {
    "one value": [3_600],
    "all equal": [7_200] * 1_000,
    "two far apart": [1, 90 * DAY],
    "zeros": [0] * 50 + [60, 120, 3_600],
    "only zeros": [0, 0, 0],
    "heavy tail": [int(rng.paretovariate(0.8) * 60) for _ in range(5_000)],
    "log-normal": [rng.lognormvariate(10, 1.2) for _ in range(5_000)],
    "1 s to 90 days": [rng.uniform(1, 90 * DAY) for _ in range(3_000)] + [1, 90 * DAY],
    "bucket edges": [1.0202**k for k in range(0, 900, 7)],
    "integers near 1": [1, 1, 2, 2, 3, 5, 8],
}


def exact(values: list[float]) -> list[float]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY v) FROM unnest(%s::float8[]) AS v",
            [[float(v) for v in values]],
        )
        return cursor.fetchone()[0]


def within_bound(approximate: float, exact_value: float) -> bool:
    return abs(approximate - exact_value) <= RELATIVE_ERROR * abs(exact_value) + 1e-9


@pytest.mark.parametrize("name", DATASETS)
def test_median_and_p90_are_within_the_bound_of_percentile_cont(name):
    values = DATASETS[name]
    median, p90 = Histogram.of(values).quantiles(0.5, 0.9)
    exact_median, exact_p90 = exact(values)
    assert within_bound(median, exact_median), (median, exact_median)
    assert within_bound(p90, exact_p90), (p90, exact_p90)


def test_a_sum_of_daily_histograms_is_within_the_bound_for_the_whole_range():
    days = [[rng.lognormvariate(9 + day % 3, 1.0) for _ in range(rng.randint(0, 40))] for day in range(45)]
    merged = Histogram()
    for values in days:
        keys, counts = Histogram.of(values).arrays()
        merged.add(keys, counts)
    everything = [value for values in days for value in values]
    assert merged.total == len(everything)
    for approximate, exact_value in zip(merged.quantiles(0.5, 0.9), exact(everything), strict=True):
        assert within_bound(approximate, exact_value)


def test_the_bound_is_tight_enough_to_matter():
    """A wrong bucket would be off by about 2 %: the bound is not met by accident."""
    (median,) = Histogram.of([10_000]).quantiles(0.5)
    assert median != 10_000 and within_bound(median, 10_000)
    assert not within_bound(median * 1.0202, 10_000)


def test_an_empty_histogram_has_no_median():
    assert Histogram().quantiles(0.5, 0.9) == [None, None]


def test_postgresql_puts_every_duration_in_the_same_bucket_as_python():
    values = [0, 0.5, 1, 1.5, 59, 60, 3_599, 3_600, 86_399.5, 90 * DAY] + DATASETS["bucket edges"]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {key_sql('v')} FROM unnest(%s::float8[]) WITH ORDINALITY AS u(v, n) ORDER BY n",
                       [[float(v) for v in values]])  # fmt: skip
        in_sql = [row[0] for row in cursor.fetchall()]
    assert in_sql == [key(value) for value in values]
