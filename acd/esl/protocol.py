"""ESL wire protocol, client side, sans I/O.

Theory of operation
-------------------
FreeSWITCH's event socket sends *frames*: a header block of ``Name: value`` lines ended by a blank
line, then -- only when the block has ``Content-Length`` -- exactly that many BYTES of body.
:class:`FrameParser` turns a byte stream (fed in arbitrary pieces) into :class:`Frame` objects and
never touches a socket, so it is tested by feeding it recorded captures.

An event frame's body (``text/event-plain``) is itself a header block: one ``Name: value`` line per
header, each VALUE URL-encoded, then either a blank line or ``Content-Length: n`` + blank line + the
event's own body (a BACKGROUND_JOB's result). :func:`parse_event_plain` splits the lines FIRST and
URL-decodes each value AFTER, so a value holding ``%0A`` stays one header (greenswitch 0.0.19 decoded
the whole block first, letting a caller-controlled value forge headers).

Speed: an ACD lives on CHANNEL events of ~150 headers. Splitting is done with a handful of C-level
string operations instead of a Python loop per line, and values are percent-decoded in one batch
through ``binascii.a2b_qp`` (percent-encoding and quoted-printable differ only in the escape
character). Decoded values are memoised in a small bounded cache: a real event stream repeats the
same encoded values (host names, caller names, SDP) across many events. ``make bench`` measures it.
"""

import binascii
import json
import re
from collections.abc import Mapping
from itertools import compress, repeat
from operator import contains
from types import MappingProxyType
from urllib.parse import unquote

#: Largest body we accept in one frame (``show channels`` on a busy box is a few MB).
MAX_BODY = 256 * 1024 * 1024
#: Largest header block; real ones are < 1 KB (outer) -- anything bigger is a broken stream.
MAX_HEADER_BLOCK = 1024 * 1024

_INVALID_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DECODE_CACHE_MAX = 8192
_decode_cache = {}


class ProtocolError(Exception):
    """The byte stream is not ESL: framing is lost and the connection must be dropped."""


class Frame:
    """One ESL frame: outer headers (raw strings, not URL-decoded) and the body bytes."""

    __slots__ = ("headers", "body")

    def __init__(self, headers, body=b""):
        self.headers = headers
        self.body = body

    @property
    def content_type(self):
        return self.headers.get("Content-Type", "")

    def __repr__(self):
        return f"Frame({self.headers!r}, {len(self.body)} bytes)"


class FrameParser:
    """Incremental frame splitter: ``feed(bytes) -> [Frame, ...]``."""

    def __init__(self):
        self._buf = b""
        self._pending = None  # headers of a frame whose body has not fully arrived
        self._need = 0

    def feed(self, data):
        buf = self._buf + data if self._buf else bytes(data)
        frames = []
        pos = 0
        size = len(buf)
        while True:
            if self._pending is None:
                while pos < size and buf[pos] in (10, 13):  # stray blank lines between frames
                    pos += 1
                end = buf.find(b"\n\n", pos)
                if end < 0:
                    if size - pos > MAX_HEADER_BLOCK:
                        raise ProtocolError("header block too large (no blank line in 1 MB)")
                    break
                headers = parse_outer_headers(buf[pos:end])
                pos = end + 2
                length = headers.get("Content-Length")
                if length is None:
                    frames.append(Frame(headers))
                    continue
                self._need = _content_length(length)
                self._pending = headers
            if size - pos < self._need:
                break
            frames.append(Frame(self._pending, buf[pos:pos + self._need]))
            pos += self._need
            self._pending = None
        self._buf = buf[pos:]
        return frames

    @property
    def buffered(self):
        """Bytes received but not yet part of a complete frame (non-zero at EOF = truncated frame)."""
        return len(self._buf)


def _content_length(text):
    text = text.strip()
    if not (text.isascii() and text.isdigit()):  # str.isdigit() also takes '²', int() does not
        raise ProtocolError(f"bad Content-Length {text!r}")
    length = int(text)
    if length > MAX_BODY:
        raise ProtocolError(f"Content-Length {length} exceeds {MAX_BODY}")
    return length


_EVENT_PLAIN_TAIL = b"\nContent-Type: text/event-plain"


def parse_outer_headers(block):
    """Outer frame headers. Their values are not URL-encoded by FreeSWITCH; CR is ignored."""
    if block.startswith(b"Content-Length: ") and block.endswith(_EVENT_PLAIN_TAIL):
        length = block[16:-len(_EVENT_PLAIN_TAIL)]  # the shape of every event frame
        if length.isdigit():
            return {"Content-Length": length.decode(), "Content-Type": "text/event-plain"}
    headers = {}
    for line in block.decode("utf-8", "replace").split("\n"):
        name, sep, value = line.rstrip("\r").partition(":")
        if sep:
            headers.setdefault(name.strip(), value.strip())
    return headers


