"""Query pieces every app may use (this module imports no app)."""

from __future__ import annotations

from typing import Any

from django.db.models import DateTimeField, Expression
from django.utils import timezone


class CurrentTime(Expression):
    """The present moment, taken from the application's clock each time a query is compiled: a
    rule written once as a ``Q`` (a deadline has passed) holds for every query that applies it,
    whenever it runs, and agrees with ``timezone.now()`` in the code around it."""

    output_field = DateTimeField()

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        return "%s", (timezone.now(),)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CurrentTime)

    def __hash__(self) -> int:
        return hash(CurrentTime)
