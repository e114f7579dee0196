"""A real SMTP server on 127.0.0.1 (aiosmtpd) that records what it accepts and can hold a
client at a chosen command, so that a test can kill the client there."""

import asyncio
import collections
import email
import socket
import threading

from aiosmtpd.controller import Controller


class Recorder:
    """aiosmtpd handler: ``accepted`` holds (recipients, Message-ID) of each message whose
    DATA ended; ``hold(command, nth)`` stops the nth ``command`` before its reply."""

    def __init__(self):
        self.accepted = []
        self.refuse = set()  # recipients answered with 550
        self._seen = collections.Counter()
        self._holds = {}

    def hold(self, command, nth=1):
        """Hold the ``nth`` EHLO/MAIL/RCPT/DATA; returns (reached, release) events."""
        events = threading.Event(), threading.Event()
        self._holds[(command, nth)] = events
        return events

    def release_all(self):
        for _, release in self._holds.values():
            release.set()
        self._holds.clear()

    def copies(self):
        """``{recipient: number of accepted messages}``."""
        counts = collections.Counter()
        for recipients, _ in self.accepted:
            counts.update(recipients)
        return counts

    async def _maybe_hold(self, command):
        self._seen[command] += 1
        events = self._holds.get((command, self._seen[command]))
        if events:
            reached, release = events
            reached.set()
            await asyncio.get_running_loop().run_in_executor(None, release.wait, 60)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        await self._maybe_hold("EHLO")
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        await self._maybe_hold("MAIL")
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await self._maybe_hold("RCPT")
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # Like an MTA, it takes the message on receiving the end of DATA, then replies: a hold
        # here is the window in which the server has it and the client does not know yet.
        message = email.message_from_bytes(envelope.content)
        self.accepted.append((list(envelope.rcpt_tos), message["Message-ID"]))
        await self._maybe_hold("DATA")
        return "250 Message accepted for delivery"


class SMTPServer:
    """``with SMTPServer() as smtp:``: ``smtp.url`` is an EMAIL_URL for it."""

    def __init__(self):
        self.recorder = Recorder()
        with socket.socket() as probe:  # aiosmtpd checks its own port, so it needs a number
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{self.port}"
        return self

    def __exit__(self, *exc):
        self.recorder.release_all()
        self.controller.stop()