def url_decode(value):
    """Decode %XX (either case) as UTF-8; a ``%`` that starts no valid %XX stays as it is."""
    decoded = _decode_cache.get(value)
    if decoded is None:
        if _INVALID_PERCENT.search(value) or not value.isascii():
            decoded = unquote(value)
        else:
            decoded = binascii.a2b_qp(value.replace("=", "=3D").replace("%", "=")).decode(
                "utf-8", "replace")
        if len(_decode_cache) >= _DECODE_CACHE_MAX:
            _decode_cache.clear()
        _decode_cache[value] = decoded
    return decoded


def parse_event_plain(body):
    """Parse a ``text/event-plain`` body into ``(headers dict, event_body)``, all values decoded.

    Header order is kept. When a header repeats (FreeSWITCH sends ``Hangup-Cause`` twice in
    CHANNEL_HANGUP_COMPLETE) the first value is kept.
    """
    event = Event.from_plain(body)
    return dict(event.headers), event.body


def _parse_block(block):
    """All headers of one header block (text ending in a newline) as a dict of decoded values."""
    parts = block.replace(": ", "\n").split("\n")
    names = parts[0::2]
    values = parts[1::2]
    end = len(names) - 1
    # n well-formed lines split into exactly [k1, v1, ..., kn, vn, ''].
    if len(parts) != 2 * end + 1 or names[end] != "":
        return _parse_block_careful(block)
    del names[end:]
    headers = dict(zip(names, values))
    if len(headers) != end:  # a repeated header (Hangup-Cause): its first value wins
        first = dict(zip(reversed(names), reversed(values)))
        headers = {name: first[name] for name in headers}
        names, values = list(headers), list(headers.values())
    if "%" in block:
        flags = list(map(contains, values, repeat("%")))
        encoded = list(compress(values, flags))
        decoded = list(map(_decode_cache.get, encoded))
        if None in decoded:
            decoded = [d if d is not None else url_decode(v) for d, v in zip(decoded, encoded)]
        headers.update(zip(compress(names, flags), decoded))
    return headers


def _parse_block_careful(block):
    """Line by line, for blocks with odd lines: a line without a colon is dropped, never glued
    onto its neighbour."""
    headers = {}
    for line in block.split("\n"):
        name, sep, value = line.partition(": ")
        if not sep:
            name, sep, value = line.partition(":")
            if not sep:
                continue
        if name not in headers:
            headers[name] = url_decode(value) if "%" in value else value
    return headers


class Headers(Mapping):
    """The read-only, URL-decoded headers of an event-plain body, located on demand.

    A lookup finds ``\nName: `` in the raw block (a C-level search) and decodes that one value.
    The search cannot be fooled by a value: FreeSWITCH encodes LF, ``:`` and space inside values,
    so ``\nName: `` only ever matches at the start of a real header line. Iterating, ``len()`` or
    ``dict()`` parse the whole block once. Either way the first of repeated headers wins.
    """

    __slots__ = ("_text", "_end", "_vars", "_all")

    def __init__(self, text, end):
        self._text = text      # the body as text; the header block is text[:end + 1]
        self._end = end
        self._vars = None      # where the channel variables (variable_*) begin
        self._all = None

    def get(self, name, default=None):
        if self._all is not None:
            return self._all.get(name, default)
        text = self._text
        first, line, is_variable = _PATTERNS.get(name) or _patterns(name)
        if text.startswith(first):
            start = len(first)
        else:
            if is_variable:
                # FreeSWITCH writes the channel variables after the other headers: search only
                # from where they begin.
                begin = self._vars
                if begin is None:
                    begin = text.find("\nvariable_", 0, self._end + 1)
                    self._vars = begin = self._end if begin < 0 else begin
                start = text.find(line, begin, self._end + 1)
            else:
                start = text.find(line, 0, self._end + 1)
            if start < 0:
                return default
            start += len(line)
        stop = text.find("\n", start)
        raw = text[start:stop] if stop >= 0 else text[start:]
        return url_decode(raw) if "%" in raw else raw

    def __getitem__(self, name):
        value = self.get(name, _MISSING)
        if value is _MISSING:
            raise KeyError(name)
        return value

    def __contains__(self, name):
        return self.get(name, _MISSING) is not _MISSING

    def _parsed(self):
        if self._all is None:
            self._all = _parse_block(self._text[:self._end + 1])
        return self._all

    def __iter__(self):
        return iter(self._parsed())

    def __len__(self):
        return len(self._parsed())

    def __repr__(self):
        return f"Headers({self._parsed()!r})"


