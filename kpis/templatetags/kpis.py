"""Showing KPI figures: names, units, "—" for an empty figure."""

from __future__ import annotations

from django import template

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
