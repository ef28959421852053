"""A run's stage and its swap into ``kpis_kpivalue``.

A run writes its rows into a temporary stage table, then, at the end of its transaction, deletes
the stored rows of the periods it recomputed and inserts its own: a run killed half-way leaves the
previous values in place, and readers never see half a run.
"""

from __future__ import annotations

from datetime import date

from django.db import connection

#: A run writes its rows here, then swaps them into ``kpis_kpivalue`` at the end (``publish``).
STAGE = "kpi_stage"
COLUMNS = (
    "kpi, granularity, period_start, dimension, dimension_value, "
    "numerator, negative, denominator, value, hist_keys, hist_counts, computed_at"
)


def create_stage() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS SELECT {COLUMNS} FROM kpis_kpivalue WITH NO DATA")


def publish(replaced: list[tuple[str, list[date], list[str]]]) -> None:
    """Swap the run's rows in: every stored row of the periods it recomputed goes (slices that had
    figures and now have none, such as a team a ticket moved away from, go with them), and the
    run's rows come in. A plain delete and insert: far cheaper than an upsert row by row."""
    with connection.cursor() as cursor:
        for granularity, starts, keys in replaced:
            if starts:
                cursor.execute(
                    "DELETE FROM kpis_kpivalue WHERE granularity = %s AND period_start = ANY(%s) AND kpi = ANY(%s)",
                    [granularity, starts, keys],
                )
        cursor.execute(f"INSERT INTO kpis_kpivalue ({COLUMNS}) SELECT {COLUMNS} FROM {STAGE}")
