"""A real IMAP server on loopback for the e-mail channel's tests: Debian's Dovecot, over TLS.

Started once per test process with its own configuration, certificate and folder under a
temporary directory; each test gets a user (a mailbox) of its own. Where Dovecot or OpenSSL
is missing, the tests that need it skip, saying how to install it.
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import ssl
import subprocess
import time
import uuid
from pathlib import Path

from imapclient import IMAPClient

from tests.smtp import free_port

DOVECOT = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin") or "dovecot"


def missing() -> str:
    """Why the IMAP server cannot run here, or ""."""
    if not Path(DOVECOT).exists():
        return "Dovecot is not installed (Debian: apt-get install dovecot-imapd)"
    if not shutil.which("openssl"):
        return "openssl is not installed (it makes the IMAP server's test certificate)"
    return ""


class DovecotServer:
    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.cert = root / "cert.pem"
        self.passwd = root / "passwd"

    def start(self) -> None:
        root = self.root
        for name in ("run", "state", "home"):
            (root / name).mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", str(root / "key.pem"), "-out", str(self.cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        # Users written before the start: Dovecot reads the file again only when its mtime moves (seconds).
        self.users = [(f"desk-{n}-{uuid.uuid4().hex[:8]}@servicedesk.test", uuid.uuid4().hex) for n in range(500)]
        self.passwd.write_text("".join(f"{user}:{{PLAIN}}{password}\n" for user, password in self.users))
        if os.geteuid() == 0:  # mail is never read as root: as Dovecot's own user
            mail_user = login_user = "dovecot"
            login_user = "dovenull"
            owner = pwd.getpwnam(mail_user)
            os.chown(root / "home", owner.pw_uid, owner.pw_gid)
            os.chmod(root, 0o755)
        else:
            mail_user = login_user = getpass.getuser()
        uid = pwd.getpwnam(mail_user).pw_uid
        (root / "dovecot.conf").write_text(
            f"""base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{self.cert}
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {mail_user}
first_valid_uid = {min(uid, 100)}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {self.port}
    ssl = yes
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd}
}}
userdb {{
  driver = static
  args = uid={uid} gid={pwd.getpwnam(mail_user).pw_gid} home={root}/home/%u
}}
"""
        )
        # Dovecot forks into the background: its children must not hold a pipe the test waits on.
        with (root / "start.log").open("wb") as log:
            subprocess.run([DOVECOT, "-c", str(root / "dovecot.conf")], check=True, stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.client_for("nobody", "-").logout()
            except Exception as error:  # not listening yet, or the login refused: it answers
                if "authentication" in str(error).lower() or "login" in str(error).lower():
                    return
                time.sleep(0.1)
            else:
                return
        raise RuntimeError(f"Dovecot did not start: {(root / 'dovecot.log').read_text()[-2000:]}")

    def stop(self) -> None:
        subprocess.run([DOVECOT, "-c", str(self.root / "dovecot.conf"), "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def client_for(self, user: str, password: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=True, ssl_context=self.ssl_context(), timeout=10)
        client.login(user, password)
        return client

    def add_user(self) -> tuple[str, str]:
        """A mailbox no test used yet: (user, password)."""
        return self.users.pop()
