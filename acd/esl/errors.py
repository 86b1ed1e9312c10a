"""The ESL client's errors, and the future of a background job (acd.esl.client)."""

import gevent
import gevent.event
from greenswitch.esl import NotConnectedError


class EslError(Exception):
    """Base of the client's errors."""


class ConnectError(EslError, NotConnectedError):
    """Could not connect or complete the handshake."""


class AuthError(ConnectError):
    """FreeSWITCH refused the password."""


class ConnectionLost(EslError, NotConnectedError):
    """The connection dropped while the command or job was pending."""


class CommandTimeout(EslError):
    """No reply within the command timeout."""


class CommandError(EslError):
    """FreeSWITCH answered a command with -ERR."""


class Job(gevent.event.AsyncResult):
    """A background job: ``job.get(timeout)`` gives a :class:`JobResult` or raises ConnectionLost."""

    def __init__(self, job_uuid, command):
        super().__init__()
        self.job_uuid = job_uuid
        self.command = command

    def wait_result(self, timeout=None):
        """Like ``get`` but a timeout raises :class:`CommandTimeout`."""
        try:
            return self.get(timeout=timeout)
        except gevent.Timeout:
            raise CommandTimeout(f"job {self.job_uuid} ({self.command.split(' ')[0]}) "
                                 f"has no result after {timeout} s") from None
