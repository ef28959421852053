"""Seed 003's complaint rules kept under escalation: the delay taboo runs from the last handling,
severity follows the unhappy answer, closing the loop resolves the ticket, the ladder's appointment,
the reaction time, and a complaint page that says who complained about what."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db.models import F
from django.utils import timezone, translation
from rest_framework.test import APIClient

from complaints import services
from complaints.access import complaints_for_user
from complaints.models import Complaint, SeverityRule, severity_for_answer
from config.exceptions import ApplicationError
from kpis.engine import refresh_kpis
from kpis.models import KPIValue
from outbox.models import OutgoingEmail
from surveys.services import submit_survey
from tests.factories import CustomerFactory, make_ticket
from tickets import services as ticket_services
from tickets.models import Status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def complaint(team, agent):
    ticket = make_ticket(team=team, by=agent, assignee=agent, category="complaint", subject="师傅迟到两小时")
    return ticket.complaint


def _delayed(manager) -> set[int]:
    """The complaints the board's delay filter lists."""
    return set(complaints_for_user(manager).filter(flag_delay=True).values_list("pk", flat=True))


def _kpi_delayed() -> int:
    """The delay KPI's numerator over every complaint, as the engine stores it."""
    refresh_kpis(full=True)
    return int(sum(KPIValue.objects.filter(kpi="complaints_delayed", granularity="day", dimension="all")
                   .values_list("numerator", flat=True)))  # fmt: skip


class TestDelay:
    def test_escalation_does_not_clear_the_delay_and_the_flag_and_the_kpi_agree(self, complaint, agent, manager):
        with time_machine.travel(timezone.now() + timedelta(hours=25)):  # a minor complaint: 24 h without handling
            assert _delayed(manager) == {complaint.pk}
            assert _kpi_delayed() == 1  # before any sweep marked it
            services.escalate_complaint(complaint=complaint, by=agent, reason="客户要求主管处理")
            assert _delayed(manager) == {complaint.pk}
            services.escalate_overdue()  # the sweep: marks it, may escalate it again
            assert _delayed(manager) == {complaint.pk} and _kpi_delayed() == 1

    def test_handling_in_time_keeps_it_off_both_the_flag_and_the_kpi(self, complaint, agent, manager):
        start = timezone.now()
        with time_machine.travel(start + timedelta(hours=20)):
            ticket_services.log_call(ticket=complaint.ticket, by=agent, summary="致电道歉, 约定上门")
        with time_machine.travel(start + timedelta(hours=30)):  # 10 h after the call
            services.escalate_overdue()
            assert _delayed(manager) == set() and _kpi_delayed() == 0
        complaint.refresh_from_db()
        assert complaint.delayed_at is None and complaint.first_handled_at is not None
        with time_machine.travel(start + timedelta(hours=45)):  # 25 h after the call
            assert _delayed(manager) == {complaint.pk} and _kpi_delayed() == 1

    def test_handled_after_its_window_it_still_counts_as_delayed(self, complaint, agent, manager):
        with time_machine.travel(timezone.now() + timedelta(hours=30)):
            services.update_complaint(complaint=complaint, by=agent, corrective_action="重新上门并道歉")
            complaint.refresh_from_db()
            assert complaint.delayed_at == complaint.opened_at + timedelta(hours=24)
            assert _delayed(manager) == {complaint.pk} and _kpi_delayed() == 1


