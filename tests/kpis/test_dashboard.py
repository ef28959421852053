"""The dashboard, the drill-down from its figures, the scorecards, the exports and the API."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, time, timedelta
from urllib.parse import unquote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from complaints.models import Complaint
from kpis.engine import refresh_kpis
from kpis.engine.quantiles import Histogram
from kpis.models import KPITarget, KPIValue
from kpis.registry import KPIS
from tests.factories import CustomerFactory, make_ticket
from tickets import services
from tickets.models import Tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def figures_today(team, other_team, agent, colleague, outsider):
    """Five tickets today: three resolved (one by the other team), one with a formula-like customer."""
    made = [
        make_ticket(team=team, by=agent, assignee=agent, subject="一"),
        make_ticket(team=team, by=agent, assignee=colleague, subject="二"),
        make_ticket(team=team, by=agent, assignee=agent, category="complaint", subject="三"),
        make_ticket(team=other_team, by=outsider, assignee=outsider, subject="四"),
        make_ticket(team=team, by=agent, customer=CustomerFactory(name='=HYPERLINK("x")'), subject="五"),
    ]
    for ticket in made[:2] + made[3:4]:
        services.add_reply(ticket=ticket, by=agent, body="hi")
        services.resolve_ticket(ticket=ticket, by=agent, note="done")
    refresh_kpis(full=True)
    return made


def _manager_client(client, manager):
    client.force_login(manager)
    return client


def test_the_dashboard_shows_a_tile_per_kpi_with_target_and_colour(client, manager, figures_today):
    page = _manager_client(client, manager).get("/dashboard/?period=today", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for kpi in KPIS:
        assert f'id="kpi-{kpi.key}"' in page
    assert "Resolution rate" in page and "60.0 %" in page  # 3 of 5
    assert re.search(r'class="tile tile-bad" id="kpi-resolution_rate"', page)  # 60 % < 90 %
    assert "<svg" in page and "<desc" in page  # server-rendered chart with a text alternative


def _tile(page: str, key: str) -> str:
    return page.split(f'id="kpi-{key}"', 1)[1].split("</article>", 1)[0]


def test_each_trend_is_an_svg_with_its_title_target_line_and_linked_points(client, manager, figures_today):
    from xml.etree import ElementTree

    page = _manager_client(client, manager).get("/dashboard/?period=7d", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    tile = _tile(page, "resolution_rate")
    svg = ElementTree.fromstring(tile[tile.index("<svg") : tile.index("</svg>") + 6])  # well-formed
    assert svg.get("aria-labelledby") == "chart-resolution_rate-title chart-resolution_rate-desc"
    assert svg.find("title").text == "Resolution rate" and svg.find("title").get("id") == "chart-resolution_rate-title"
    assert svg.find("desc").text.endswith(": 60.0 %")  # today's point, in words
    assert svg.find("line[@class='target']") is not None  # the 90 % target
    points = svg.findall("a")
    assert len(points) == 1 and "part=den" in points[0].get("href")  # only today has figures
    assert points[0].find("circle/title").text.endswith("60.0 %")
    workload = page.split('id="kpi-workload"', 1)[1].split("</svg>", 1)[0]
    assert 'class="target"' not in workload  # a trend without a target draws no target line


def test_every_tile_links_to_a_ticket_list_of_the_same_count(client, manager, figures_today):
    client = _manager_client(client, manager)
    page = client.get("/dashboard/?period=today", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    checked = 0
    for kpi in KPIS:
        tile = page.split(f'id="kpi-{kpi.key}"', 1)[1].split("</article>", 1)[0]
        for url, label in re.findall(r'<a href="([^"]+)">(?:numerator|counted) ([\d,]+)</a>', tile):
            listing = client.get(unquote(url).replace("&amp;", "&"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
            shown = re.search(r"([\d,]+) tickets?", listing)
            assert shown and shown.group(1) == label, (kpi.key, url, label)
            checked += 1
    assert checked >= len(KPIS)


@pytest.fixture
def every_kind_today(team, agent, colleague, supervisor):
    """Today's tickets giving every KPI something to count: survey answers by e-mail and by phone
    (promoters, a passive, detractors whose complaints open), a complaint handled, costs."""
    from complaints import services as complaint_services
    from surveys import services as survey_services

    answers = [(5, 10), (4, 8), (1, 2), (5, 9)]
    tickets = []
    for number, (overall, nps) in enumerate(answers):
        email = f"c{number}@example.com" if number < 3 else ""
        ticket = make_ticket(
            team=team, by=agent, assignee=agent, customer=CustomerFactory(email=email, phone=f"1{number}")
        )
        services.add_reply(ticket=ticket, by=agent, body="hi")
        services.update_ticket(ticket=ticket, by=agent, labour_cost=100)
        services.resolve_ticket(ticket=ticket, by=agent, note="done")
        answer = {"overall": overall, "nps": nps}
        if email:
            survey_services.submit_survey(invitation=ticket.survey, answers=answer)
        else:
            survey_services.record_phone_answers(ticket=ticket, by=colleague, answers=answer)
        tickets.append(ticket)
    unhappy = Complaint.objects.get(ticket__follow_up_for__ticket=tickets[2])
    services.log_call(ticket=unhappy.ticket, by=supervisor, summary="致电道歉")
    complaint_services.update_complaint(complaint=unhappy, by=supervisor, corrective_action="重新上门")
    complaint_services.log_confirmation(complaint=unhappy, by=supervisor, channel="phone", contact="本人", note="满意")
    complaint_services.close_complaint(complaint=unhappy, by=supervisor)  # resolves its follow-up ticket
    tickets.append(make_ticket(team=team, by=agent, category="complaint"))  # open, unhandled
    refresh_kpis(full=True)
    return tickets


def _shown(tile: str) -> str:
    return re.search(r'class="tile-value"><a [^>]*>([^<]+)</a>', tile).group(1)


def test_every_figure_equals_what_its_links_list_for_every_kind_of_kpi(client, manager, every_kind_today):
    client = _manager_client(client, manager)
    page = client.get("/dashboard/?period=today", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for kpi in KPIS:
        tile = _tile(page, kpi.key)
        counts = {}
        for url, label, shown in re.findall(
            r'<a href="([^"]+)">(numerator|counted|promoters|detractors|answered) ([\d,]+)</a>', tile
        ):
            listing = client.get(unquote(url).replace("&amp;", "&"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
            listed = re.search(r"([\d,]+) tickets?", listing)
            assert listed and listed.group(1) == shown, (kpi.key, label, url)
            counts[label] = int(shown.replace(",", ""))
        assert counts.get("counted") or counts.get("answered"), (kpi.key, "nothing counted")
        if kpi.kind == "nps":
            assert set(counts) == {"promoters", "detractors", "answered"}
            figure = 100 * (counts["promoters"] - counts["detractors"]) / counts["answered"]
            assert _shown(tile) == f"{figure:.1f}", kpi.key
            title = re.search(r'class="tile-value"><a href="[^"]+" title="([^"]+)"', tile).group(1)
            assert f"({counts['promoters']} promoters − {counts['detractors']} detractors)" in title
        elif kpi.kind == "ratio":
            assert _shown(tile) == f"{100 * counts['numerator'] / counts['counted']:.1f} %", kpi.key
    nps = _tile(page, "nps")
    assert "promoters 2<" in nps and "detractors 1<" in nps and "answered 4<" in nps  # 10, 9 | 8 | 2


def test_csat_shows_both_definitions_with_what_each_counts(client, manager, every_kind_today):
    page = _manager_client(client, manager).get("/dashboard/?period=today", HTTP_ACCEPT_LANGUAGE="en")
    page = page.content.decode()
    answers, served = _tile(page, "csat"), _tile(page, "csat_served")
    assert _shown(answers) == "75.0 %" and "answers to the satisfaction question" in answers  # 3 of 4 answers
    assert _shown(served) == "60.0 %" and "customers served" in served  # 3 of 5 resolved (the follow-up too)
    by_channel = page.split('id="by-via"', 1)[1].split("</section>", 1)[0]
    assert "follow-up call" in by_channel and "e-mailed survey" in by_channel


def test_a_target_edited_in_admin_turns_a_tile_green(client, manager, figures_today):
    KPITarget.objects.create(kpi="resolution_rate", value=50)
    page = _manager_client(client, manager).get("/dashboard/?period=today").content.decode()
    assert re.search(r'class="tile tile-ok" id="kpi-resolution_rate"', page)


def test_an_empty_period_shows_dashes_not_errors(client, manager):
    response = _manager_client(client, manager).get("/dashboard/?period=custom&start=2020-01-01&end=2020-01-31")
    assert response.status_code == 200
    assert "—" in response.content.decode()


def test_a_bad_range_is_a_message_not_an_error(client, manager):
    response = _manager_client(client, manager).get("/dashboard/?period=custom&start=2026-02-01&end=2026-01-01")
    assert response.status_code == 200 and "form-errors" in response.content.decode()


@pytest.fixture
def responses_over_three_days(team, agent):
    """First responses of 1 h, 2 h and 10 h on three different days, by phone, e-mail and phone."""
    from tickets.models import Ticket

    today = timezone.localdate()
    made = []
    for days_ago, hours, channel in ((2, 1, "phone"), (1, 2, "email"), (0, 10, "phone")):
        ticket = make_ticket(team=team, by=agent, assignee=agent, channel=channel)
        requested = timezone.make_aware(datetime.combine(today - timedelta(days=days_ago), time(9)))
        Ticket.objects.filter(pk=ticket.pk).update(requested_at=requested, first_response_at=requested,
                                                   first_response_working_seconds=hours * 3600)  # fmt: skip
        made.append(ticket)
    refresh_kpis(full=True)
    return made


def test_a_tile_shows_the_approximate_median_of_any_range_with_its_bound(client, manager, responses_over_three_days):
    start = (timezone.localdate() - timedelta(days=2)).isoformat()
    end = timezone.localdate().isoformat()
    page = (
        _manager_client(client, manager)
        .get(f"/dashboard/?period=custom&start={start}&end={end}", HTTP_ACCEPT_LANGUAGE="en")
        .content.decode()
    )
    tile = _tile(page, "first_response_time")
    median, p90 = hours(1, 2, 10)  # three stored days summed: exact 2 h and 8.4 h, within 1 %
    assert median == pytest.approx(2, rel=0.01) and p90 == pytest.approx(8.4, rel=0.01)
    assert f"median ≈ {median:.1f} h · p90 ≈ {p90:.1f} h" in tile
    assert "within ±1 % of the exact figures" in tile
    by_channel = page.split('id="by-channel"', 1)[1].split("</section>", 1)[0]
    assert f"median ≈ {hours(1, 10)[0]:.1f} h" in by_channel  # phone: 1 h and 10 h
    assert f"median ≈ {hours(2)[0]:.1f} h" in by_channel  # e-mail


def hours(*values: float) -> tuple[float, float]:
    """The median and p90 the desk shows for these hours."""
    median, p90 = Histogram.of([value * 3600 for value in values]).quantiles(0.5, 0.9)
    return median / 3600, p90 / 3600


def test_the_api_gives_medians_as_approximate_with_their_bound(manager, responses_over_three_days):
    api = APIClient()
    api.force_authenticate(manager)
    rows = api.get("/api/kpis/", {"metric": ["first_response_time", "workload"], "granularity": "day",
                                  "dimension": "channel", "dimension_value": "phone"}).json()["results"]  # fmt: skip
    durations = [row for row in rows if row["metric"] == "first_response_time"]
    assert [(row["value"], row["median"], row["p90"]) for row in durations] == [
        (1.0, pytest.approx(1.0, rel=0.01), pytest.approx(1.0, rel=0.01)),
        (10.0, pytest.approx(10.0, rel=0.01), pytest.approx(10.0, rel=0.01)),
    ]
    assert all(row["approximate"] is True and row["relative_error"] == 0.01 for row in durations)
    counts = [row for row in rows if row["metric"] == "workload"]
    assert len(counts) == 2
    assert all(
        row["approximate"] is False and row["median"] is None and row["relative_error"] is None for row in counts
    )


def test_the_dashboard_says_how_long_ago_its_figures_were_computed(client, manager, figures_today):
    import time_machine

    client = _manager_client(client, manager)
    page = client.get("/dashboard/?period=today", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert re.search(r'<time class="updated" datetime="[^"]+" title="[^"]+">updated \d+ s ago</time>', page)
    with time_machine.travel(timezone.now() + timedelta(minutes=4, seconds=10)):
        page = client.get("/dashboard/?period=today", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "4 分钟前更新" in page


def test_the_dashboard_runs_a_bounded_number_of_queries(client, manager, figures_today, django_assert_max_num_queries):
    client = _manager_client(client, manager)
    with django_assert_max_num_queries(30):
        client.get("/dashboard/?period=30d")


def test_breakdowns_by_team_and_agent(client, manager, figures_today, team, other_team):
    page = _manager_client(client, manager).get("/dashboard/?period=today", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    by_cause = page.split('id="by-root_cause"', 1)[1].split("</section>", 1)[0]
    assert "Complaints escalated to a supervisor" in by_cause and "Workload" not in by_cause
    assert 'id="by-team"' in page and team.name in page and other_team.name in page
    assert 'id="by-agent"' in page and "Alice" in page


def test_a_dashboard_seen_again_waits_for_the_next_run_or_target(client, manager, agent, supervisor, figures_today):
    """Between two KPI runs the body of a view is rendered once; a run, a target edited in admin,
    the other language and a supervisor's narrower view each get their own."""
    client = _manager_client(client, manager)
    first = client.get("/dashboard/?period=today", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "60.0 %" in _tile(first, "resolution_rate")
    assert 'href="/dashboard/export/summary.csv?period=today"' in first
    services.resolve_ticket(ticket=figures_today[4], by=agent, note="done")
    with CaptureQueriesContext(connection) as seen_again:
        again = client.get("/dashboard/?period=today", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert _tile(again, "resolution_rate") == _tile(first, "resolution_rate")  # no run yet
    assert not [q for q in seen_again.captured_queries if "kpis_kpivalue" in q["sql"]]  # the kept body
    assert "服务解决率" in client.get("/dashboard/?period=today", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    KPITarget.objects.create(kpi="resolution_rate", value=50)
    page = client.get("/dashboard/?period=today", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'class="tile tile-ok" id="kpi-resolution_rate"' in page
    refresh_kpis()
    page = client.get("/dashboard/?period=today", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "80.0 %" in _tile(page, "resolution_rate")  # 4 of 5
    assert 'id="by-team"' in page
    client.force_login(supervisor)
    page = client.get("/dashboard/?period=today", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="by-team"' not in page  # their own team's view, not the manager's stored one
    assert "75.0 %" in _tile(page, "resolution_rate") and "Service KPIs · 热线服务组" in page  # their team: 3 of 4
    today = timezone.localdate().isoformat()
    assert f"{today} – {today}" in page  # the day asked for, though the link names no team


def test_agents_cannot_open_the_dashboard_and_supervisors_see_their_team(client, agent, supervisor, figures_today):
    client.force_login(agent)
    assert client.get("/dashboard/").status_code == 404
    client.force_login(supervisor)
    page = client.get("/dashboard/?period=today").content.decode()
    assert "热线服务组" in page


class TestScorecard:
    def test_an_agent_sees_their_own_scorecard(self, client, agent, figures_today):
        client.force_login(agent)
        response = client.get("/dashboard/agents/alice/?period=today", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        assert "Workload" in response.content.decode()

    def test_an_agent_cannot_see_a_colleagues_scorecard(self, client, agent, colleague, figures_today):
        client.force_login(agent)
        assert client.get("/dashboard/agents/bob/").status_code == 404
        assert client.get("/dashboard/agents/nobody/").status_code == 404

    def test_a_manager_sees_anyones_scorecard(self, client, manager, agent, figures_today):
        client.force_login(manager)
        assert client.get("/dashboard/agents/alice/").status_code == 200

    def test_anonymous_visitors_log_in_first(self, client, agent):
        assert client.get("/dashboard/agents/alice/").status_code == 302


class TestExport:
    def test_the_agent_table_as_csv_keeps_chinese_and_neutralises_formulas(self, client, manager, figures_today, agent):
        agent.first_name = "=cmd|' /C calc'!A0"
        agent.save()
        response = _manager_client(client, manager).get("/dashboard/export/agent.csv?period=today",
                                                        HTTP_ACCEPT_LANGUAGE="zh-CN")  # fmt: skip
        assert response["Content-Type"].startswith("text/csv")
        text = response.content.decode("utf-8")
        assert text.startswith("\ufeff")
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        assert rows[0][1] == "服务响应时间(工作时间) (hours)"
        labels = [row[0] for row in rows[1:]]
        assert "'=cmd|' /C calc'!A0" in labels  # stored as text, not a formula

    @pytest.mark.parametrize("prefix", ["＝", "＋", "－", "＠"])
    @pytest.mark.parametrize("fmt", ["csv", "xlsx"])
    def test_full_width_formula_signs_are_neutralised_too(self, client, manager, figures_today, agent, prefix, fmt):
        agent.first_name = prefix + "SUM(1,2)"
        agent.save()
        response = _manager_client(client, manager).get(f"/dashboard/export/agent.{fmt}?period=today")
        if fmt == "csv":
            labels = [row[0] for row in csv.reader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff")))]
        else:
            labels = [row[0].value for row in load_workbook(io.BytesIO(response.content)).active.iter_rows()]
        assert "'" + prefix + "SUM(1,2)" in labels and prefix + "SUM(1,2)" not in labels

    def test_the_summary_as_xlsx_parses_back(self, client, manager, figures_today):
        response = _manager_client(client, manager).get("/dashboard/export/summary.xlsx?period=today",
                                                        HTTP_ACCEPT_LANGUAGE="zh-CN")  # fmt: skip
        sheet = load_workbook(io.BytesIO(response.content)).active
        header = [cell.value for cell in sheet[1]]
        assert header[0] == "维度" and "服务解决率 (percent)" in header
        values = {header[i]: sheet[2][i].value for i in range(1, len(header))}
        assert values["服务解决率 (percent)"] == pytest.approx(60.0)

    def test_an_unknown_table_or_format_is_404(self, client, manager):
        client = _manager_client(client, manager)
        assert client.get("/dashboard/export/secrets.csv").status_code == 404
        assert client.get("/dashboard/export/team.pdf").status_code == 404


class TestApi:
    def test_stored_values_with_filters(self, manager, figures_today):
        api = APIClient()
        api.force_authenticate(manager)
        today = timezone.localdate().isoformat()
        body = api.get("/api/kpis/", {"metric": "workload", "granularity": "day", "start": today, "end": today,
                                      "dimension": "all"}).json()  # fmt: skip
        (row,) = body["results"]
        assert (row["metric"], row["value"], row["numerator"], row["denominator"]) == ("workload", 5, 5, 5)

    def test_an_agent_gets_only_their_own_slice(self, agent, figures_today):
        api = APIClient()
        api.force_authenticate(agent)
        rows = api.get("/api/kpis/", {"granularity": "day"}).json()["results"]
        assert rows and {(r["dimension"], r["dimension_value"]) for r in rows} == {("agent", str(agent.pk))}

    def test_bad_filters_are_400_and_anonymous_is_401(self, manager):
        api = APIClient()
        assert api.get("/api/kpis/").status_code == 401
        api.force_authenticate(manager)
        assert api.get("/api/kpis/", {"granularity": "fortnight"}).status_code == 400
        assert api.get("/api/kpis/", {"start": "yesterday"}).status_code == 400


def test_a_resolve_in_the_ui_shows_after_the_next_run(client, manager, agent, team):
    ticket = make_ticket(team=team, by=agent)
    refresh_kpis()
    assert KPIValue.objects.get(kpi="resolution_rate", granularity="day", dimension="all").value == 0
    client.force_login(agent)
    client.post(f"/tickets/{ticket.pk}/resolve/", {"note": "fixed"})
    refresh_kpis()
    assert KPIValue.objects.get(kpi="resolution_rate", granularity="day", dimension="all").value == 100


class TestTargetsEditedByTwoManagers:
    def test_a_stale_target_form_is_refused_with_the_saved_value_shown_and_the_typed_one_kept(self, admin_client):
        from django.test import Client

        from kpis.models import KPITarget
        from tests.factories import UserFactory

        target = KPITarget.objects.create(kpi="csat", value=95)
        other = Client()
        other.force_login(UserFactory(username="admin2", is_staff=True, is_superuser=True))
        url = f"/admin/kpis/kpitarget/{target.pk}/change/"
        form = {"kpi": "csat", "team": "", "value": "96", "read_version": "0"}

        assert other.post(url, form).status_code == 302
        stale = admin_client.post(url, {**form, "value": "97.5"}, HTTP_ACCEPT_LANGUAGE="en")
        html = stale.content.decode()
        assert stale.status_code == 200 and "Someone else saved this target" in html and "96" in html
        assert 'value="97.5"' in html and 'name="read_version" value="1"' in html  # typed value kept, now current
        target.refresh_from_db()
        assert target.value == 96 and target.version == 1

        assert admin_client.post(url, {**form, "value": "97.5", "read_version": "1"}).status_code == 302
        target.refresh_from_db()
        assert target.value == 97.5 and target.version == 2


def test_the_breakdown_by_tag_counts_each_ticket_under_each_of_its_tags_and_links_to_them(
    client, manager, agent, team, figures_today
):
    one, two, three = figures_today[:3]
    services.set_tags(ticket=one, by=agent, names=["批次A", "VIP"])
    services.set_tags(ticket=two, by=agent, names=["批次A"])
    services.set_tags(ticket=three, by=agent, names=["VIP"])
    refresh_kpis()  # an incremental run: the tickets' changed tags move their figures
    client = _manager_client(client, manager)

    page = client.get("/dashboard/?period=today", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    by_tag = page.split('id="by-tag"', 1)[1].split("</section>", 1)[0]
    assert "Backlog rate" not in by_tag and "Survey response rate" in by_tag  # every KPI but the backlog
    rows = {
        re.search(r'<th scope="row">([^<]+)</th>', row).group(1): row for row in by_tag.split("<tr>")[2:]
    }  # fmt: skip
    assert set(rows) == {"批次A", "VIP"}
    workload = BY_KEY_INDEX["workload"]
    for name, expected in (("批次A", {one.pk, two.pk}), ("VIP", {one.pk, three.pk})):
        cells = re.findall(r'<td><a href="([^"]+)">([^<]+)</a>', rows[name])
        url, shown = cells[workload]
        assert shown == "2"
        listing = client.get(unquote(url).replace("&amp;", "&"), HTTP_ACCEPT_LANGUAGE="en")
        assert {t.pk for t in listing.context["page"].object_list} == expected
        _url, resolved = cells[BY_KEY_INDEX["resolution_rate"]]
        assert resolved == ("100.0 %" if name == "批次A" else "50.0 %")

    # The same slice over the API: each tag's workload by day.
    api = APIClient()
    api.force_authenticate(manager)
    rows = api.get("/api/kpis/", {"metric": "workload", "granularity": "day", "dimension": "tag"}).json()["results"]
    tags = {str(tag.pk): tag.name for tag in Tag.objects.all()}
    assert sorted((tags[row["dimension_value"]], row["value"]) for row in rows) == [("VIP", 2.0), ("批次A", 2.0)]


BY_KEY_INDEX = {kpi.key: n for n, kpi in enumerate(kpi for kpi in KPIS if not kpi.at_period_end)}
