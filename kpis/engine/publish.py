"""A run's stage and its swap into ``kpis_kpivalue``.

A run writes its rows into a temporary stage table, then, at the end of its transaction, deletes
the stored rows of the periods it recomputed and inserts its own: a run killed half-way leaves the
previous values in place, and readers never see half a run.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, datetime

from django.db import connection

from kpis.registry import KPI, Kind

#: What a cost's delta is counted in (``contributions.CENTS``).
CENTS = 100

#: A run writes its rows here, then swaps them into ``kpis_kpivalue`` at the end (``publish``).
STAGE = "kpi_stage"
COLUMNS = (
    "kpi, granularity, period_start, dimension, dimension_value, "
    "numerator, negative, denominator, source_rows, value, hist_keys, hist_counts, computed_at"
)


def create_stage() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS SELECT {COLUMNS} FROM kpis_kpivalue WITH NO DATA")


def publish(replaced: list[tuple[str, list[date], list[str]]], *, everything: bool = False) -> None:
    """Swap the run's rows in: every stored row of the periods it recomputed (or ``everything``
    stored, for a full run) goes (slices that had figures and now have none, such as a team a
    ticket moved away from, go with them), and the run's rows come in. A plain delete and insert:
    far cheaper than an upsert row by row."""
    with connection.cursor() as cursor:
        if everything:
            cursor.execute("DELETE FROM kpis_kpivalue")
            replaced = []
        for granularity, starts, keys in replaced:
            if starts:
                cursor.execute(
                    "DELETE FROM kpis_kpivalue WHERE granularity = %s AND period_start = ANY(%s) AND kpi = ANY(%s)",
                    [granularity, starts, keys],
                )
        cursor.execute(f"INSERT INTO kpis_kpivalue ({COLUMNS}) SELECT {COLUMNS} FROM {STAGE}")


def create_deltas() -> None:
    """The run's deltas, every source's (``contributions.compute_delta`` adds to them)."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS kpi_delta, kpi_hist_delta")
        cursor.execute(
            "CREATE TEMP TABLE kpi_delta (kpi text, period date, dimension text, dimension_value text, "
            "num float8, neg float8, den float8, rows bigint) ON COMMIT DROP"
        )
        cursor.execute(
            "CREATE TEMP TABLE kpi_hist_delta (kpi text, period date, dimension text, dimension_value text, "
            "bucket int, n bigint) ON COMMIT DROP"
        )


def apply_deltas(kpis: list[KPI], computed_at: datetime) -> int:
    """Add the run's deltas (``kpi_delta``: parts by KPI, day and slice; ``kpi_hist_delta``:
    bucket counts) to the stored day, week and month values, in place: each touched value's parts
    become its stored parts plus the delta, its figure is derived again, its histogram merged
    bucket by bucket; a value whose slice has no rows left goes, as a full run would not have it.
    Returns the number of values written or removed."""
    by_kind = " ".join(
        f"WHEN '{kpi.key}' THEN {kpi.kind.figure_sql('m.numerator', 'm.denominator', 'm.negative')}" for kpi in kpis
    )
    costs = [kpi.key for kpi in kpis if kpi.kind is Kind.SUM]
    # A cost's delta is in cents: the sum of whole cents, in yuan, as a full run stores it.
    numerator = (
        f"CASE WHEN k.kpi = ANY(%(costs)s) THEN (round(COALESCE(v.numerator, 0) * {CENTS}) "
        f"+ COALESCE(d.num, 0)) / {CENTS}.0 ELSE COALESCE(v.numerator, 0) + COALESCE(d.num, 0) END"
    )
    key = ("granularity", "kpi", "period", "dimension", "dimension_value")
    stored = (
        "v.granularity = k.granularity AND v.kpi = k.kpi AND v.period_start = k.period "
        "AND v.dimension = k.dimension AND v.dimension_value = k.dimension_value"
    )

    def same(row: str) -> str:
        return " AND ".join(f"{row}.{column} = k.{column}" for column in key)

    granularities = "(VALUES ('day'), ('week'), ('month')) AS g(granularity)"
    statements = [
        "DROP TABLE IF EXISTS kpi_d, kpi_hd, kpi_hk, kpi_hm_arrays, kpi_hm, kpi_merged",
        f"""CREATE TEMP TABLE kpi_d ON COMMIT DROP AS
           SELECT g.granularity, kpi, date_trunc(g.granularity, period)::date AS period, dimension, dimension_value,
                  SUM(num) AS num, SUM(neg) AS neg, SUM(den) AS den, SUM(rows) AS rows
           FROM kpi_delta CROSS JOIN {granularities} GROUP BY 1, 2, 3, 4, 5""",
        f"""CREATE TEMP TABLE kpi_hd ON COMMIT DROP AS
           SELECT g.granularity, kpi, date_trunc(g.granularity, period)::date AS period, dimension, dimension_value,
                  bucket, SUM(n) AS n
           FROM kpi_hist_delta CROSS JOIN {granularities} GROUP BY 1, 2, 3, 4, 5, 6 HAVING SUM(n) <> 0""",
        # Statistics for the few rows of the deltas: the stored values are then reached by their
        # index, not hashed whole.
        "ANALYZE kpi_d, kpi_hd",
        # The histograms to merge, numbered: their buckets are then summed by two integers.
        """CREATE TEMP TABLE kpi_hk ON COMMIT DROP AS
           SELECT row_number() OVER () AS id, k.* FROM (
               SELECT DISTINCT granularity, kpi, period, dimension, dimension_value FROM kpi_hd) k""",
        MERGE_HISTOGRAMS,
        f"""CREATE TEMP TABLE kpi_merged ON COMMIT DROP AS
           SELECT k.granularity, k.kpi, k.period, k.dimension, k.dimension_value,
                  {numerator} AS numerator,
                  (COALESCE(v.negative, 0) + COALESCE(d.neg, 0))::float AS negative,
                  (COALESCE(v.denominator, 0) + COALESCE(d.den, 0))::float AS denominator,
                  (COALESCE(v.source_rows, 0) + COALESCE(d.rows, 0))::int AS source_rows,
                  CASE WHEN h.kpi IS NULL THEN v.hist_keys ELSE h.keys END AS hist_keys,
                  CASE WHEN h.kpi IS NULL THEN v.hist_counts ELSE h.counts END AS hist_counts
           FROM (SELECT granularity, kpi, period, dimension, dimension_value FROM kpi_d
                 WHERE num <> 0 OR neg <> 0 OR den <> 0 OR rows <> 0
                 UNION SELECT granularity, kpi, period, dimension, dimension_value FROM kpi_hm) k
           LEFT JOIN kpi_d d ON {same("d")}
           LEFT JOIN kpi_hm h ON {same("h")}
           LEFT JOIN kpis_kpivalue v ON {stored}""",
        """DELETE FROM kpis_kpivalue v USING kpi_merged m
           WHERE v.granularity = m.granularity AND v.kpi = m.kpi AND v.period_start = m.period
             AND v.dimension = m.dimension AND v.dimension_value = m.dimension_value AND m.source_rows = 0""",
        f"""INSERT INTO kpis_kpivalue ({COLUMNS})
           SELECT m.kpi, m.granularity, m.period, m.dimension, m.dimension_value, m.numerator, m.negative,
                  m.denominator, m.source_rows, CASE m.kpi {by_kind} END, m.hist_keys, m.hist_counts, %(now)s
           FROM kpi_merged m WHERE m.source_rows > 0
           ON CONFLICT (granularity, dimension, period_start, dimension_value, kpi) DO UPDATE SET
               numerator = EXCLUDED.numerator, negative = EXCLUDED.negative, denominator = EXCLUDED.denominator,
               source_rows = EXCLUDED.source_rows, value = EXCLUDED.value, hist_keys = EXCLUDED.hist_keys,
               hist_counts = EXCLUDED.hist_counts, computed_at = EXCLUDED.computed_at""",
    ]
    written = 0
    with connection.cursor() as cursor:
        for sql in statements:
            if sql is MERGE_HISTOGRAMS:
                _merge_histograms(cursor, stored)
                continue
            cursor.execute(sql, {"now": computed_at, "costs": costs})
            if sql.lstrip().startswith(("DELETE", "INSERT")):
                written += cursor.rowcount
    return written


