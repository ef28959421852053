"""Files on tickets: added in the browser and the API, sent with replies, served safely."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from outbox import services as outbox
from outbox.models import OutgoingEmail
from tickets.models import Attachment, Category, EventKind, Ticket

pytestmark = pytest.mark.django_db


def photo(name="破损外壳.png", size=(800, 600)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="application/octet-stream")


def test_a_reply_with_a_photo_reaches_the_customer_with_it_and_shows_a_thumbnail(agent_client, ticket, smtp_server):
    response = agent_client.post(
        reverse("tickets:reply", args=[ticket.pk]),
        {"body": "请看维修后的照片。", "attachments": [photo(), SimpleUploadedFile("报价单.pdf", b"%PDF-1.7\n%...")]},
    )

    assert response.status_code == 302
    reply = ticket.events.get(kind=EventKind.REPLY)
    shot, quote = reply.attachments.order_by("id")
    assert (shot.content_type, shot.is_image) == ("image/png", True)  # by its content, not the browser's word
    assert (quote.content_type, quote.is_image) == ("application/pdf", False)
    page = agent_client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    assert reverse("tickets:thumbnail", args=[ticket.pk, shot.pk]) in page and "报价单.pdf" in page
    thumbnail = agent_client.get(reverse("tickets:thumbnail", args=[ticket.pk, shot.pk]))
    assert thumbnail["Content-Type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(b"".join(thumbnail.streaming_content))).size) <= 320

    email = OutgoingEmail.objects.get(kind="ticket_reply")
    assert outbox.deliver(email.pk)
    (message,) = smtp_server.wait_for(1)
    files = {part.get_filename(): part.get_content_type() for part in message.iter_attachments()}
    assert files == {"破损外壳.png": "image/png", "报价单.pdf": "application/pdf"}
    assert message["Auto-Submitted"] is None  # a person wrote it


def test_too_large_files_refuse_the_reply_and_keep_what_was_typed(agent_client, ticket, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    response = agent_client.post(
        reverse("tickets:reply", args=[ticket.pk]), {"body": "附件太大的回复", "attachments": [photo()]}
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "附件太大的回复" in page and "破损外壳.png" in page
    assert not ticket.events.filter(kind=EventKind.REPLY).exists() and not Attachment.objects.exists()
    assert not OutgoingEmail.objects.exists()


def test_a_note_and_a_new_ticket_carry_files_too(agent_client, ticket, team):
    agent_client.post(reverse("tickets:note", args=[ticket.pk]), {"body": "保修卡", "attachments": [photo("卡.png")]})
    assert ticket.events.get(kind=EventKind.NOTE).attachments.get().name == "卡.png"

    form = {
        "customer_name": "韩梅梅", "customer_email": "han@example.com", "customer_language": "zh-hans",
        "subject": "电视机黑屏", "category": Category.objects.get(slug="repair").pk, "channel": "walk_in",
        "priority": "normal", "team": team.pk,
        "requested_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
    }  # fmt: skip
    response = agent_client.post(reverse("tickets:create"), {**form, "attachments": [photo("发票.png")]})
    assert response.status_code == 302
    created = Ticket.objects.get(subject="电视机黑屏")
    assert created.attachments.get().event.kind == EventKind.CREATED


def test_files_are_served_only_to_who_may_see_the_ticket(agent_client, outsider, ticket):
    agent_client.post(reverse("tickets:note", args=[ticket.pk]), {"body": "发票", "attachments": [photo()]})
    attached = Attachment.objects.get()
    client = Client()
    client.force_login(outsider)

    assert client.get(reverse("tickets:attachment", args=[ticket.pk, attached.pk])).status_code == 404
    assert client.get(reverse("tickets:thumbnail", args=[ticket.pk, attached.pk])).status_code == 404
    download = agent_client.get(reverse("tickets:attachment", args=[ticket.pk, attached.pk]))
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    assert "sandbox" in download["Content-Security-Policy"] and download["X-Content-Type-Options"] == "nosniff"


def test_the_api_adds_files_to_a_ticket_and_to_a_reply(api, ticket, settings):
    added = api.post(
        reverse("api-ticket-attachments", args=[ticket.pk]), {"attachments": [photo(), photo("第二张.png")]},
        format="multipart",
    )  # fmt: skip
    assert added.status_code == 201 and [f["name"] for f in added.json()] == ["破损外壳.png", "第二张.png"]
    assert added.json()[0]["thumbnail_url"]

    reply = api.post(
        reverse("api-ticket-replies", args=[ticket.pk]), {"body": "见附件", "attachments": [photo("附件.png")]},
        format="multipart",
    )  # fmt: skip
    assert reply.status_code == 200
    listed = api.get(reverse("api-ticket-attachments", args=[ticket.pk])).json()
    assert [f["name"] for f in listed] == ["破损外壳.png", "第二张.png", "附件.png"]

    settings.ATTACHMENT_MAX_BYTES = 100
    refused = api.post(
        reverse("api-ticket-attachments", args=[ticket.pk]), {"attachments": [photo()]}, format="multipart"
    )
    assert refused.status_code == 400 and "破损外壳.png" in str(refused.json()["attachments"])
    assert Attachment.objects.count() == 3
    assert api.post(reverse("api-ticket-attachments", args=[ticket.pk]), {}, format="multipart").status_code == 400
