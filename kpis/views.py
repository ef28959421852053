"""The managers' dashboards: KPI tiles, trends, breakdowns, scorecards, exports.

Every page reads stored values only (``kpis_kpivalue``), so its cost does not grow
with the number of tickets. Every figure links to the ticket list behind it.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, timedelta
from functools import lru_cache
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from complaints.models import RootCause
from config.html import escaped_join
from kpis.access import dashboard_teams
from kpis.charts import chart
from kpis.engine.periods import next_period
from kpis.engine.quantiles import RELATIVE_ERROR
from kpis.forms import DashboardForm
from kpis.models import Dimension
from kpis.registry import KPIS, SOURCES, format_figure
from kpis.selectors import (
    EMPTY_CELL,
    breakdown,
    breakdowns,
    figures,
    granularity_for,
    last_computed,
    latest_run,
    targets,
    trends,
)
from surveys.models import SurveyChannel
from tickets.access import is_manager
from tickets.models import Category, Channel, Priority, Tag, Team

User = get_user_model()

BREAKDOWNS = [
    Dimension.TEAM,
    Dimension.AGENT,
    Dimension.CATEGORY,
    Dimension.CHANNEL,
    Dimension.PRIORITY,
    Dimension.ROOT_CAUSE,
    Dimension.VIA,
    Dimension.TAG,
]


@lru_cache(maxsize=1)
def _queue_url() -> str:
    return reverse("tickets:list")


@lru_cache(maxsize=512)
def _slice_query(dimension: str, value: str) -> str:
    return "" if dimension == "all" else "&" + urlencode({"dimension": dimension, "value": value})


def drill_url(kpi_key: str, part: str, start: date, end: date, dimension: str = "all", value: str = "") -> str:
    """The ticket queue filtered to the tickets a figure counts (a page has thousands of these)."""
    last = (end - timedelta(days=1)).isoformat()
    return f"{_queue_url()}?kpi={kpi_key}&part={part}&start={start.isoformat()}&end={last}" + _slice_query(
        dimension, value
    )


def dimension_labels(dimension: str, values) -> dict[str, str]:
    values = [v for v in values if v not in ("", "none")]
    labels: dict[str, str] = {"none": _("(none)")}
    if dimension == Dimension.TEAM:
        labels.update({str(t.pk): t.name for t in Team.objects.filter(pk__in=values)})
    elif dimension == Dimension.AGENT:
        labels.update({str(u.pk): u.get_full_name() or u.username for u in User.objects.filter(pk__in=values)})
    elif dimension == Dimension.CATEGORY:
        labels.update({str(c.pk): str(c) for c in Category.objects.filter(pk__in=values)})
    elif dimension == Dimension.CHANNEL:
        labels.update(dict(Channel.choices))
    elif dimension == Dimension.PRIORITY:
        labels.update(dict(Priority.choices))
    elif dimension == Dimension.ROOT_CAUSE:
        labels.update({str(r.pk): str(r) for r in RootCause.objects.filter(pk__in=values)})
        labels["none"] = _("(not yet known)")
    elif dimension == Dimension.VIA:
        labels.update(dict(SurveyChannel.choices))
    elif dimension == Dimension.TAG:
        labels.update({str(t.pk): t.name for t in Tag.objects.filter(pk__in=[v for v in values if v.isdigit()])})
    return labels


def _scope(request: HttpRequest):
    teams = dashboard_teams(request.user)
    if teams is None:
        raise Http404
    form = DashboardForm(request.GET or None, teams=teams, all_teams_allowed=is_manager(request.user))
    team = form.cleaned_data.get("team") if form.is_bound and form.is_valid() else None
    if team is None and not is_manager(request.user):
        team = teams.first()
    start, end = form.date_range()
    dimension, value = (Dimension.TEAM, str(team.pk)) if team else (Dimension.ALL, "")
    return form, team, start, end, dimension, value


def _tiles(start, end, dimension, value, team):
    tiles = []
    series = trends(start, end, dimension, value)
    for figure in figures(start, end, dimension, value, team_targets=team.pk if team else None):
        key = figure.kpi.key
        ratio = figure.kpi.kind in ("ratio", "nps")
        tiles.append(
            {
                "figure": figure,
                "chart": chart(
                    series.get(key, []),
                    figure.target,
                    _point_urls(key, series.get(key, []), start, end, dimension, value),
                    figure.kpi.unit,
                ).svg(key, figure.kpi.name),
                "den_url": drill_url(key, "den", start, end, dimension, value),
                "num_url": drill_url(key, "num", start, end, dimension, value) if ratio else None,
                "neg_url": drill_url(key, "neg", start, end, dimension, value) if figure.kpi.kind == "nps" else None,
                "note": figure.kpi.note,
            }
        )
    return tiles


def _point_urls(key, series, start, end, dimension, value) -> list[str]:
    """Each point of a trend links to the tickets of its period (clipped to the shown range)."""
    if not series:
        return []
    granularity = granularity_for(start, end)
    return [
        drill_url(key, "den", max(day, start), min(next_period(day, granularity), end), dimension, value)
        for day, _value in series
    ]


#: The tags a breakdown by tag shows at most: those with the most tickets in the range.
TAG_ROWS = 30


def _busiest(data: dict) -> dict:
    """The ``TAG_ROWS`` slices with the most tickets."""
    if len(data) <= TAG_ROWS:
        return data
    tickets = {value: by_kpi.get("workload", EMPTY_CELL).denominator for value, by_kpi in data.items()}
    return {value: data[value] for value in sorted(data, key=lambda value: -tickets[value])[:TAG_ROWS]}


def _table(dimension: str, start: date, end: date, sort: str | None, team: Team | None, data: dict):
    """A breakdown table from ``selectors.breakdowns``' data for ``dimension``."""
    if dimension == Dimension.TAG:
        data = _busiest(data)
    labels = dimension_labels(dimension, data.keys())
    kpis = kpis_for(dimension)
    rows = []
    for value, by_kpi in data.items():
        cells = []
        for kpi in kpis:
            cell = by_kpi.get(kpi.key, EMPTY_CELL)
            ratio = kpi.kind == "ratio"
            cells.append(
                {
                    "kpi": kpi,
                    "value": cell.value,
                    "shown": format_figure(cell.value, kpi.unit),
                    "median": cell.median,
                    "p90": cell.p90,
                    "denominator": cell.denominator,
                    "url": drill_url(kpi.key, "num" if ratio else "den", start, end, dimension, value),
                    "den_url": drill_url(kpi.key, "den", start, end, dimension, value) if ratio else None,
                }
            )
        rows.append({"value": value, "label": labels.get(value, value), "cells": cells, "html": _cells_html(cells)})
    if sort in {k.key for k in kpis}:
        index = [k.key for k in kpis].index(sort)
        rows.sort(key=lambda r: (r["cells"][index]["value"] is None, -(r["cells"][index]["value"] or 0)))
    else:
        rows.sort(key=lambda r: r["label"])
    if team is not None and dimension == Dimension.AGENT:
        members = {str(pk) for pk in team.members.values_list("pk", flat=True)} | {str(team.supervisor_id)}
        rows = [r for r in rows if r["value"] in members]
    note = ""
    if dimension == Dimension.TAG:
        note = _("The %(n)d tags with the most tickets; a ticket counts under each of its tags.") % {"n": TAG_ROWS}
    return {"dimension": dimension, "label": Dimension(dimension).label, "rows": rows, "kpis": kpis, "note": note}


