"""Test data. Tickets are made through the services, as the desk makes them."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from tickets import services
from tickets.models import Category, Customer, Team

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    password = factory.django.Password("correct horse battery staple")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = factory.Sequence(lambda n: f"138{n:08d}")


def recently():
    """Twenty minutes ago, or the local midnight if today began less than that ago: a ticket made
    "today" falls on today's figures at any hour the suite runs."""
    now = timezone.localtime()
    return max(now - timedelta(minutes=20), now.replace(hour=0, minute=0, second=0, microsecond=0))


def make_ticket(*, team: Team, by=None, category: str = "repair", **fields):
    """A new ticket, created through ``services.create_ticket``."""
    fields.setdefault("subject", "空调不制冷")
    fields.setdefault("channel", "phone")
    fields.setdefault("priority", "normal")
    fields.setdefault("requested_at", recently())
    customer = fields.pop("customer", None) or CustomerFactory()
    return services.create_ticket(
        by=by, team=team, customer=customer, category=Category.objects.get(slug=category), **fields
    )