class TestSeverityRules:
    @pytest.mark.parametrize(
        ("overall", "nps", "severity"),
        [(1, 8, "major"), (2, 3, "major"), (2, 5, "minor"), (2, None, "minor"), (None, 0, "major")],
    )
    def test_the_default_rules(self, overall, nps, severity):
        assert severity_for_answer(overall, nps) == severity

    def test_an_admin_rule_grades_the_complaint_an_unhappy_answer_opens(self, team, agent, supervisor, admin_client):
        SeverityRule.objects.update(position=F("position") + 10)  # the new rule goes first
        rule = {"position": 0, "overall_at_most": 1, "nps_at_most": 1, "severity": "critical"}
        response = admin_client.post("/admin/complaints/severityrule/add/", rule)
        assert response.status_code == 302
        empty = admin_client.post(
            "/admin/complaints/severityrule/add/", {"position": 5, "severity": "major"}, HTTP_ACCEPT_LANGUAGE="en"
        )
        assert empty.status_code == 200 and "at least one condition" in empty.content.decode()
        assert SeverityRule.objects.count() == 3
        ticket = make_ticket(team=team, by=agent, assignee=agent, customer=CustomerFactory(email="u@example.com"))
        ticket_services.resolve_ticket(ticket=ticket, by=agent, note="done")
        answer = submit_survey(invitation=ticket.survey, answers={"overall": 1, "nps": 0, "comments": "太差了"})
        complaint = Complaint.objects.get(ticket=answer.follow_up)
        assert complaint.severity == "critical" and complaint.source == "survey"
        assert complaint.due_at - complaint.opened_at == timedelta(hours=24)  # the critical policy's window
        assert complaint.events.filter(kind="updated", actor=None, after={"severity": "critical"}).exists()


def test_closing_the_loop_resolves_the_follow_up_ticket_once(team, agent, supervisor):
    ticket = make_ticket(team=team, by=agent, assignee=agent, customer=CustomerFactory(email="v@example.com"))
    ticket_services.resolve_ticket(ticket=ticket, by=agent, note="done")
    answer = submit_survey(invitation=ticket.survey, answers={"overall": 1, "nps": 2})
    follow_up = answer.follow_up
    complaint = follow_up.complaint
    services.log_confirmation(complaint=complaint, by=supervisor, channel="phone", contact="本人", note="已满意")
    services.close_complaint(complaint=complaint, by=supervisor)
    follow_up.refresh_from_db()
    assert follow_up.status == Status.RESOLVED
    resolution = follow_up.events.get(kind="resolved").body
    assert "本人" in resolution and "已满意" in resolution
    # the customer who confirmed by phone gets no new satisfaction survey for the follow-up
    assert not OutgoingEmail.objects.filter(kind="survey_invitation", ticket=follow_up).exists()


