"""The agent's desk in the browser: queue, new ticket, ticket page and its actions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import CustomerFactory, make_ticket
from tickets import services
from tickets.calendars import calendar_for
from tickets.models import Customer, EventKind, Status, Ticket
from tickets.worktime import add_working_time

pytestmark = pytest.mark.django_db


def _page(response) -> str:
    return response.content.decode()


class TestQueue:
    def test_an_agent_sees_their_teams_tickets_newest_first_and_not_other_teams(
        self, agent_client, team, agent, other_ticket
    ):
        older = make_ticket(team=team, by=agent, subject="旧的工单", requested_at=timezone.now() - timedelta(days=2))
        newer = make_ticket(team=team, by=agent, subject="新的工单")
        html = _page(agent_client.get("/tickets/?view=all"))
        assert html.index(newer.reference) < html.index(older.reference)
        assert other_ticket.reference not in html

    def test_a_manager_sees_every_team(self, client, manager, ticket, other_ticket):
        client.force_login(manager)
        html = _page(client.get("/tickets/?view=all"))
        assert ticket.reference in html and other_ticket.reference in html

    def test_overdue_tickets_are_marked(self, agent_client, team, agent):
        late = make_ticket(team=team, by=agent, subject="超时未处理", requested_at=timezone.now() - timedelta(days=3))
        html = _page(agent_client.get("/tickets/?overdue=true"))
        assert late.reference in html
        assert 'class="overdue"' in html

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("status=open", {"opened"}),
            ("priority=urgent", {"urgent"}),
            ("category=inquiry", {"inquiry"}),
            ("channel=email", {"email"}),
            ("assignee=bob", {"bobs"}),
            ("overdue=false", {"opened", "urgent", "inquiry", "email", "bobs"}),
        ],
    )
    def test_the_queue_filters_by_each_field(self, agent_client, team, agent, colleague, query, expected):
        made = {
            "opened": make_ticket(team=team, by=agent, subject="opened"),
            "urgent": make_ticket(team=team, by=agent, subject="urgent", priority="urgent"),
            "inquiry": make_ticket(team=team, by=agent, subject="inquiry", category="inquiry"),
            "email": make_ticket(team=team, by=agent, subject="email", channel="email"),
            "bobs": make_ticket(team=team, by=agent, subject="bobs", assignee=colleague),
        }
        services.add_reply(ticket=made["opened"], by=agent, body="hi")
        response = agent_client.get(f"/tickets/?{query}")
        shown = {name for name, t in made.items() if t.reference in _page(response)}
        assert shown == expected

    def test_the_queue_filters_by_team(self, client, manager, ticket, other_ticket):
        client.force_login(manager)
        html = _page(client.get(f"/tickets/?team={other_ticket.team_id}"))
        assert other_ticket.reference in html and ticket.reference not in html

    def test_the_filter_offers_the_agents_own_teams_and_people_only(
        self, agent_client, team, other_team, agent, colleague, outsider
    ):
        html = _page(agent_client.get("/tickets/", {"assignee": colleague.username}))
        team_select = html.split('name="team"', 1)[1].split("</select>", 1)[0]
        assert f'value="{team.pk}"' in team_select and f'value="{other_team.pk}"' not in team_select
        people = html.split('name="assignee"', 1)[1].split("</select>", 1)[0]
        assert f'value="{colleague.username}" selected' in people and f'value="{agent.username}"' in people
        assert outsider.username not in people

    @pytest.mark.parametrize("text", ["王小明", "wang@example.com", "13912345678", "压缩机", "SR-"])
    def test_text_search_finds_by_reference_subject_and_customer(self, agent_client, team, agent, text):
        customer = CustomerFactory(name="王小明", email="wang@example.com", phone="13912345678")
        hit = make_ticket(team=team, by=agent, subject="压缩机异响", customer=customer)
        miss = make_ticket(team=team, by=agent, subject="别的问题")
        html = _page(agent_client.get("/tickets/", {"q": text if text != "SR-" else hit.reference}))
        assert hit.reference in html
        assert miss.reference not in html

    def test_the_queue_pages_through_results(self, agent_client, team, agent):
        for i in range(27):
            make_ticket(team=team, by=agent, subject=f"ticket {i}")
        first = _page(agent_client.get("/tickets/?view=all"))
        second = _page(agent_client.get("/tickets/?view=all&page=2"))
        assert "27" in first and "page=2" in first
        assert second.count('href="/tickets/') >= 2 * 2
        assert "ticket 0<" in second and "ticket 0<" not in first

    def test_a_long_queue_stops_counting_but_a_figures_list_counts_exactly(
        self, agent_client, team, agent, monkeypatch
    ):
        monkeypatch.setattr("tickets.views.QUEUE_COUNT_CAP", 2)
        monkeypatch.setattr("tickets.views.QUEUE_PAGE_SIZE", 2)
        for i in range(5):
            make_ticket(team=team, by=agent, subject=f"ticket {i}")
        queue = _page(agent_client.get("/tickets/?view=all", HTTP_ACCEPT_LANGUAGE="en"))
        assert "More than 2 tickets" in queue and "5 tickets" not in queue
        assert "Page 1<" in queue and "page=2" in queue  # no "of N": the total is not known
        today = timezone.localdate().isoformat()
        drill = _page(agent_client.get(f"/tickets/?kpi=workload&part=den&start={today}&end={today}",
                                       HTTP_ACCEPT_LANGUAGE="en"))  # fmt: skip
        assert "5 tickets" in drill and "More than" not in drill and "Page 1 of 3" in drill

    def test_a_reference_read_out_on_the_phone_finds_its_ticket(self, agent_client, team, agent):
        wanted = make_ticket(team=team, by=agent, subject="洗衣机漏水")
        make_ticket(team=team, by=agent, subject="空调不制冷", customer=CustomerFactory(name=wanted.reference[:-1]))
        html = _page(agent_client.get("/tickets/", {"q": wanted.reference.lower()}, HTTP_ACCEPT_LANGUAGE="en"))
        assert "1 ticket<" in html and "洗衣机漏水" in html
        by_customer = _page(agent_client.get("/tickets/", {"q": wanted.reference[:-1]}, HTTP_ACCEPT_LANGUAGE="en"))
        assert "空调不制冷" in by_customer and "洗衣机漏水" in by_customer  # both contain the text

    def test_the_queue_runs_the_same_number_of_queries_whatever_the_page_size(
        self, agent_client, team, agent, django_assert_max_num_queries
    ):
        make_ticket(team=team, by=agent, assignee=agent)
        # Among them: the team calendar's version, and one capped count per view in the sidebar.
        with django_assert_max_num_queries(27) as few:
            agent_client.get("/tickets/")
        for _ in range(30):
            make_ticket(team=team, by=agent, assignee=agent)
        with django_assert_max_num_queries(len(few.captured_queries)):
            agent_client.get("/tickets/")

    def test_a_bad_filter_value_shows_a_message_not_an_error(self, agent_client):
        response = agent_client.get("/tickets/?status=bogus&team=abc&page=xyz")
        assert response.status_code == 200
        assert "bogus" in _page(response)  # the form shows the bad choice error


class TestCreate:
    def _post(self, client, for_team, **overrides):
        data = {
            "customer_name": "李雷",
            "customer_email": "li.lei@example.com",
            "customer_phone": "13800000001",
            "customer_language": "zh-hans",
            "subject": "空调不制冷",
            "description": "客户来电",
            "category": "",
            "channel": "phone",
            "priority": "high",
            "team": for_team.pk,
            "requested_at": timezone.localtime(timezone.now() - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M"),
        }
        from tickets.models import Category

        data["category"] = Category.objects.get(slug="repair").pk
        data.update(overrides)
        return client.post("/tickets/new/", data)

    def test_an_agent_logs_a_phone_call_with_a_past_request_time(self, agent_client, team, agent):
        response = self._post(agent_client, team)
        ticket = Ticket.objects.get()
        assert response.status_code == 302 and response.url == f"/tickets/{ticket.pk}/"
        assert ticket.channel == "phone" and ticket.priority == "high" and ticket.created_by == agent
        assert timedelta(minutes=19) < ticket.created_at - ticket.requested_at < timedelta(minutes=21)
        assert ticket.resolution_due_at == add_working_time(
            ticket.requested_at, timedelta(hours=24), calendar_for(ticket)
        )
        assert ticket.reference in _page(agent_client.get(response.url))

    def test_a_double_clicked_create_makes_one_ticket(self, agent_client, team):
        first = self._post(agent_client, team, request_key="form-1")
        second = self._post(agent_client, team, request_key="form-1")
        assert Ticket.objects.count() == 1
        assert first.url == second.url

    def test_an_existing_customer_is_found_again_by_phone(self, agent_client, team):
        known = CustomerFactory(name="李雷", email="", phone="13800000001")
        self._post(agent_client, team, customer_email="")
        assert Ticket.objects.get().customer == known
        assert Customer.objects.count() == 1

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("subject", ""),
            ("subject", "x" * 100_000),
            ("customer_email", "not-an-email"),
            ("category", "99999"),
            ("team", "99999"),
            ("assignee", "nobody"),
            ("channel", "pigeon"),
            ("requested_at", "2999-01-01T10:00"),
        ],
    )
    def test_bad_input_is_refused_on_the_form_and_nothing_is_created(self, agent_client, team, field, value):
        response = self._post(agent_client, team, **{field: value})
        assert response.status_code == 400
        assert Ticket.objects.count() == 0
        html = _page(response)
        assert 'class="error"' in html
        assert "客户来电" in html  # what was typed is kept

    def test_assigning_at_creation_to_another_teams_agent_is_refused(self, agent_client, team, outsider):
        response = self._post(agent_client, team, assignee=outsider.username)
        assert response.status_code == 400 and Ticket.objects.count() == 0

    def test_an_agent_cannot_file_a_ticket_into_another_team(self, agent_client, other_team):
        response = self._post(agent_client, other_team)
        assert response.status_code == 400 and Ticket.objects.count() == 0


class TestTicketPage:
    def test_it_shows_the_customer_the_sla_clock_and_the_timeline(self, agent_client, ticket, agent):
        services.add_note(ticket=ticket, by=agent, body="先查保修")
        html = _page(agent_client.get(f"/tickets/{ticket.pk}/"))
        assert ticket.customer.email in html
        assert "sla-running" in html
        assert "先查保修" in html and "alice" in html.lower()

    def test_a_reply_is_recorded_and_the_page_says_so(self, agent_client, ticket):
        response = agent_client.post(f"/tickets/{ticket.pk}/reply/", {"body": "师傅明天上午到"}, follow=True)
        ticket.refresh_from_db()
        assert ticket.first_response_at is not None and ticket.status == Status.OPEN
        html = _page(response)
        assert "师傅明天上午到" in html and 'class="message success"' in html

    def test_a_double_clicked_reply_is_recorded_once(self, agent_client, ticket):
        data = {"body": "只记录一次", "request_key": "abc123"}
        agent_client.post(f"/tickets/{ticket.pk}/reply/", data)
        agent_client.post(f"/tickets/{ticket.pk}/reply/", data)
        assert ticket.events.filter(kind=EventKind.REPLY).count() == 1

    def test_a_note_does_not_count_as_first_response(self, agent_client, ticket):
        agent_client.post(f"/tickets/{ticket.pk}/note/", {"body": "internal"})
        ticket.refresh_from_db()
        assert ticket.first_response_at is None
        assert ticket.events.filter(kind=EventKind.NOTE).exists()

    def test_assign_pending_resolve_close_reopen_through_the_page(self, agent_client, ticket, colleague):
        steps = [
            ("assign", {"assignee": "bob"}),
            ("pending", {"note": "等客户发票"}),
            ("resolve", {"note": "更换主板"}),
            ("close", {}),
            ("reopen", {"reason": "又坏了"}),
        ]
        for action, data in steps:
            response = agent_client.post(f"/tickets/{ticket.pk}/{action}/", data)
            assert response.status_code == 302, (action, response.content[:500])
        ticket.refresh_from_db()
        assert (ticket.status, ticket.assignee, ticket.reopen_count, ticket.reassign_count) == (
            Status.OPEN,
            colleague,
            1,
            1,
        )
        kinds = list(ticket.events.values_list("kind", flat=True))
        assert kinds == ["created", "assigned", "pending", "resolved", "closed", "reopened"]

    def test_an_illegal_transition_shows_a_message_and_changes_nothing(self, agent_client, ticket):
        response = agent_client.post(f"/tickets/{ticket.pk}/close/", {"note": "我的备注"})
        assert response.status_code == 400
        ticket.refresh_from_db()
        assert ticket.status == Status.NEW
        assert "Only a resolved ticket can be closed" in _page(response) or "只有" in _page(response)

    def test_a_refused_action_keeps_what_was_typed(self, agent_client, ticket, outsider):
        response = agent_client.post(f"/tickets/{ticket.pk}/resolve/", {"note": ""})
        assert response.status_code == 400
        response = agent_client.post(f"/tickets/{ticket.pk}/assign/", {"assignee": outsider.username})
        assert response.status_code == 400
        ticket.refresh_from_db()
        assert ticket.assignee.username == "alice"

    def test_get_never_changes_anything(self, agent_client, ticket):
        assert agent_client.get(f"/tickets/{ticket.pk}/resolve/").status_code == 405
        ticket.refresh_from_db()
        assert ticket.status == Status.NEW

    def test_typed_html_is_shown_as_text(self, agent_client, team, agent):
        attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
        customer = CustomerFactory(name=attack)
        ticket = make_ticket(team=team, by=agent, subject=attack, description=attack, customer=customer)
        services.add_reply(ticket=ticket, by=agent, body=attack)
        for url in (f"/tickets/{ticket.pk}/", "/tickets/"):
            html = _page(agent_client.get(url))
            assert "<script>alert" not in html and "<img src=x" not in html
            assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


ROUTES = ["", "reply/", "note/", "assign/", "pending/", "resolve/", "close/", "reopen/"]


class TestPermissions:
    @pytest.mark.parametrize("route", ROUTES)
    def test_another_teams_agent_gets_404_on_every_ticket_url(self, client, outsider, ticket, route):
        client.force_login(outsider)
        method = client.get if route == "" else client.post
        response = method(f"/tickets/{ticket.pk}/{route}", {"body": "x", "note": "x", "reason": "x"})
        assert response.status_code == 404
        ticket.refresh_from_db()
        assert ticket.events.count() == 1

    @pytest.mark.parametrize("route", ROUTES)
    def test_anonymous_visitors_are_sent_to_the_login_page(self, client, ticket, route):
        method = client.get if route == "" else client.post
        response = method(f"/tickets/{ticket.pk}/{route}")
        assert response.status_code == 302 and response.url.startswith(reverse("login"))

    def test_a_non_numeric_or_unknown_id_is_404(self, agent_client):
        assert agent_client.get("/tickets/abc/").status_code == 404
        assert agent_client.get("/tickets/999999/").status_code == 404

    def test_the_supervisor_of_the_team_sees_its_tickets(self, client, supervisor, ticket):
        client.force_login(supervisor)
        assert client.get(f"/tickets/{ticket.pk}/").status_code == 200

    def test_a_manager_opens_any_ticket(self, client, manager, other_ticket):
        client.force_login(manager)
        assert client.get(f"/tickets/{other_ticket.pk}/").status_code == 200


class TestViews:
    def test_the_queue_opens_on_my_open_tickets_the_next_due_first(self, agent_client, team, agent, colleague):
        later = make_ticket(team=team, by=agent, assignee=agent, subject="普通报修", priority="low")
        sooner = make_ticket(team=team, by=agent, assignee=agent, subject="紧急报修", priority="urgent")
        theirs = make_ticket(team=team, by=agent, assignee=colleague, subject="同事的工单")
        done = make_ticket(team=team, by=agent, assignee=agent, subject="已解决的")
        services.resolve_ticket(ticket=done, by=agent, note="ok")

        html = _page(agent_client.get("/tickets/"))

        assert html.index(sooner.reference) < html.index(later.reference)  # an urgent target falls due first
        assert theirs.reference not in html and done.reference not in html
        assert 'aria-current="page">我的待办工单</a>' in html

    def test_each_built_in_view_and_its_count(self, agent_client, team, agent, colleague):
        mine = make_ticket(team=team, by=agent, assignee=agent, subject="mine")
        nobody = make_ticket(team=team, by=agent, subject="nobody")
        waiting = make_ticket(team=team, by=agent, assignee=colleague, subject="waiting")
        services.mark_pending(ticket=waiting, by=colleague)
        late = make_ticket(team=team, by=agent, subject="late", requested_at=timezone.now() - timedelta(days=5))
        expected = {
            "mine": {mine}, "unassigned": {nobody, late}, "waiting": {waiting}, "overdue": {late},
            "all": {mine, nobody, waiting, late},
        }  # fmt: skip
        for view, tickets in expected.items():
            html = _page(agent_client.get(f"/tickets/?view={view}"))
            shown = {t for t in (mine, nobody, waiting, late) if t.reference in html}
            assert shown == tickets, view
        sidebar = _page(agent_client.get("/tickets/")).split('class="views"', 1)[1].split("</ul>", 1)[0]
        counts = dict(re.findall(r'\?view=(\w+)[^>]*>[^<]*</a> <span class="view-count">(\d+)</span>', sidebar))
        assert counts == {"mine": "1", "unassigned": "2", "due_soon": "2", "overdue": "1", "waiting": "1",
                          "recent": "4", "all": "4"}  # fmt: skip

    def test_every_sortable_column_orders_the_list(self, agent_client, team, agent):
        low = make_ticket(team=team, by=agent, subject="低", priority="low")
        urgent = make_ticket(team=team, by=agent, subject="急", priority="urgent")
        html = _page(agent_client.get("/tickets/?view=all&sort=priority"))
        assert html.index(urgent.reference) < html.index(low.reference)
        html = _page(agent_client.get("/tickets/?view=all&sort=oldest"))
        assert html.index(low.reference) < html.index(urgent.reference)
        assert "sort=priority" in html and "sort=status" in html and "sort=reference" in html
        assert agent_client.get("/tickets/?sort=subject;drop").status_code == 200  # not a sort: a message

    def test_a_saved_view_comes_back_and_a_supervisor_shares_one_with_the_team(
        self, agent_client, client, team, agent, supervisor, outsider
    ):
        agent_client.post(reverse("tickets:view_save"), {"name": "我的紧急", "query": "view=mine&priority=urgent"})
        html = _page(agent_client.get("/tickets/"))
        assert '<a href="?view=mine&amp;priority=urgent">我的紧急</a>' in html

        refused = agent_client.post(
            reverse("tickets:view_save"), {"name": "全组", "query": "view=all", "team": team.pk}
        )
        assert refused.status_code == 302 and ">全组</a>" not in _page(agent_client.get("/tickets/"))

        client.force_login(supervisor)
        client.post(reverse("tickets:view_save"), {"name": "全组超时", "query": "view=overdue&evil=1", "team": team.pk})
        html = _page(agent_client.get("/tickets/"))
        assert '<a href="?view=overdue">全组超时</a>' in html  # shared with the team; only the queue's parameters

        client.force_login(outsider)
        assert "全组超时" not in _page(client.get("/tickets/"))

    def test_only_its_owner_deletes_a_saved_view(self, agent_client, client, team, colleague, agent):
        from tickets.models import SavedView

        agent_client.post(reverse("tickets:view_save"), {"name": "mine", "query": "view=mine"})
        view = SavedView.objects.get()
        client.force_login(colleague)
        client.post(reverse("tickets:view_delete", args=[view.pk]))
        assert SavedView.objects.exists()
        agent_client.force_login(agent)
        agent_client.post(reverse("tickets:view_delete", args=[view.pk]))
        assert not SavedView.objects.exists()
