"""acd's ESL client: greenswitch's InboundESL, hardened (see client.py), plus a sans-I/O frame
parser (protocol.py) and command builders with escaping for untrusted values (commands.py)."""

from greenswitch.esl import NotConnectedError

from acd.esl.client import (AuthError, CommandError, CommandTimeout, ConnectError, ConnectionLost,
                            EslClient, EslError, Job)
from acd.esl.commands import UnsafeValue
from acd.esl.protocol import Event, Frame, FrameParser, JobResult, ProtocolError, Reply
from acd.esl.switch import Switch

__all__ = ["AuthError", "CommandError", "CommandTimeout", "ConnectError", "ConnectionLost",
           "EslClient", "EslError", "Event", "Frame", "FrameParser", "Job", "JobResult", "NotConnectedError",
           "ProtocolError", "Reply", "Switch", "UnsafeValue"]
