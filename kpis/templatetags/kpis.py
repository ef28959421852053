"""Showing KPI figures: names, units, "—" for an empty figure."""

from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from kpis.registry import BY_KEY, format_figure

register = template.Library()


@register.simple_tag
def kpi_name(key: str) -> str:
    kpi = BY_KEY.get(key)
    return kpi.name if kpi else key


@register.filter
def figure(value, unit: str) -> str:
    """A figure as people read it: 91.7 %, 2.1 h, 1,219, ¥325,193; "—" when there is none."""
    return format_figure(value, unit)


@register.filter
def signed(value, unit: str) -> str:
    if value is None:
        return ""
    shown = figure(abs(value), unit)
    return ("+" if value > 0 else "−" if value < 0 else "±") + shown


@register.filter
def percent_bound(value: float) -> str:
    """A relative error as people read it: 0.01 → "1 %"."""
    return f"{value * 100:g} %"


@register.filter
def updated_ago(moment) -> str:
    """When the figures were computed, as a manager reads it: "updated 23 s ago"."""
    seconds = max(0, int((timezone.now() - moment).total_seconds()))
    if seconds < 60:
        return _("updated %(seconds)d s ago") % {"seconds": seconds}
    if seconds < 3600:
        return _("updated %(minutes)d min ago") % {"minutes": seconds // 60}
    return _("updated %(at)s") % {"at": timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")}
