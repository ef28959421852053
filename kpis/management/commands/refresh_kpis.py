"""``manage.py refresh_kpis [--since DATE] [--full]``: the same code as the Celery tasks."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from kpis import engine
from kpis.models import KPIValue


class Command(BaseCommand):
    help = "Recompute the stored KPI values (incremental by default)."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="recompute every period from this local day (YYYY-MM-DD)")
        parser.add_argument("--full", action="store_true", help="recompute everything from the first ticket")

    def handle(self, *args, since=None, full=False, **options):
        try:
            since_day = date.fromisoformat(since) if since else None
        except ValueError:
            raise CommandError(f"--since must be a date like 2026-01-31, not {since!r}") from None
        self.stdout.write("Computing KPIs…")
        result = engine.refresh_kpis(
            since=since_day, full=full, progress=lambda message: self.stdout.write(f"  {message}")
        )
        run = result.run
        self.stdout.write(self.style.SUCCESS("KPIs computed."))
        self.stdout.write(f"  mode: {'full' if run.full else ('since ' + since if since else 'incremental')}")
        self.stdout.write(f"  days covered: {result.days} (from {run.first_day})")
        self.stdout.write(f"  rows written: {result.rows}; stored in all: {KPIValue.objects.count()}")
        self.stdout.write(f"  time: {result.seconds:.2f} s")
