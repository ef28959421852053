"""Complaints: the ladder (by hand and on the clock), the taboo flags, the closing loop, access, API."""

from __future__ import annotations

import importlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.utils import timezone, translation
from rest_framework.test import APIClient

from complaints import services
from complaints.access import complaints_for_user
from complaints.models import Complaint, ComplaintStatus, RootCause
from config.exceptions import ApplicationError
from outbox.models import OutgoingEmail
from surveys.models import SurveyResponse
from tests.factories import UserFactory, make_ticket
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _people_with_email(supervisor, manager):
    supervisor.email, manager.email = "carol@desk.example.com", "maria@desk.example.com"
    supervisor.save()
    manager.save()


@pytest.fixture
def complaint(team, agent):
    ticket = make_ticket(team=team, by=agent, assignee=agent, category="complaint", subject="师傅迟到两小时")
    return ticket.complaint


def test_a_complaint_ticket_opens_a_complaint_with_its_agent_at_level_one(complaint, agent):
    assert (complaint.level, complaint.handler, complaint.status, complaint.source) == (1, agent, "open", "category")
    assert complaint.due_at - complaint.opened_at == timedelta(hours=72)  # minor


def test_an_agent_raises_a_complaint_on_any_ticket(agent_client, ticket):
    response = agent_client.post(f"/complaints/raise/{ticket.pk}/", {"severity": "major"})
    complaint = Complaint.objects.get(ticket=ticket)
    assert response.status_code == 302 and (complaint.source, complaint.severity) == ("raised", "major")
    assert "投诉" in agent_client.get(f"/tickets/{ticket.pk}/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()


class TestLadder:
    def test_escalating_by_hand_goes_agent_supervisor_manager_with_reasons_notes_and_mail(
        self, complaint, agent, supervisor, manager
    ):
        services.escalate_complaint(complaint=complaint, by=agent, reason="客户要求主管处理")
        complaint.refresh_from_db()
        assert (complaint.level, complaint.handler) == (2, supervisor)
        mail = OutgoingEmail.objects.get(kind="complaint_escalated")
        assert mail.to == "carol@desk.example.com" and complaint.ticket.reference in mail.subject
        assert complaint.ticket.events.filter(kind="note", body__contains="客户要求主管处理").exists()
        services.escalate_complaint(complaint=complaint, by=supervisor, reason="涉及赔偿")
        complaint.refresh_from_db()
        assert (complaint.level, complaint.handler, complaint.escalation_count) == (3, manager, 2)
        event = complaint.events.filter(kind="escalated").last()
        assert (event.actor, event.reason, event.before["level"], event.after["level"]) == (
            supervisor,
            "涉及赔偿",
            2,
            3,
        )

    def test_escalating_past_the_manager_is_refused(self, complaint, agent, supervisor, manager):
        for by in (agent, supervisor):
            services.escalate_complaint(complaint=complaint, by=by, reason="up")
        with pytest.raises(ApplicationError, match="highest level"):
            services.escalate_complaint(complaint=complaint, by=manager, reason="more")
        complaint.refresh_from_db()
        assert complaint.level == 3 and complaint.escalation_count == 2

    def test_a_reason_is_required(self, complaint, agent):
        with pytest.raises(ApplicationError):
            services.escalate_complaint(complaint=complaint, by=agent, reason=" ")
        complaint.refresh_from_db()
        assert complaint.level == 1

    def test_the_clock_escalates_a_complaint_left_too_long_at_one_level(self, complaint, supervisor, manager):
        start = timezone.now()
        with time_machine.travel(start + timedelta(hours=23)):
            assert services.escalate_overdue() == 0
        with time_machine.travel(start + timedelta(hours=25)):
            assert services.escalate_overdue() == 1
            assert services.escalate_overdue() == 0  # once per level
        complaint.refresh_from_db()
        assert (complaint.level, complaint.handler) == (2, supervisor)
        assert complaint.events.filter(kind="escalated", actor=None).exists()
        with time_machine.travel(start + timedelta(hours=50)):
            services.escalate_overdue()
        complaint.refresh_from_db()
        assert (complaint.level, complaint.handler) == (3, manager)

    def test_the_clock_escalates_once_when_the_deadline_passes(self, team, agent, supervisor):
        from complaints.models import EscalationPolicy

        EscalationPolicy.objects.filter(severity="critical").update(resolve_hours=3, level_hours=100)
        ticket = make_ticket(team=team, by=agent, assignee=agent)
        complaint = services.open_complaint(ticket=ticket, by=agent, source="raised", severity="critical")
        with time_machine.travel(timezone.now() + timedelta(hours=4)):
            assert services.escalate_overdue() == 1
            assert services.escalate_overdue() == 0
        complaint.refresh_from_db()
        assert complaint.level == 2
        with translation.override(settings.LANGUAGE_CODE):  # automatic reasons are in the desk's language
            expected = translation.gettext("Automatic: the complaint passed its deadline.")
        assert complaint.events.filter(kind="escalated").get().reason == expected


class TestFlags:
    def _flags(self, user):
        complaint = complaints_for_user(user).get()
        return {name for name in ("buck", "perfunctory", "delay") if getattr(complaint, f"flag_{name}")}

    def test_no_flags_on_a_fresh_complaint(self, complaint, agent):
        assert self._flags(agent) == set()

    def test_passing_the_buck_after_three_reassignments(self, complaint, agent, colleague, supervisor):
        for who in (colleague, supervisor, agent):
            ticket_services.assign_ticket(ticket=complaint.ticket, by=agent, assignee=who)
        assert "buck" in self._flags(agent)

    def test_perfunctory_when_resolved_without_a_public_reply(self, complaint, agent):
        ticket_services.resolve_ticket(ticket=complaint.ticket, by=agent, note="done")
        assert "perfunctory" in self._flags(agent)

    def test_delay_when_nothing_moved_for_longer_than_allowed(self, complaint, agent):
        with time_machine.travel(timezone.now() + timedelta(hours=25)):
            assert "delay" in self._flags(agent)

    def test_the_board_filters_by_flag(self, complaint, agent, client, supervisor):
        ticket_services.resolve_ticket(ticket=complaint.ticket, by=agent, note="done")
        client.force_login(supervisor)
        assert complaint.ticket.reference in client.get("/complaints/?flag=perfunctory").content.decode()
        assert complaint.ticket.reference not in client.get("/complaints/?flag=buck").content.decode()


class TestClosing:
    def test_closing_without_the_customers_confirmation_is_impossible(self, complaint, agent, agent_client):
        with pytest.raises(ApplicationError, match="confirms"):
            services.close_complaint(complaint=complaint, by=agent)
        response = agent_client.post(f"/complaints/{complaint.pk}/close/", {"note": "done"})
        assert response.status_code == 400
        complaint.refresh_from_db()
        assert complaint.status != ComplaintStatus.CLOSED

    def test_a_logged_confirmation_closes_the_loop(self, complaint, agent, agent_client):
        services.update_complaint(complaint=complaint, by=agent, corrective_action="重新上门,赠送保养一次",
                                  root_cause=RootCause.objects.first())  # fmt: skip
        services.request_confirmation(complaint=complaint, by=agent)
        agent_client.post(f"/complaints/{complaint.pk}/confirm/",
                          {"channel": "phone", "contact": "王先生本人", "note": "问题已解决,很满意"})  # fmt: skip
        response = agent_client.post(f"/complaints/{complaint.pk}/close/", {"note": "闭环"})
        assert response.status_code == 302
        complaint.refresh_from_db()
        assert complaint.status == "closed" and complaint.confirmation_channel == "phone" and complaint.closed_at

    def test_a_satisfied_survey_after_the_fix_closes_the_loop(self, complaint, agent, client):
        ticket_services.resolve_ticket(ticket=complaint.ticket, by=agent, note="fixed")
        invitation = complaint.ticket.survey
        SurveyResponse.objects.create(invitation=invitation, ticket=complaint.ticket, template=invitation.template,
                                      overall=5, nps=9, answers={"overall": 5})  # fmt: skip
        services.close_complaint(complaint=complaint, by=agent)
        complaint.refresh_from_db()
        assert complaint.status == "closed"

    def test_an_unhappy_survey_does_not_close_it(self, complaint, agent):
        ticket_services.resolve_ticket(ticket=complaint.ticket, by=agent, note="fixed")
        invitation = complaint.ticket.survey
        SurveyResponse.objects.create(invitation=invitation, ticket=complaint.ticket, template=invitation.template,
                                      overall=2, answers={})  # fmt: skip
        with pytest.raises(ApplicationError):
            services.close_complaint(complaint=complaint, by=agent)

    def test_the_previous_handler_still_sees_it_but_can_no_longer_close_it(self, complaint, agent, agent_client):
        services.escalate_complaint(complaint=complaint, by=agent, reason="up")
        complaint.refresh_from_db()
        services.log_confirmation(complaint=complaint, by=complaint.handler, channel="phone", contact="x", note="ok")
        page = agent_client.get(f"/complaints/{complaint.pk}/")
        assert page.status_code == 200 and f'action="/complaints/{complaint.pk}/close/"' not in page.content.decode()
        assert agent_client.post(f"/complaints/{complaint.pk}/close/", {}).status_code == 400
        complaint.refresh_from_db()
        assert complaint.status != "closed"


class TestBadInput:
    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"compensation_kind": "refund", "compensation_amount": "-5"}, "compensation_amount"),
            ({"compensation_kind": "refund", "compensation_amount": "99999999"}, "compensation_amount"),
            ({"compensation_kind": "none", "compensation_amount": "100"}, "compensation_kind"),
        ],
    )
    def test_absurd_compensation_is_refused(self, complaint, agent_client, changes, field):
        data = {"severity": "minor", "root_cause": "", "corrective_action": "x", "version": 0, **changes}
        response = agent_client.post(f"/complaints/{complaint.pk}/update/", data)
        assert response.status_code == 400
        complaint.refresh_from_db()
        assert complaint.compensation_amount == 0 and complaint.status == "open"

    def test_a_root_cause_outside_the_list_is_refused(self, complaint, agent):
        retired = RootCause.objects.create(name_zh="旧", name_en="old", active=False)
        with pytest.raises(ApplicationError):
            services.update_complaint(complaint=complaint, by=agent, root_cause=retired)
        complaint.refresh_from_db()
        assert complaint.root_cause is None

    def test_an_agent_cannot_act_on_a_complaint_no_longer_theirs(self, complaint, agent, colleague):
        with pytest.raises(ApplicationError):
            services.update_complaint(complaint=complaint, by=colleague, corrective_action="x")
        with pytest.raises(ApplicationError):
            services.escalate_complaint(complaint=complaint, by=colleague, reason="x")


