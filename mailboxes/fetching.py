"""Read a mailbox over IMAP and hand each new mail to ``services.ingest``.

A mailbox is read by one worker at a time (a PostgreSQL advisory lock per mailbox; a second
worker skips it). New mail is what has a UID above the last one taken, under the same
UIDVALIDITY: each mail is fetched, ingested and committed, and only then is ``last_uid``
moved past it; the server's ``\\Seen`` flag is set on what was taken. A crash between the
ingest and the move reads the mail again, and the (mailbox, Message-ID) uniqueness makes that
read change nothing. Mails are fetched a few at a time (at most ``BATCH_BYTES`` at once): a
worker never holds a mailbox in memory.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.utils import timezone
from imapclient import IMAPClient

from mailboxes.models import Mailbox, Security
from mailboxes.services import ingest

logger = logging.getLogger(__name__)

LOCK_KEY = 7_204_552  # pg_try_advisory_lock(LOCK_KEY, mailbox id)
BATCH_COUNT = 20
BATCH_BYTES = 8 * 1024 * 1024


@dataclass
class Fetched:
    taken: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    skipped: bool = False  # another worker is reading this mailbox


@contextmanager
def _reading(mailbox: Mailbox) -> Iterator[bool]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_KEY, mailbox.pk])
        got = bool(cursor.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_KEY, mailbox.pk])


def connect(mailbox: Mailbox) -> IMAPClient:
    """Log in to the mailbox's server: TLS verified against the system's CAs (and ``IMAP_CA_FILE``)."""
    mailbox.clean()  # no password in the clear off this machine
    context = ssl.create_default_context(cafile=settings.IMAP_CA_FILE or None)
    timeout = settings.IMAP_TIMEOUT
    if mailbox.security == Security.TLS:
        client = IMAPClient(mailbox.host, port=mailbox.port, ssl=True, ssl_context=context, timeout=timeout)
    else:
        client = IMAPClient(mailbox.host, port=mailbox.port, ssl=False, timeout=timeout)
        if mailbox.security == Security.STARTTLS:
            client.starttls(context)
    client.normalise_times = False  # arrival times with their zone
    client.login(mailbox.username, mailbox.password)
    return client


def _batches(sizes: dict[int, int]) -> Iterator[list[int]]:
    batch: list[int] = []
    total = 0
    for uid in sorted(sizes):
        if batch and (len(batch) >= BATCH_COUNT or total + sizes[uid] > BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += sizes[uid]
    if batch:
        yield batch


def fetch(mailbox: Mailbox, *, limit: int | None = None, progress: Callable[[int, int], None] | None = None) -> Fetched:
    """Take the mailbox's new mail (at most ``limit`` mails); ``progress(taken, total)`` is told
    after each batch. Raises what the IMAP server or the network raise; ``fetch_all`` records it
    on the mailbox."""
    result = Fetched()
    with _reading(mailbox) as got:
        if not got:
            result.skipped = True
            return result
        mailbox.refresh_from_db()
        client = connect(mailbox)
        try:
            folder = client.select_folder(mailbox.folder)
            validity = int(folder[b"UIDVALIDITY"])
            if mailbox.uid_validity != validity:  # a new folder under the same name: read it all again
                mailbox.uid_validity, mailbox.last_uid = validity, 0
                Mailbox.objects.filter(pk=mailbox.pk).update(uid_validity=validity, last_uid=0)
            uids = [uid for uid in client.search(["UID", f"{mailbox.last_uid + 1}:*"]) if uid > mailbox.last_uid]
            uids = sorted(uids)[:limit] if limit else sorted(uids)
            for chunk in (uids[i : i + 500] for i in range(0, len(uids), 500)):
                sizes = {uid: int(data[b"RFC822.SIZE"]) for uid, data in client.fetch(chunk, ["RFC822.SIZE"]).items()}
                for batch in _batches(sizes):
                    for uid, data in sorted(client.fetch(batch, ["INTERNALDATE", "BODY.PEEK[]"]).items()):
                        arrived = data.get(b"INTERNALDATE")
                        if arrived is not None and timezone.is_naive(arrived):
                            arrived = timezone.make_aware(arrived)
                        record = ingest(mailbox, data[b"BODY[]"], uid=uid, arrived_at=arrived)
                        Mailbox.objects.filter(pk=mailbox.pk).update(last_uid=uid)
                        mailbox.last_uid = uid
                        result.taken += 1
                        result.outcomes[record.outcome] = result.outcomes.get(record.outcome, 0) + 1
                        del data
                    client.add_flags(batch, [b"\\Seen"], silent=True)
                    if progress is not None:
                        progress(result.taken, len(uids))
        finally:
            try:
                client.logout()
            except Exception:  # the connection is already gone
                client.shutdown()
    Mailbox.objects.filter(pk=mailbox.pk).update(last_fetch_at=timezone.now(), last_error="")
    return result


def fetch_all() -> dict[str, Fetched]:
    """Read every active mailbox; a mailbox that fails keeps its error (shown in admin) and the others go on."""
    results = {}
    for mailbox in Mailbox.objects.filter(active=True).order_by("pk"):
        try:
            results[mailbox.name] = fetch(mailbox)
        except Exception as error:
            message = f"{error.__class__.__name__}: {error}"[:2000]
            Mailbox.objects.filter(pk=mailbox.pk).update(last_fetch_at=timezone.now(), last_error=message)
            logger.warning("Reading mailbox %s failed: %s", mailbox.name, message)
    return results
