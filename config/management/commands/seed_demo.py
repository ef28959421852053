"""``manage.py seed_demo``: demo teams, people and ~3,000 tickets over the last 90 days.

Idempotent: people and teams are created once (their passwords reset to the demo
password), tickets only while the demo teams hold fewer than ``--tickets``.
History is written in bulk: the tickets are past events, so their timestamps,
counters and timeline rows are generated together rather than replayed
through the services one by one.
"""

from __future__ import annotations

import math
import random
import secrets
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone

from complaints.services import open_missing_complaints
from config.demo_history import answers_for, complaint_history, follow_up_tickets, phone_follow_ups
from notifications.models import Kind, Notification
from notifications.services import sweep_sla
from surveys.models import SurveyInvitation, SurveyResponse, SurveyTemplate
from surveys.services import hash_token, token_for
from tickets.access import MANAGERS_GROUP
from tickets.models import (
    LIVE_CHANNELS,
    REPEAT_WINDOW,
    CannedReply,
    Category,
    Channel,
    Customer,
    EventKind,
    Priority,
    Status,
    Tag,
    Team,
    Ticket,
    TicketEvent,
)
from tickets.services import (
    apply_due_times,
    create_ticket,
    format_reference,
    merge_tickets,
    save_canned_reply,
    working_durations,
)
from tickets.sla import SlaLookup, sla_policy_for

User = get_user_model()

DEMO_PASSWORD = "demo-pass-2026"
DEMO_TAGS = ["VIP", "以旧换新", "安装预约", "延保", "批次 2026-10", "批次 2026-11"]
DEMO_CANNED = [
    ("受理确认", "{customer}您好，您的工单 {reference} 已由{agent}受理，预计 {due} 前给您答复。",
     "Dear {customer}, {agent} has taken up {reference}; you will hear from us by {due}.", ""),
    ("请提供照片", "{customer}您好，为尽快处理工单 {reference}，请回复邮件附上产品铭牌和故障部位的照片。",
     "Dear {customer}, to move {reference} on, please reply with photos of the rating plate and the fault.",
     "pending"),
]  # fmt: skip
DEMO_PHONE_PREFIX = "100"  # no real Chinese number starts so: marks demo customers
TEAMS = [
    ("热线服务组", "sup1", ["agent1", "agent2"]),
    ("维修服务组", "sup2", ["agent3", "agent4"]),
    ("退换货服务组", "sup3", ["agent5", "agent6"]),
]
# Chinese names are written surname first, so the whole name goes in first_name.
PEOPLE = {
    "manager": "王经理",
    "sup1": "李主管",
    "sup2": "赵主管",
    "sup3": "陈主管",
    "agent1": "张芳",
    "agent2": "刘伟",
    "agent3": "杨静",
    "agent4": "黄强",
    "agent5": "周敏",
    "agent6": "吴磊",
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "华",
    "慧",
    "建国",
    "晓东",
    "子涵",
    "浩然",
    "雨桐",
    "欣怡",
    "一鸣",
    "嘉怡",
    "思远",
    "梓轩",
]
PRODUCTS = [
    "空调 KFR-35GW",
    "冰箱 BCD-470",
    "洗衣机 XQG100",
    "热水器 JSQ30",
    "电视 65E8",
    "净水器 RO-600",
    "扫地机器人 T10",
    "微波炉 M3-233",
]
SUBJECTS = {
    "repair": ["{p} 不制冷", "{p} 开机无反应", "{p} 漏水", "{p} 噪音过大", "{p} 显示故障代码 E4", "{p} 需要上门维修"],
    "inquiry": ["{p} 保修期查询", "{p} 如何清洗滤网", "咨询 {p} 安装费用", "{p} 配件价格咨询", "发票开具咨询"],
    "complaint": [
        "维修师傅迟到两小时",
        "{p} 维修后问题依旧",
        "客服电话长时间无人接听",
        "上门服务态度差",
        "配件费用与报价不符",
    ],
    "suggestion": ["建议增加周末上门服务", "建议短信通知师傅到达时间", "建议公众号支持进度查询"],
    "praise": ["表扬维修师傅认真负责", "感谢客服耐心解答", "表扬上门服务准时专业"],
    "return": ["{p} 七天无理由退货", "{p} 收到时外观破损要求换货", "{p} 尺寸不合适申请退换"],
}
CATEGORY_WEIGHTS = {"repair": 38, "inquiry": 30, "complaint": 6, "suggestion": 5, "praise": 4, "return": 17}
CHANNEL_WEIGHTS = {
    Channel.PHONE: 40,
    Channel.EMAIL: 12,
    Channel.WEB: 18,
    Channel.CHAT: 20,
    Channel.SOCIAL: 5,
    Channel.WALK_IN: 5,
}
PRIORITY_WEIGHTS = {Priority.LOW: 15, Priority.NORMAL: 60, Priority.HIGH: 20, Priority.URGENT: 5}
TEAM_FOR_CATEGORY = {"repair": 1, "return": 2}  # the rest go to the hotline team mostly


