"""Fuzz targets for the two readings of the ESL wire: acd's client parser (acd/esl/protocol.py)
and the simulator's command reader and argument parsers (acd/sim/wire.py, fsparse.py,
dialstring.py). Inputs mix well-formed frames (so the fuzzer gets past the framing) with bytes
of any kind, cut at arbitrary points.

Properties:

* acd's FrameParser raises nothing but ProtocolError, and cutting the stream differently never
  changes the frames; what it holds back is bounded (MAX_HEADER_BLOCK, MAX_BODY, and a claimed
  Content-Length above MAX_BODY is refused at once, never waited for).
* Every frame it yields becomes an Event (or ValueError, which the client drops), a Reply, a
  JobResult, without any other exception.
* The simulator's CommandReader raises nothing but ValueError (its connection then closes), and
  its string/dial-string parsers raise nothing at all on any text.
"""

from hypothesis import given
from hypothesis import strategies as st

from acd.esl.protocol import (MAX_BODY, MAX_HEADER_BLOCK, Event, FrameParser, JobResult,
                              ProtocolError, Reply)
from acd.sim import dialstring, fsparse, wire
from fuzz.harness import guarded

_NAMES = st.sampled_from(["Content-Type", "Content-Length", "Reply-Text", "Event-Name",
                          "Unique-ID", "Job-UUID", "variable_acd_queue", "X"]) | st.text(
    min_size=0, max_size=12)
_VALUES = st.text(max_size=40) | st.sampled_from(
    ["text/event-plain", "text/event-json", "command/reply", "api/response", "auth/request",
     "log/data", "text/disconnect-notice", "+OK", "-ERR NO_ANSWER", "0", "5", "99999999999",
     "²", "-1", " 3 ", "%0A", "%", "BACKGROUND_JOB", "CUSTOM"])


@st.composite
def frames(draw):
    """One chunk of stream: a frame as FreeSWITCH shapes it (with a right or wrong
    Content-Length), an event body inside one, or raw bytes."""
    kind = draw(st.sampled_from(["frame", "event", "json", "raw"]))
    if kind == "raw":
        return draw(st.binary(max_size=200))
    headers = draw(st.lists(st.tuples(_NAMES, _VALUES), max_size=6))
    if kind == "frame":
        body = draw(st.binary(max_size=100))
    elif kind == "event":
        inner = "".join(f"{n}: {v}\n" for n, v in headers)
        own = draw(st.text(max_size=30))
        body = (inner + (f"Content-Length: {len(own.encode())}\n\n{own}" if own else "\n")).encode()
        headers = [("Content-Type", "text/event-plain")]
    else:
        body = draw(st.one_of(st.binary(max_size=80), st.builds(
            lambda d: __import__("json").dumps(d).encode(),
            st.dictionaries(st.text(max_size=10), st.text(max_size=10) | st.integers(),
                            max_size=5))))
        headers = [("Content-Type", "text/event-json")]
    length = draw(st.sampled_from(["right", "wrong", "none"]))
    lines = "".join(f"{n}: {v}\n" for n, v in headers).encode("utf-8", "surrogatepass")
    if length == "right":
        lines += f"Content-Length: {len(body)}\n".encode()
    elif length == "wrong":
        lines += f"Content-Length: {draw(st.integers(0, 300))}\n".encode()
    return lines + b"\n" + (body if length != "none" else b"")


streams = st.lists(frames(), max_size=8).map(b"".join)


def _parse(data, cuts):
    """Feed ``data`` cut at ``cuts``; (frames, error type or None, most bytes held back)."""
    parser, out, held = FrameParser(), [], 0
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    try:
        for start, stop in zip(points, points[1:]):
            out += parser.feed(data[start:stop])
            held = max(held, parser.buffered)
    except ProtocolError:
        return out, ProtocolError, held
    return out, None, held


def _use(frame):
    """What the client does with a frame (acd.esl.client._on_frame)."""
    kind = frame.content_type
    if kind in ("text/event-plain", "text/event-json"):
        try:
            event = Event.from_frame(frame)
        except ValueError:
            return
        for name in ("Event-Name", "Unique-ID", "Job-UUID", "variable_acd_queue"):
            event.get(name)
        dict(event.headers)
        repr(event)
        if event.name == "BACKGROUND_JOB":
            JobResult(event.body).cause
    else:
        Reply(frame).ok


@given(streams, st.lists(st.integers(0, 10_000), max_size=12))
def acd_frame_parser(data, cuts):
    with guarded(hang=5.0, memory=32 * 1024 * 1024):
        whole, whole_error, _ = _parse(data, [])
        pieces, pieces_error, held = _parse(data, cuts)
        assert pieces_error is whole_error
        if whole_error is None:
            assert [(f.headers, f.body) for f in pieces] == [(f.headers, f.body) for f in whole]
        assert held <= MAX_HEADER_BLOCK + MAX_BODY
        for frame in pieces:
            _use(frame)


@given(st.integers(MAX_BODY + 1, 10 ** 30) | st.sampled_from(["²", "1" * 400, "-1", "0x10"]))
def acd_refuses_a_huge_or_odd_content_length(length):
    with guarded(hang=2.0, memory=4 * 1024 * 1024):
        parser = FrameParser()
        try:
            parser.feed(f"Content-Type: api/response\nContent-Length: {length}\n\nxx".encode())
        except ProtocolError:
            return
        assert parser.buffered < 1024  # an acceptable length: only what came is held


@given(streams | st.binary(max_size=400), st.lists(st.integers(0, 10_000), max_size=12))
def sim_command_reader(data, cuts):
    with guarded(hang=5.0, memory=32 * 1024 * 1024):
        reader = wire.CommandReader()
        points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
        try:
            for start, stop in zip(points, points[1:]):
                reader.feed(data[start:stop])
                for command in reader.commands():
                    command.line, command.header("content-length"), command.body
        except ValueError:
            pass


_ARGS = st.text(max_size=120) | st.lists(st.sampled_from(
    ["{", "}", "[", "]", "<", ">", "'", '"', "\\", ",", "|", ":", "=", "^^:", " ", "user/2001",
     "loopback/5000", "&park()", "a=b", "sofia/gw/x", "XML", "default"]), max_size=30).map("".join)


@given(_ARGS, st.sampled_from([" ", ",", "|", ":", "^"]), st.integers(1, 10))
def sim_argument_parsers(text, delim, limit):
    with guarded(hang=5.0, memory=16 * 1024 * 1024):
        fsparse.separate_string(text, delim, limit)
        fsparse.cleanup(text, delim)
        for parse in (fsparse.parse_dial_string, fsparse.parse_app_target,
                      dialstring.parse_originate, dialstring.parse_dialstring):
            try:
                parse(text)
            except ValueError:
                pass   # ParseError / UsageError: originate answers -ERR / -USAGE for these


TARGETS = {"acd-frame-parser": acd_frame_parser,
           "acd-content-length": acd_refuses_a_huge_or_odd_content_length,
           "sim-command-reader": sim_command_reader,
           "sim-argument-parsers": sim_argument_parsers}
