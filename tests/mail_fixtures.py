"""The e-mail channel's fixtures: a real IMAP server, an account on it, the desk's mailbox."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

import pytest

from mailboxes.models import Mailbox, Security
from tests.imap import DovecotServer, missing
from tickets.models import Category

MAIL = Path(__file__).parent / "mailboxes" / "mail"


def eml(name: str) -> bytes:
    return (MAIL / name).read_bytes()


@pytest.fixture(scope="session")
def imap_server():
    why = missing()
    if why:
        pytest.skip(why)
    # Not under pytest's own temporary folder: Dovecot's processes, run as its user, must reach it.
    root = Path(tempfile.mkdtemp(prefix="desk-dovecot-"))
    root.chmod(0o755)
    server = DovecotServer(root)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def imap_account(imap_server, settings):
    """A mailbox of its own on the IMAP server; the desk trusts the server's test certificate."""
    settings.IMAP_CA_FILE = str(imap_server.cert)
    user, password = imap_server.add_user()

    class Account:
        def __init__(self):
            self.user, self.password = user, password

        def client(self):
            return imap_server.client_for(user, password)

        def deliver(self, raw: bytes, at: dt.datetime | None = None) -> None:
            with self.client() as client:
                client.append("INBOX", raw, msg_time=at)

        def seen(self) -> list[int]:
            with self.client() as client:
                client.select_folder("INBOX", readonly=True)
                return client.search(["SEEN"])

    return Account()


@pytest.fixture
def mailbox(db, team):
    """The desk's support mailbox: its IMAP settings are filled in by ``imap_mailbox``."""
    return Mailbox.objects.create(
        name="Support", address="service@servicedesk.test", host="127.0.0.1", port=993, security=Security.TLS,
        username="-", password="-", team=team, category=Category.objects.get(slug="repair"),
    )  # fmt: skip


@pytest.fixture
def imap_mailbox(mailbox, imap_account, imap_server):
    mailbox.port, mailbox.username, mailbox.password = imap_server.port, imap_account.user, imap_account.password
    mailbox.save()
    return mailbox
