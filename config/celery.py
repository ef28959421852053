"""The Celery application: workers and beat load their settings from Django."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("servicedesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _background_limits(sender, connection, **kwargs) -> None:
    """Workers and beat run the long jobs (the KPI run): they wait and run longer than a web request."""
    from django.conf import settings

    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
                       [settings.BACKGROUND_LOCK_TIMEOUT, settings.BACKGROUND_STATEMENT_TIMEOUT])  # fmt: skip


@signals.worker_init.connect
@signals.beat_init.connect
def _in_the_background(**kwargs) -> None:
    from django.db.backends.signals import connection_created

    connection_created.connect(_background_limits, dispatch_uid="desk-background-limits")