class Command(BaseCommand):
    help = "Create demo teams, people and tickets (idempotent). Prints the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=3000, help="how many demo tickets to have (default 3000)")
        parser.add_argument("--days", type=int, default=90, help="spread tickets over this many past days")
        parser.add_argument("--seed", type=int, default=2026, help="random seed")

    def handle(self, *args, tickets: int, days: int, seed: int, **options):
        rng = random.Random(seed)
        self._sla = SlaLookup()
        with transaction.atomic():
            users = self._people()
            teams = self._teams(users)
        existing = Ticket.objects.filter(team__in=teams).count()
        created = 0
        if existing < tickets:
            created = self._tickets(rng, teams, users, tickets - existing, days)
            self._repeats(teams)
            self._surveys(rng, teams)
            self._history(rng, teams)
            self._workbench(rng, teams, users)
        self._summary(users, teams, existing, created)

    def _people(self) -> dict[str, User]:
        managers, _ = Group.objects.get_or_create(name=MANAGERS_GROUP)
        users = {}
        for username, full_name in PEOPLE.items():
            user, _ = User.objects.get_or_create(username=username, defaults={"first_name": full_name})
            user.first_name, user.last_name = full_name, ""
            user.set_password(DEMO_PASSWORD)
            user.email = f"{username}@desk.example.com"
            user.is_staff = username == "manager" or username.startswith("sup")
            user.is_superuser = username == "manager"
            user.save()
            users[username] = user
        users["manager"].groups.add(managers)
        return users

    def _teams(self, users) -> list[Team]:
        teams = []
        for name, supervisor, agents in TEAMS:
            team, _ = Team.objects.get_or_create(name=name, defaults={"supervisor": users[supervisor]})
            team.supervisor = users[supervisor]
            team.save(update_fields=["supervisor"])
            team.members.add(*(users[a] for a in agents))
            teams.append(team)
        return teams

    def _customers(self, rng: random.Random, count: int) -> list[Customer]:
        demo = Customer.objects.filter(phone__startswith=DEMO_PHONE_PREFIX)
        start = demo.count()
        new = []
        for i in range(start, count):
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            new.append(
                Customer(
                    name=name,
                    email=f"demo.customer{i:04d}@example.com" if rng.random() < 0.8 else "",
                    phone=f"{DEMO_PHONE_PREFIX}{i:08d}",
                    preferred_language="en" if rng.random() < 0.1 else "zh-hans",
                )
            )
        Customer.objects.bulk_create(new, batch_size=500)
        return list(demo.order_by("id")[:count])

    def _tickets(self, rng: random.Random, teams, users, count: int, days: int) -> int:
        now = timezone.now()
        categories = {c.slug: c for c in Category.objects.all()}
        slugs = [s for s in CATEGORY_WEIGHTS if s in categories] or list(categories)
        customers = self._customers(rng, max(50, count))
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval('ticket_reference_seq') FROM generate_series(1, %s)", [count])
            numbers = [row[0] for row in cursor.fetchall()]
        agents = {team.pk: list(team.members.all()) for team in teams}
        policies = {}
        requested_times = sorted(self._request_time(rng, now, days) for _ in range(count))
        batch: list[tuple[Ticket, list[TicketEvent]]] = []
        made = 0
        for index in range(count):
            slug = rng.choices(slugs, weights=[CATEGORY_WEIGHTS.get(s, 5) for s in slugs])[0]
            team = teams[TEAM_FOR_CATEGORY.get(slug, 0)] if rng.random() < 0.8 else rng.choice(teams)
            priority = rng.choices(list(PRIORITY_WEIGHTS), weights=list(PRIORITY_WEIGHTS.values()))[0]
            key = (priority, categories[slug].pk)
            if key not in policies:
                policies[key] = sla_policy_for(priority=priority, category_id=categories[slug].pk)
            requested = requested_times[index]
            ticket, events = self._one(
                rng,
                now,
                requested,
                numbers[index],
                categories[slug],
                team,
                agents[team.pk],
                priority,
                policies[key],
                customers[index] if rng.random() > 0.06 else rng.choice(customers[: index + 1]),
            )
            batch.append((ticket, events))
            if len(batch) == 500 or index == count - 1:
                self._flush(batch)
                made += len(batch)
                batch = []
                self.stdout.write(f"  tickets: {made}/{count}", ending="\r")
                self.stdout.flush()
        self.stdout.write("")
        return made

    @staticmethod
    def _request_time(rng: random.Random, now: datetime, days: int) -> datetime:
        # More tickets recently and in office hours (local time).
        age_days = days * (1 - math.sqrt(rng.random()))
        local = timezone.localtime(now - timedelta(days=age_days))
        hour = min(22, max(7, int(rng.gauss(13, 3.2))))
        local = local.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60), microsecond=0)
        if local > now:  # office hours of today not reached yet: the same hour yesterday
            local -= timedelta(days=1)
        return local

    def _one(self, rng, now, requested, number, category, team, agents, priority, policy, customer):
        product = rng.choice(PRODUCTS)
        subject = rng.choice(SUBJECTS.get(category.slug, ["{p} 问题"])).format(p=product)
        agent = rng.choice(agents)
        ticket = Ticket(
            reference=format_reference(number, requested),
            subject=subject,
            description=f"客户来电反映:{subject}。产品型号 {product}。",
            customer=customer,
            product=product if category.slug in ("repair", "return", "inquiry") else "",
            serial_number=f"SN{rng.randrange(10**9, 10**10)}" if category.slug in ("repair", "return") else "",
            category=category,
            channel=rng.choices(list(CHANNEL_WEIGHTS), weights=list(CHANNEL_WEIGHTS.values()))[0],
            priority=priority,
            team=team,
            assignee=agent,
            created_by=agent,
            requested_at=requested,
            created_at=requested + timedelta(minutes=rng.randrange(0, 10)),
            labour_cost=Decimal(rng.randrange(30, 400)),
            logistics_cost=Decimal(rng.randrange(0, 150)) if category.slug in ("repair", "return") else Decimal(0),
            other_cost=Decimal(rng.choice([0, 0, 0, 20, 50])),
        )
        calendar = self._sla.clock(ticket, policy)
        apply_due_times(ticket, policy, calendar)
        events = [
            TicketEvent(
                kind=EventKind.CREATED,
                actor=agent,
                at=ticket.created_at,
                after={"status": Status.NEW, "assignee": agent.username},
            )
        ]
        # Log-normal times: median ~45 min to first response, ~20 h to resolution. A call, a visit or a
        # chat is answered as it is logged (the contact is the first response); a third of the simple
        # ones are solved on the line.
        speed = {Priority.URGENT: 0.4, Priority.HIGH: 0.7}.get(priority, 1.0)
        live = ticket.channel in LIVE_CHANNELS
        response = timedelta(0) if live else timedelta(minutes=rng.lognormvariate(math.log(45 * speed), 0.9))
        resolution = response + timedelta(hours=rng.lognormvariate(math.log(20 * speed), 1.0))
        on_the_line = live and category.slug in ("inquiry", "suggestion", "praise") and rng.random() < 0.75
        if on_the_line:
            resolution = timedelta(minutes=rng.randrange(3, 15))
        ticket.status = Status.NEW
        if live:
            ticket.first_response_at = requested
            ticket.public_reply_count = 1 + (not on_the_line and rng.random() < 0.3)
            ticket.status = Status.OPEN
            events.append(
                TicketEvent(
                    kind=EventKind.CALL,
                    actor=agent,
                    at=ticket.created_at,
                    before={"status": "new"},
                    after={"direction": "inbound", "status": "open", "at": requested.isoformat()},
                )
            )
        elif requested + response < now:
            ticket.first_response_at = requested + response
            ticket.public_reply_count = 1 + (rng.random() < 0.35) + (rng.random() < 0.1)
            ticket.status = Status.OPEN
            events.append(
                TicketEvent(
                    kind=EventKind.REPLY,
                    actor=agent,
                    at=ticket.first_response_at,
                    body="您好,我们已收到您的问题,正在为您处理。",
                    before={"status": "new"},
                    after={"status": "open"},
                )
            )
        if rng.random() < 0.08 and len(agents) > 1:
            other = next(a for a in agents if a != agent)
            at = requested + response * 1.5
            if at < now:
                ticket.assignee, ticket.reassign_count = other, 1 + (rng.random() < 0.2) * 2
                events.append(
                    TicketEvent(
                        kind=EventKind.ASSIGNED,
                        actor=agent,
                        at=at,
                        before={"assignee": agent.username},
                        after={"assignee": other.username},
                    )
                )
        resolved_at = requested + resolution
        stale = requested < now - timedelta(days=10)  # old tickets were all dealt with eventually
        if ticket.first_response_at and resolved_at < now and (on_the_line or rng.random() < 0.99 or stale):
            ticket.status, ticket.resolved_at = Status.RESOLVED, resolved_at
            events.append(
                TicketEvent(
                    kind=EventKind.RESOLVED,
                    actor=ticket.assignee,
                    at=resolved_at,
                    body="通话中已为客户解答,客户表示满意。" if on_the_line else "已安排处理完毕,客户确认问题解决。",
                    before={"status": "open"},
                    after={"status": "resolved"},
                )
            )
            if rng.random() < 0.05:  # the customer came back: reopened and resolved again
                reopened = resolved_at + timedelta(hours=rng.uniform(2, 48))
                again = reopened + timedelta(hours=rng.lognormvariate(math.log(8), 0.8))
                if again < now:
                    ticket.reopen_count, ticket.resolved_at = 1, again
                    events += [
                        TicketEvent(
                            kind=EventKind.REOPENED,
                            actor=ticket.assignee,
                            at=reopened,
                            body="客户反馈问题再次出现。",
                            before={"status": "resolved"},
                            after={"status": "open"},
                        ),
                        TicketEvent(
                            kind=EventKind.RESOLVED,
                            actor=ticket.assignee,
                            at=again,
                            body="二次上门处理完毕。",
                            before={"status": "open"},
                            after={"status": "resolved"},
                        ),
                    ]
            closed_at = ticket.resolved_at + timedelta(days=3)
            if closed_at < now:
                ticket.status, ticket.closed_at = Status.CLOSED, closed_at
                events.append(
                    TicketEvent(
                        kind=EventKind.CLOSED,
                        actor=ticket.assignee,
                        at=closed_at,
                        before={"status": "resolved"},
                        after={"status": "closed"},
                    )
                )
        elif ticket.status == Status.OPEN and rng.random() < 0.25:
            ticket.status = Status.PENDING
            ticket.paused_since = ticket.first_response_at + timedelta(minutes=5)
            events.append(
                TicketEvent(
                    kind=EventKind.PENDING,
                    actor=ticket.assignee,
                    at=ticket.first_response_at + timedelta(minutes=5),
                    body="等待客户提供购买凭证。",
                    before={"status": "open"},
                    after={"status": "pending"},
                )
            )
        working_durations(ticket, calendar)
        ticket.updated_at = max(e.at for e in events)
        return ticket, events

    @staticmethod
    @transaction.atomic
    def _flush(batch) -> None:
        tickets = Ticket.objects.bulk_create([t for t, _ in batch])
        events = []
        for ticket, (_, ticket_events) in zip(tickets, batch, strict=True):
            for event in ticket_events:
                event.ticket = ticket
                events.append(event)
        TicketEvent.objects.bulk_create(events, batch_size=2000)

    @staticmethod
    def _repeats(teams) -> None:
        """Count returning customers (same category within 30 days) on the earlier ticket, as the desk does."""
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE tickets_ticket t SET repeat_count = r.n FROM (
                    SELECT prev_id, count(*) AS n FROM (
                        SELECT lag(id) OVER w AS prev_id, lag(requested_at) OVER w AS prev_at, requested_at
                        FROM tickets_ticket WHERE team_id = ANY(%s)
                        WINDOW w AS (PARTITION BY customer_id, category_id ORDER BY requested_at, id)
                    ) x WHERE prev_id IS NOT NULL AND requested_at - prev_at <= %s GROUP BY prev_id
                ) r WHERE t.id = r.prev_id
                """,
                [[team.pk for team in teams], REPEAT_WINDOW],
            )

    def _surveys(self, rng: random.Random, teams) -> None:
        """Invitations for most resolved tickets with an e-mail address; about a third answered."""
        template = SurveyTemplate.objects.filter(is_active=True).first()
        if template is None:
            return
        tickets = (
            Ticket.objects.filter(team__in=teams, resolved_at__isnull=False, survey__isnull=True)
            .exclude(customer__email="")
            .select_related("customer")
        )
        invitations, answers = [], []
        now = timezone.now()
        for ticket in tickets.iterator():
            if rng.random() > 0.97:
                continue
            sent = ticket.resolved_at + timedelta(minutes=rng.randrange(1, 10))
            nonce = secrets.token_urlsafe(24)
            invitation = SurveyInvitation(
                ticket=ticket, template=template, nonce=nonce, token_hash=hash_token(token_for(nonce)),
                email=ticket.customer.email, language=ticket.customer.preferred_language, created_at=sent,
                expires_at=sent + timedelta(days=template.expiry_days),
            )  # fmt: skip
            answered = sent + timedelta(hours=rng.lognormvariate(math.log(10), 1.0))
            if rng.random() < 0.36 and answered < now:
                invitation.answered_at = invitation.first_opened_at = answered
                invitation.open_count = 1
                overall = rng.choices([5, 4, 3, 2, 1], weights=[55, 30, 8, 4, 3])[0]
                scores = answers_for(rng, overall)
                answers.append((invitation, SurveyResponse(
                    ticket=ticket, template=template, submitted_at=answered, overall=overall, nps=scores["nps"],
                    answers=scores,
                )))  # fmt: skip
            invitations.append(invitation)
        SurveyInvitation.objects.bulk_create(invitations, batch_size=1000)
        for invitation, response in answers:
            response.invitation = invitation
        SurveyResponse.objects.bulk_create([response for _, response in answers], batch_size=1000)
        self.stdout.write(f"  surveys: {len(invitations)} sent, {len(answers)} answered")

    def _history(self, rng: random.Random, teams) -> None:
        """Follow-up calls, the follow-up tickets of unhappy answers, and the complaints worked."""
        now = timezone.now()
        template = SurveyTemplate.objects.filter(is_active=True).first()
        if template is not None:
            calls, answered = phone_follow_ups(rng, teams, template, now)
            self.stdout.write(f"  follow-up calls: {calls} made, {answered} answered")
        self.stdout.write(f"  follow-ups of unhappy answers: {follow_up_tickets(self._sla, teams, now)}")
        open_missing_complaints()
        done = complaint_history(rng, now)
        self.stdout.write(
            f"  complaints: {done['complaints']} ({done['closed']} closed with the customer's confirmation, "
            f"{done['escalated']} escalated, {done['delayed']} left too long)"
        )
        # The SLA warnings and breach notices the desk's sweep would have sent along the way, sent.
        swept = sweep_sla(now)
        notices = Notification.objects.filter(ticket__team__in=teams, emailed_at__isnull=True)
        notices.filter(kind=Kind.BREACH).update(created_at=F("due_at"), emailed_at=F("due_at"))
        notices.update(emailed_at=now)
        self.stdout.write(f"  SLA notices: {swept.warnings} warnings, {swept.breaches} breaches")

    def _workbench(self, rng: random.Random, teams, users) -> None:
        """Tags on about a quarter of the tickets, each team's shared canned replies, and a few
        duplicates merged (through the service, as an agent would)."""
        tags = [Tag.objects.get_or_create(name=name)[0] for name in DEMO_TAGS]
        through = Ticket.tags.through
        links = [
            through(ticket_id=pk, tag_id=tag.pk)
            for pk in Ticket.objects.filter(team__in=teams).values_list("pk", flat=True).iterator()
            if rng.random() < 0.25
            for tag in rng.sample(tags, rng.choice([1, 1, 2]))
        ]
        through.objects.bulk_create(links, batch_size=2000, ignore_conflicts=True)
        for team in teams:
            for name, zh, en, action in DEMO_CANNED:
                if not CannedReply.objects.filter(owner=team.supervisor, team=team, name=name).exists():
                    save_canned_reply(by=team.supervisor, team=team, name=name, body_zh=zh, body_en=en, action=action)
        merged = 0
        now = timezone.now()
        recent = (
            Ticket.objects.filter(
                team__in=teams,
                status__in=[Status.NEW, Status.OPEN],
                merged_into=None,
                category__is_complaint=False,
                requested_at__lt=now - timedelta(hours=3),
            )
            .select_related("customer", "category", "team", "assignee", "team__supervisor")
            .order_by("-requested_at")
        )
        for first in recent[:4]:  # the customer wrote in again about the same fault, and an agent noticed
            agent = first.assignee or first.team.supervisor
            again = create_ticket(
                by=None, subject=first.subject, customer=first.customer, category=first.category, channel=Channel.EMAIL,
                team=first.team, priority=first.priority, requested_at=first.requested_at + timedelta(hours=2),
                description="客户来邮件询问同一故障的处理进度。",
            )  # fmt: skip
            merge_tickets(ticket=again, into=first, by=agent, note="同一故障的重复来信")
            merged += 1
        self.stdout.write(
            f"  workbench: {len(links)} tags on tickets, {merged} duplicates merged, canned replies shared"
        )

    def _summary(self, users, teams, existing, created) -> None:
        total = Ticket.objects.filter(team__in=teams).count()
        by_status = dict(Ticket.objects.filter(team__in=teams).values_list("status").annotate(n=Count("id")).order_by())
        out = self.stdout.write
        out(self.style.SUCCESS("Demo data ready."))
        out(f"  tickets: {total} ({created} created now, {existing} already there)")
        out("  by status: " + ", ".join(f"{s} {by_status.get(s, 0)}" for s in Status.values))
        out("  teams: " + ", ".join(f"{t.name} (supervisor {t.supervisor.username})" for t in teams))
        out(f"  logins (password for all: {DEMO_PASSWORD}):")
        out("    manager            — sees every team, Django admin")
        out("    sup1, sup2, sup3   — team supervisors")
        out("    agent1 … agent6    — agents, two per team")