#: The step of ``apply_deltas`` done in Python (``_merge_histograms``).
MERGE_HISTOGRAMS = "-- merge the histograms"


def _merge_histograms(cursor, stored: str) -> None:
    """``kpi_hm``: each touched histogram (``kpi_hk``) with its bucket deltas (``kpi_hd``) added.
    A stored histogram is sorted and a delta touches a few of its buckets: merged here in one
    pass each, rather than every bucket of every histogram unnested and summed in SQL."""
    cursor.execute(
        "SELECT k.id, h.bucket, h.n::bigint FROM kpi_hd h JOIN kpi_hk k ON h.granularity = k.granularity "
        "AND h.kpi = k.kpi AND h.period = k.period AND h.dimension = k.dimension "
        "AND h.dimension_value = k.dimension_value"
    )
    deltas: dict[int, dict[int, int]] = {}
    for histogram, bucket, n in cursor.fetchall():
        deltas.setdefault(histogram, {})[bucket] = n
    cursor.execute(f"SELECT k.id, v.hist_keys, v.hist_counts FROM kpi_hk k JOIN kpis_kpivalue v ON {stored}")
    found = {histogram: (keys or [], counts or []) for histogram, keys, counts in cursor.fetchall()}
    cursor.execute("CREATE TEMP TABLE kpi_hm_arrays (id bigint, keys smallint[], counts int[]) ON COMMIT DROP")
    with cursor.copy("COPY kpi_hm_arrays (id, keys, counts) FROM STDIN") as copy:
        for histogram, delta in deltas.items():
            keys, counts = found.get(histogram, ([], []))
            for bucket, n in sorted(delta.items()):
                at = bisect_left(keys, bucket)
                if at < len(keys) and keys[at] == bucket:
                    counts[at] += n
                    if not counts[at]:
                        del keys[at], counts[at]
                else:
                    keys.insert(at, bucket)
                    counts.insert(at, n)
            # Written as COPY text: far faster than adapting each list element by element.
            arrays = "\t".join("{" + ",".join(map(str, values)) + "}" if keys else "\\N" for values in (keys, counts))
            copy.write(f"{histogram}\t{arrays}\n")
    cursor.execute(
        "CREATE TEMP TABLE kpi_hm ON COMMIT DROP AS SELECT k.granularity, k.kpi, k.period, k.dimension, "
        "k.dimension_value, a.keys, a.counts FROM kpi_hk k JOIN kpi_hm_arrays a ON a.id = k.id"
    )
