"""An SMTP server on loopback for the e-mail tests, built on aiosmtpd."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Handler:
    def __init__(self, server: SMTPServer):
        self.server = server

    async def handle_DATA(self, smtp, session, envelope):
        if self.server.refuse:
            return self.server.refuse
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.server.lock:
            self.server.messages.append(message)
        return "250 Message accepted for delivery"


class SMTPServer:
    """Collects every message it accepts in ``messages``; set ``refuse`` to an SMTP reply to refuse."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.refuse: str | None = None
        self.lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.1)
        raise AssertionError(f"expected {count} message(s) within {timeout} s, got {len(self.messages)}")

    @staticmethod
    def text_of(message: EmailMessage) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()
