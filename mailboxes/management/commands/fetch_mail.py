"""``manage.py fetch_mail [--mailbox NAME] [--limit N]``: read the support mailboxes now (the same
code as the Celery task the beat runs every minute)."""

import time

from django.core.management.base import BaseCommand, CommandError

from mailboxes import fetching
from mailboxes.models import Mailbox


class Command(BaseCommand):
    help = "Read the active support mailboxes over IMAP and take their new mail."

    def add_arguments(self, parser):
        parser.add_argument("--mailbox", help="only this mailbox (its name)")
        parser.add_argument("--limit", type=int, help="take at most this many mails from each mailbox")

    def handle(self, *args, mailbox=None, limit=None, **options):
        mailboxes = Mailbox.objects.filter(active=True).order_by("name")
        if mailbox:
            mailboxes = mailboxes.filter(name=mailbox)
            if not mailboxes.exists():
                raise CommandError(f"No active mailbox is called {mailbox!r}.")
        if not mailboxes.exists():
            self.stdout.write("No active mailbox: add one in the admin (Incoming e-mail → Mailboxes).")
            return
        started = time.monotonic()
        total = 0
        for box in mailboxes:
            self.stdout.write(f"{box.name} <{box.address}> on {box.host}:{box.port}")
            shown = [0.0]

            def progress(done: int, of: int, shown=shown) -> None:
                if done == of or time.monotonic() - shown[0] >= 2:
                    shown[0] = time.monotonic()
                    self.stdout.write(f"  {done}/{of} mails taken")

            try:
                result = fetching.fetch(box, limit=limit, progress=progress)
            except Exception as error:
                self.stdout.write(self.style.ERROR(f"  failed: {error.__class__.__name__}: {error}"))
                continue
            if result.skipped:
                self.stdout.write("  skipped: another worker is reading it")
                continue
            total += result.taken
            outcomes = ", ".join(f"{name} {count}" for name, count in sorted(result.outcomes.items())) or "none new"
            self.stdout.write(self.style.SUCCESS(f"  {result.taken} taken ({outcomes})"))
        self.stdout.write(f"{total} mails in {time.monotonic() - started:.1f} s")