def _cells_html(cells: list[dict]) -> SafeString:
    """A breakdown row's cells, escaped, in one pass: a dashboard has thousands of them, and the
    template loop costs more than the page's queries."""
    return escaped_join(
        '<td><a href="{}">{}</a>{}{}</td>',
        (
            (cell["url"], cell["shown"],
             escaped_join(' <a class="den" href="{}">/{}</a>', [(cell["den_url"], f"{cell['denominator']:.0f}")])
             if cell["den_url"] else "",
             _median_html(cell["median"], cell["p90"], cell["kpi"].unit) if cell["median"] is not None else "")
            for cell in cells
        ),
    )  # fmt: skip


def _median_html(median: float, p90: float | None, unit: str) -> SafeString:
    """ "median ≈ 1.9 h" under a duration's mean, p90 and the bound in its tooltip."""
    return escaped_join(
        '<br><small class="median" title="{}">{}</small>',
        [(approximate_title(p90, unit), _("median ≈ %s") % format_figure(median, unit))],
    )


def approximate_title(p90: float | None, unit: str) -> str:
    return _("p90 ≈ %(p90)s; medians and p90 are within ±%(bound)s of the exact figures") % {
        "p90": format_figure(p90, unit),
        "bound": f"{RELATIVE_ERROR * 100:g} %",
    }


def kpis_for(dimension: str) -> list:
    """The KPIs a breakdown shows: all of them, or those whose source has the dimension."""
    if dimension == Dimension.TAG:
        return [kpi for kpi in KPIS if not kpi.at_period_end]  # the backlog is not kept by tag
    extra = {name for source in SOURCES.values() for name, _path in source.extra_dimensions}
    if dimension not in extra:
        return KPIS
    return [kpi for kpi in KPIS if dimension in dict(SOURCES[kpi.source].extra_dimensions)]


@require_GET
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    form, team, start, end, dimension, value = _scope(request)
    sort = request.GET.get("sort")
    query = request.GET.copy()
    query.pop("sort", None)
    run = latest_run()
    context = {
        "form": form,
        "team": team,
        "start": start,
        "last_day": end - timedelta(days=1),
        "last_computed": run.finished_at if run else None,
        "query": query.urlencode(),
        "body": _dashboard_body(request, team, start, end, dimension, value, sort, query.urlencode(), run),
    }
    return render(request, "kpis/dashboard.html", context)