class TestAccess:
    @pytest.mark.parametrize("route", ["", "escalate/", "update/", "request-confirmation/", "confirm/", "close/"])
    def test_another_teams_agent_gets_404(self, complaint, client, outsider, route):
        client.force_login(outsider)
        method = client.get if route == "" else client.post
        assert method(f"/complaints/{complaint.pk}/{route}", {"reason": "x"}).status_code == 404
        assert complaint.ticket.reference not in client.get("/complaints/").content.decode()

    def test_anonymous_visitors_log_in_first(self, complaint, client):
        assert client.get(f"/complaints/{complaint.pk}/").status_code == 302
        assert APIClient().get("/api/complaints/").status_code == 401


def test_the_api_flow_list_raise_read_escalate_confirm_close(team, agent, supervisor, ticket):
    api = APIClient()
    api.force_authenticate(agent)
    created = api.post("/api/complaints/", {"ticket": ticket.pk, "severity": "major"}, format="json")
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert api.get(f"/api/complaints/{pk}/").json()["level"] == 1
    assert api.post(f"/api/complaints/{pk}/close/", {}, format="json").status_code == 400
    escalated = api.post(f"/api/complaints/{pk}/escalate/", {"reason": "客户情绪激动"}, format="json").json()
    assert (escalated["level"], escalated["handler"]) == (2, "carol")
    # The previous handler still sees the complaint, but may no longer close or change it: 403, not 400.
    refused = api.post(f"/api/complaints/{pk}/close/", {"note": "我来关"}, format="json")
    assert refused.status_code == 403 and refused.json()["detail"]
    assert api.post(f"/api/complaints/{pk}/confirmation/",
                    {"channel": "email", "contact": "x", "note": "y"}, format="json").status_code == 403  # fmt: skip
    api.force_authenticate(supervisor)
    confirmed = api.post(f"/api/complaints/{pk}/confirmation/",
                         {"channel": "email", "contact": "客户邮件", "note": "满意"}, format="json")  # fmt: skip
    assert confirmed.status_code == 200 and confirmed.json()["confirmation_channel"] == "email"
    closed = api.post(f"/api/complaints/{pk}/close/", {"note": "闭环"}, format="json").json()
    assert closed["status"] == "closed"
    assert [c["id"] for c in api.get("/api/complaints/", {"status": "closed"}).json()["results"]] == [pk]
    outsider_api = APIClient()
    outsider_api.force_authenticate(UserFactory(username="stranger"))
    assert outsider_api.get(f"/api/complaints/{pk}/").status_code == 404


