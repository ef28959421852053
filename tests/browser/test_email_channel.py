"""The e-mail channel in Chromium: a customer's mail (read from a real IMAP server) is on its ticket
with the photo it carried; the agent answers with a file, and the answer reaches the customer by
SMTP, threaded under their mail and sent from the support address."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mailboxes import fetching
from tests.mail_fixtures import eml
from tickets.models import Ticket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.xdist_group("servers"),
]


def test_an_agent_answers_a_customers_mail_with_a_file(
    live_server, page_factory, imap_mailbox, imap_account, agent, client, smtp_server, tmp_path
):
    imap_account.deliver(eml("outlook_gb18030_photo.eml"))
    assert fetching.fetch(imap_mailbox).taken == 1  # what the beat's task does every minute
    ticket = Ticket.objects.get()
    smtp_server.wait_for(1)  # the acknowledgement

    client.force_login(agent)
    page = page_factory(extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])  # fmt: skip
    page.goto(f"{live_server.url}/tickets/{ticket.pk}/")

    assert "型号 XQG100" in page.locator(".detail-main").inner_text()
    thumbnail = page.locator(".attachment img[alt='故障照片.jpg']").first
    thumbnail.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())

    invoice = tmp_path / "维修报价单.pdf"
    invoice.write_bytes(b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n")
    page.fill("#reply textarea[name=body]", "李先生您好，报价单见附件，师傅明天上午上门。")
    page.set_input_files("#reply input[type=file]", [str(Path(invoice))])
    page.locator("#reply button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/tickets/{ticket.pk}/$"))
    assert "维修报价单.pdf" in page.locator(".timeline").inner_text()

    messages = smtp_server.wait_for(2)
    reply = messages[-1]
    assert reply["To"] == "li.ming@example.cn" and "service@servicedesk.test" in reply["From"]
    assert reply["In-Reply-To"] == "<000001db43a1$6c2f1e30$448d5a90$@example.cn>"
    assert "<000001db43a1$6c2f1e30$448d5a90$@example.cn>" in reply["References"]
    assert ticket.reference in reply["Subject"]
    assert [part.get_filename() for part in reply.iter_attachments()] == ["维修报价单.pdf"]
    assert "报价单见附件" in smtp_server.text_of(reply)