class TestAppointment:
    def test_a_level_two_complaint_carries_an_appointment_shown_and_reminded(self, complaint, agent, supervisor,
                                                                               client):  # fmt: skip
        client.force_login(supervisor)
        with pytest.raises(ApplicationError, match="escalate it first"):
            services.set_appointment(complaint=complaint, by=agent, at=timezone.now() + timedelta(days=1),
                                     place="服务中心贵宾室", with_whom="王经理")  # fmt: skip
        services.escalate_complaint(complaint=complaint, by=agent, reason="换当事人")
        supervisor.email = "carol@desk.example.com"
        supervisor.save()
        at = timezone.now() + timedelta(hours=5)
        services.set_appointment(complaint=complaint, by=supervisor, at=at, place="服务中心贵宾室", with_whom="王经理")
        complaint.refresh_from_db()
        assert (complaint.appointment_at, complaint.appointment_place) == (at, "服务中心贵宾室")
        assert complaint.first_handled_at is not None  # an appointment is handling
        board = client.get("/complaints/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "服务中心贵宾室" in board and "with 王经理" in board
        ticket_page = client.get(f"/tickets/{complaint.ticket_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "Appointment" in ticket_page and "服务中心贵宾室" in ticket_page
        api = APIClient()
        api.force_authenticate(supervisor)
        read = api.get(f"/api/complaints/{complaint.pk}/").json()
        assert read["appointment_place"] == "服务中心贵宾室" and read["first_handled_at"]
        moved = api.post(f"/api/complaints/{complaint.pk}/appointment/",
                         {"at": (at + timedelta(hours=1)).isoformat(), "place": "客户家中", "with_whom": "王经理"},
                         format="json")  # fmt: skip
        assert moved.status_code == 200 and moved.json()["appointment_place"] == "客户家中"
        complaint.refresh_from_db()
        at = complaint.appointment_at
        assert services.remind_appointments() == 0  # hours ahead: not yet
        with time_machine.travel(at - timedelta(hours=1)):
            assert services.remind_appointments() == 1
            assert services.remind_appointments() == 0  # once
        (mail,) = OutgoingEmail.objects.filter(kind="complaint_appointment")
        assert mail.to == "carol@desk.example.com" and "客户家中" in mail.body_text

    @pytest.mark.parametrize(
        ("field", "kwargs"),
        [
            ("appointment_at", {"at": timezone.now() - timedelta(hours=1), "place": "x", "with_whom": "y"}),
            ("appointment_place", {"at": timezone.now() + timedelta(days=1), "place": " ", "with_whom": "y"}),
            ("appointment_with", {"at": timezone.now() + timedelta(days=1), "place": "x", "with_whom": ""}),
        ],
    )
    def test_an_incomplete_appointment_is_refused(self, complaint, agent, field, kwargs):
        services.escalate_complaint(complaint=complaint, by=agent, reason="换当事人")
        complaint.refresh_from_db()
        with pytest.raises(ApplicationError) as refused:
            services.set_appointment(complaint=complaint, by=complaint.handler, **kwargs)
        assert refused.value.field == field
        assert Complaint.objects.get(pk=complaint.pk).appointment_at is None


def test_the_reaction_time_is_the_first_handling_after_opening(complaint, agent):
    with time_machine.travel(complaint.opened_at + timedelta(hours=3)):
        ticket_services.add_reply(ticket=complaint.ticket, by=agent, body="非常抱歉, 我们马上处理")
    with time_machine.travel(complaint.opened_at + timedelta(hours=5)):
        ticket_services.log_call(ticket=complaint.ticket, by=agent, summary="再次致电")
    complaint.refresh_from_db()
    assert complaint.first_handled_at - complaint.opened_at == pytest.approx(
        timedelta(hours=3), abs=timedelta(seconds=5)
    )
    refresh_kpis(full=True)
    (value,) = KPIValue.objects.filter(kpi="complaint_reaction_time", granularity="day", dimension="all")
    assert value.value == pytest.approx(3, abs=0.01)


def test_the_complaint_page_says_who_complained_about_what_and_who_handles_it(team, agent, supervisor, client):
    supervisor.first_name, supervisor.last_name = "王芳", ""
    supervisor.save()
    ticket = make_ticket(team=team, by=agent, assignee=agent, customer=CustomerFactory(name="赵女士",
                         email="zhao@example.com"), subject="空调漏水")  # fmt: skip
    ticket_services.resolve_ticket(ticket=ticket, by=agent, note="done")
    answer = submit_survey(
        invitation=ticket.survey, answers={"overall": 1, "nps": 1, "comments": "<b>师傅态度很差</b>"}
    )
    complaint = Complaint.objects.get(ticket=answer.follow_up)
    client.force_login(supervisor)
    page = client.get(f"/complaints/{complaint.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "赵女士" in page and "空调漏水" in page and ticket.reference in page
    assert "&lt;b&gt;师傅态度很差&lt;/b&gt;" in page  # the customer's words, escaped
    assert "第 1 级 · 客服 王芳" in page  # a follow-up starts with the supervisor
    assert f'action="/complaints/{complaint.pk}/close/"' in page  # who acts from it
    services.escalate_complaint(complaint=complaint, by=supervisor, reason="换当事人")
    page = client.get(f"/complaints/{complaint.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "第 2 级 · 主管 王芳" in page


def test_the_ticket_page_shows_the_customers_last_answers_and_other_open_complaints(agent_client, team, agent):
    from django.urls import reverse

    from surveys.services import submit_survey
    from tests.factories import CustomerFactory, make_ticket
    from tickets import services as ticket_services

    customer = CustomerFactory(email="returning@example.com")
    earlier = make_ticket(team=team, by=agent, customer=customer, subject="上次的报修")
    earlier = ticket_services.resolve_ticket(ticket=earlier, by=agent, note="已修复")
    submit_survey(invitation=earlier.survey, answers={"overall": 1, "nps": 2})  # unhappy: a complaint opens
    current = make_ticket(team=team, by=agent, customer=customer, subject="又坏了")

    page = agent_client.get(reverse("tickets:detail", args=[current.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    survey_card = page.split('id="survey"', 1)[1].split("</section>", 1)[0]
    assert earlier.reference in survey_card and "satisfaction 1/5, recommendation 2/10" in survey_card
    complaint_card = page.split('id="complaint"', 1)[1].split("</section>", 1)[0]
    assert "The customer's other open complaints" in complaint_card