def test_unhappy_survey_follow_ups_become_complaints_and_old_ones_are_migrated(team, agent, supervisor):
    from surveys.services import open_follow_up

    ticket = make_ticket(team=team, by=agent)
    ticket_services.resolve_ticket(ticket=ticket, by=agent, note="done")
    invitation = ticket.survey
    response = SurveyResponse.objects.create(invitation=invitation, ticket=ticket, template=invitation.template,
                                             overall=1, answers={"overall": 1})  # fmt: skip
    follow_up = open_follow_up(response)
    response.follow_up = follow_up
    response.save()
    assert follow_up.complaint.source == "survey" and follow_up.complaint.handler == supervisor

    Complaint.objects.filter(ticket=follow_up).delete()  # as before complaints existed
    importlib.import_module("complaints.migrations.0002_defaults_schedule_and_backfill").backfill(apps)
    migrated = Complaint.objects.get(ticket=follow_up)
    assert (migrated.source, migrated.level, migrated.status) == ("survey", 1, "open")


def test_the_board_summarises_by_root_cause_with_flag_counts(complaint, agent, client, supervisor):
    cause = RootCause.objects.get(name_en="Service attitude")
    services.update_complaint(complaint=complaint, by=agent, root_cause=cause, corrective_action="道歉并重新上门")
    ticket_services.resolve_ticket(ticket=complaint.ticket, by=agent, note="done")  # no public reply: perfunctory
    client.force_login(supervisor)
    page = client.get("/complaints/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    main = page.split("<main", 1)[1]
    row = main.split('id="by-root-cause"', 1)[1].split("Service attitude", 1)[1].split("</tr>", 1)[0]
    assert f'href="?root_cause={cause.pk}&amp;flag=perfunctory">1<' in row
    listed = client.get(f"/complaints/?root_cause={cause.pk}&flag=perfunctory").content.decode()
    assert complaint.ticket.reference in listed


def test_the_sweep_notes_when_a_complaint_first_went_without_an_update_too_long(complaint):
    later = timezone.now() + timedelta(hours=25)
    with time_machine.travel(later):
        services.escalate_overdue()
    complaint.refresh_from_db()
    assert complaint.delayed_at is not None
    first = complaint.delayed_at
    with time_machine.travel(later + timedelta(hours=30)):
        services.escalate_overdue()
    complaint.refresh_from_db()
    assert complaint.delayed_at == first
    assert first == complaint.delay_due_at  # the moment its window passed, not the sweep's
    (delayed,) = complaint.events.filter(kind="delayed")  # in its history, once, by nobody in particular
    assert delayed.actor is None and later <= delayed.at < later + timedelta(minutes=1)  # when the sweep saw it


def test_the_complaint_statuses_follow_their_table(complaint, agent):
    assert services.allowed_actions(complaint) >= {"escalate", "update", "request_confirmation", "close"}
    services.update_complaint(complaint=complaint, by=agent, corrective_action="上门更换")
    services.request_confirmation(complaint=complaint, by=agent)
    with pytest.raises(ApplicationError):
        services.request_confirmation(complaint=complaint, by=agent)  # awaiting already
    complaint.refresh_from_db()
    assert "request_confirmation" not in services.allowed_actions(complaint)
    assert complaint.events.filter(kind="awaiting").count() == 1


def test_admin_can_neither_change_nor_delete_a_complaint(admin_client, complaint):
    assert admin_client.get(f"/admin/complaints/complaint/{complaint.pk}/delete/").status_code == 403
    admin_client.post("/admin/complaints/complaint/", {"action": "delete_selected", "_selected_action": [complaint.pk]})
    assert Complaint.objects.filter(pk=complaint.pk).exists()


class TestTwoEditorsAtOnce:
    """Two people open the same complaint and both save: the second, stale form does not overwrite."""

    def _form(self, client, complaint) -> dict:
        html = client.get(f"/complaints/{complaint.pk}/").content.decode()
        version = re.search(r'name="version" value="(\d+)"', html).group(1)
        return {"severity": "minor", "root_cause": "", "compensation_kind": "none", "compensation_amount": "0",
                "version": version}  # fmt: skip

    def test_the_stale_form_is_refused_with_both_texts_in_view_and_saving_again_is_deliberate(
        self, complaint, agent, manager, client
    ):
        from django.test import Client

        mine, theirs = Client(), Client()
        mine.force_login(agent)
        theirs.force_login(manager)
        my_form, their_form = self._form(mine, complaint), self._form(theirs, complaint)

        saved = theirs.post(
            f"/complaints/{complaint.pk}/update/", {**their_form, "corrective_action": "上门更换<主板>"}
        )
        assert saved.status_code == 302
        stale = mine.post(f"/complaints/{complaint.pk}/update/", {**my_form, "corrective_action": "电话道歉并退款"})
        html = stale.content.decode()
        assert stale.status_code == 409
        assert "上门更换&lt;主板&gt;" in html  # what was saved meanwhile, escaped
        assert "电话道歉并退款</textarea>" in html  # what this editor typed, kept
        complaint.refresh_from_db()
        assert complaint.corrective_action == "上门更换<主板>" and complaint.version == 1

        again = re.search(r'name="version" value="(\d+)"', html).group(1)
        assert again == "1"  # the form now carries the current version: saving again replaces on purpose
        resaved = mine.post(f"/complaints/{complaint.pk}/update/",
                            {**my_form, "version": again, "corrective_action": "电话道歉并退款"})  # fmt: skip
        assert resaved.status_code == 302
        complaint.refresh_from_db()
        assert complaint.corrective_action == "电话道歉并退款" and complaint.version == 2
        assert complaint.events.filter(kind="updated").count() == 2

    def test_a_form_without_its_version_is_refused(self, complaint, agent_client):
        data = {"severity": "minor", "corrective_action": "x", "compensation_kind": "none"}
        response = agent_client.post(f"/complaints/{complaint.pk}/update/", data)
        assert response.status_code == 400
        complaint.refresh_from_db()
        assert complaint.corrective_action == ""