def _dashboard_body(request, team, start, end, dimension, value, sort, query, run) -> str:
    """The tiles, charts and breakdowns. They only change when a KPI run finishes or a target is
    edited, and a desk's managers open the same few views between two runs: each process keeps
    the rendered body of a view under a key of everything it shows (the run, the targets, the
    language, the range, the team, the order and the links' query)."""
    key = None
    if run is not None:
        wanted = sorted(targets(team.pk if team else None).items())
        scope = (get_language(), run.pk, team.pk if team else None, start.isoformat(), end.isoformat(), sort, query,
                 wanted)  # fmt: skip
        key = "dashboard:" + hashlib.sha256(repr(scope).encode()).hexdigest()
        body = caches["dashboards"].get(key)
        if body is not None:
            return mark_safe(body)  # noqa: S308 (rendered, and escaped, by the template below)
    shown = [d for d in BREAKDOWNS if not (team and d == Dimension.TEAM)]
    data = breakdowns(shown, start, end)
    context = {
        "tiles": _tiles(start, end, dimension, value, team),
        "tables": [_table(d, start, end, sort, team, data[d]) for d in shown],
        "query": query,
    }
    body = render_to_string("kpis/_partials/dashboard_body.html", context, request=request)
    if key is not None:
        caches["dashboards"].set(key, str(body))
    return body


@require_GET
@login_required
def scorecard(request: HttpRequest, username: str) -> HttpResponse:
    """An agent's KPIs against the targets and the team's. Their own, or anyone's for a manager."""
    agent = User.objects.filter(username=username, is_active=True).first()
    if agent is None or not (agent == request.user or is_manager(request.user)):
        raise Http404
    form = DashboardForm(request.GET or None, teams=Team.objects.none(), all_teams_allowed=True)
    start, end = form.date_range()
    team = agent.desk_teams.order_by("name").first()
    own = figures(start, end, Dimension.AGENT, str(agent.pk), team_targets=team.pk if team else None)
    team_figures = {f.kpi.key: f for f in figures(start, end, Dimension.TEAM, str(team.pk))} if team else {}
    rows = [
        {"figure": f, "team": team_figures.get(f.kpi.key),
         "url": drill_url(f.kpi.key, "den", start, end, Dimension.AGENT, str(agent.pk))}
        for f in own
    ]  # fmt: skip
    context = {"agent": agent, "team": team, "rows": rows, "form": form, "start": start,
               "last_day": end - timedelta(days=1), "last_computed": last_computed()}  # fmt: skip
    return render(request, "kpis/scorecard.html", context)


#: What a spreadsheet reads as the start of a formula, the full-width forms included (Excel and WPS
#: treat ＝＋－＠ like their ASCII forms when the cell is typed with a Chinese input method).
FORMULA_PREFIXES = frozenset("=+-@\t\r＝＋－＠")


def _safe_cell(value):
    """Text that a spreadsheet would run as a formula is written as text."""
    if isinstance(value, str) and value[:1] in FORMULA_PREFIXES:
        return "'" + value
    return value


def _export_rows(request: HttpRequest, table: str) -> tuple[list[str], list[list]]:
    _form, team, start, end, dimension, value = _scope(request)
    header = [_("Slice")] + [f"{kpi.name} ({kpi.unit})" for kpi in KPIS]
    if table == "summary":
        wanted = targets(team.pk if team else None)
        rows = [[_("Value")], [_("Target")], [_("Numerator")], [_("Denominator")]]
        for figure in figures(start, end, dimension, value, team_targets=team.pk if team else None):
            rows[0].append(figure.value)
            rows[1].append(wanted.get(figure.kpi.key))
            rows[2].append(figure.numerator)
            rows[3].append(figure.denominator)
        return header, rows
    if table not in BREAKDOWNS:
        raise Http404
    data = _table(table, start, end, None, team, breakdown(table, start, end))
    header = [_("Slice")] + [f"{kpi.name} ({kpi.unit})" for kpi in data["kpis"]]
    return header, [[row["label"]] + [cell["value"] for cell in row["cells"]] for row in data["rows"]]


@require_GET
@login_required
def export(request: HttpRequest, table: str, fmt: str) -> HttpResponse:
    """A dashboard table as CSV (UTF-8 with BOM, so Excel keeps Chinese) or XLSX."""
    header, rows = _export_rows(request, table)
    rows = [[_safe_cell(cell) for cell in row] for row in rows]
    filename = f"kpis-{table}-{date.today().isoformat()}"
    if fmt == "csv":
        buffer = io.StringIO()
        buffer.write("\ufeff")
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = table[:31]
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        buffer = io.BytesIO()
        book.save(buffer)
        response = HttpResponse(
            buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    else:
        raise Http404
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response