_MISSING = object()
_PATTERNS = {}


def _patterns(name):
    """What a header line starts with, as the block's first line and after a newline
    (memoised: handlers ask for the same few names)."""
    if len(_PATTERNS) >= 4096:
        _PATTERNS.clear()
    found = _PATTERNS[name] = (f"{name}: ", f"\n{name}: ", name.startswith("variable_"))
    return found


def parse_event_json(body):
    """Parse a ``text/event-json`` body: values are plain strings, the own body is ``_body``."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"bad event-json body: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("bad event-json body: not an object")
    event_body = data.pop("_body", "")
    headers = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    return headers, event_body if isinstance(event_body, str) else json.dumps(event_body)


class Event:
    """An immutable ESL event: ``name``, ``subclass``, ``headers`` (read-only, decoded) and ``body``.

    ``event.headers`` is what greenswitch handlers read, so code written for greenswitch keeps
    working; ``event["Unique-ID"]`` and ``event.get(...)`` are shortcuts.
    """

    __slots__ = ("name", "subclass", "headers", "body")

    def __init__(self, headers, body=""):
        if isinstance(headers, dict):
            headers = MappingProxyType(headers)
        set_ = object.__setattr__
        set_(self, "headers", headers)
        name = headers.get("Event-Name", "")
        set_(self, "name", name)
        set_(self, "subclass", headers.get("Event-Subclass", "") if name == "CUSTOM" else "")
        set_(self, "body", body)

    def __setattr__(self, name, value):
        raise AttributeError("Event is immutable")

    def __delattr__(self, name):
        raise AttributeError("Event is immutable")

    def __getitem__(self, name):
        return self.headers[name]

    def __contains__(self, name):
        return name in self.headers

    def get(self, name, default=None):
        return self.headers.get(name, default)

    @property
    def uuid(self):
        """The channel's Unique-ID ('' for non-channel events)."""
        return self.headers.get("Unique-ID", "")

    @property
    def key(self):
        """What handlers are registered under: the subclass for CUSTOM events, else the name."""
        return self.subclass if self.name == "CUSTOM" else self.name

    def __repr__(self):
        sub = f" {self.subclass}" if self.subclass else ""
        uid = self.uuid
        return f"<Event {self.name}{sub}{' ' + uid if uid else ''}>"

    @classmethod
    def from_plain(cls, body):
        """An event from a ``text/event-plain`` body (bytes)."""
        text = body.decode("utf-8", "replace")
        end = text.find("\n\n")
        if end < 0:  # no blank line: the whole body is the header block
            if not text.endswith("\n"):
                text += "\n"
            end = len(text) - 1
        headers = Headers(text, end)
        own_body = ""
        if end + 2 < len(text):  # something after the header block: the event's own body
            length = headers.get("Content-Length", "")
            if length.isascii() and length.isdigit() and int(length):
                start = body.find(b"\n\n") + 2
                own_body = body[start:start + int(length)].decode("utf-8", "replace")
        return cls(headers, own_body)

    @classmethod
    def from_frame(cls, frame):
        """Build an event from a ``text/event-plain`` or ``text/event-json`` frame."""
        if frame.content_type == "text/event-json":
            return cls(*parse_event_json(frame.body))
        return cls.from_plain(frame.body)


class JobResult:
    """The parsed result of a background job: ``+OK <value>`` / ``-ERR <CAUSE>`` / anything else."""

    __slots__ = ("ok", "value", "body")

    def __init__(self, body):
        self.body = body
        text = body.strip()
        if text.startswith("+OK"):
            self.ok, self.value = True, text[3:].strip()
        elif text.startswith("-ERR"):
            self.ok, self.value = False, text[4:].strip()
        else:
            self.ok, self.value = False, text

    @property
    def cause(self):
        """The failure cause (``NO_ANSWER``...), or '' on success."""
        return "" if self.ok else self.value

    def __repr__(self):
        return f"JobResult({self.body!r})"


class Reply:
    """A command's reply: ``command/reply`` (text in Reply-Text) or ``api/response`` (text = body)."""

    __slots__ = ("headers", "data")

    def __init__(self, frame):
        self.headers = frame.headers
        if frame.content_type == "api/response":
            self.data = frame.body.decode("utf-8", "replace")
        else:
            self.data = frame.headers.get("Reply-Text", "")

    @property
    def ok(self):
        return self.data.startswith("+OK")

    def __repr__(self):
        return f"Reply({self.data!r})"
