"""The KPI engine: stored day, week and month values of every KPI in the registry (``run``)."""

from kpis.engine.run import LOCK_KEY, RefreshResult, refresh_kpis

__all__ = ["LOCK_KEY", "RefreshResult", "refresh_kpis"]
