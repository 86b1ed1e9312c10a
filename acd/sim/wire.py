"""The event-socket wire format, as FreeSWITCH 1.10 writes and reads it (sans-I/O).

Theory of operation: everything here turns values into bytes or bytes into commands; nothing
touches a socket. ``CommandReader`` is fed the bytes a client sends and yields ``Command``s the
way mod_event_socket's read_packet cuts them (CR ignored, blank lines before a command skipped,
a ``Content-Length`` header pulls a body). The frame builders produce the exact bytes of the
replies; ``serialize_plain``/``serialize_json``/``serialize_xml`` render an event's header list.

This module must stay independent of any ESL client implementation (acd.esl, greenswitch): the
simulator and the client are two separate readings of the protocol.
"""

import json
import re

AUTH_REQUEST = b"Content-Type: auth/request\n\n"
DISCONNECT_NOTICE = (b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n"
                     b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")
UNDEF = "_undef_"

_UNSAFE = b'\r\n "#%&+:;<=>?@[\\]^`{|}'
_HEX = "0123456789ABCDEF"
_BYTE_TEXT = [chr(b) if 0x20 <= b <= 0x7E and b not in _UNSAFE else "%%%02X" % b
              for b in range(256)]
_SAFE_TEXT = re.compile("[" + re.escape("".join(
    chr(b) for b in range(0x20, 0x7F) if b not in _UNSAFE)) + "]*")
_ENCODE_CACHE = {}
_CACHE_LIMIT = 200000


def url_encode(value):
    """FreeSWITCH's switch_url_encode: uppercase %XX, space is %20, an existing %XX is kept."""
    cached = _ENCODE_CACHE.get(value)
    if cached is not None:
        return cached
    if not value:
        return UNDEF
    encoded = value if _SAFE_TEXT.fullmatch(value) else _encode_bytes(value.encode("utf-8"))
    if len(_ENCODE_CACHE) > _CACHE_LIMIT:
        _ENCODE_CACHE.clear()
    _ENCODE_CACHE[value] = encoded
    return encoded


class _Lines(dict):
    """(name, value) -> ``Name: encoded\n``, remembered: the same pair recurs on every event of
    a channel. Looked up with ``map(_LINES.__getitem__, ...)``, a hit costs no Python call."""

    def __missing__(self, pair):
        if len(self) > _CACHE_LIMIT:
            self.clear()
        line = self[pair] = "%s: %s\n" % (pair[0], url_encode(pair[1]))
        return line


_LINES = _Lines()
_line = _LINES.__getitem__


def header_lines(headers):
    """The plain-format lines of (name, value) pairs, joined."""
    return "".join(map(_line, headers))


def _encode_bytes(raw):
    out = []
    for i, byte in enumerate(raw):
        if byte == 0x25 and _starts_escape(raw, i):
            out.append("%")
        else:
            out.append(_BYTE_TEXT[byte])
    return "".join(out)


def _starts_escape(raw, i):
    pair = raw[i + 1:i + 3]
    return len(pair) == 2 and all(chr(c) in _HEX for c in pair)


# --- frames the server writes ------------------------------------------------------------

def command_reply(text):
    return b"Content-Type: command/reply\nReply-Text: " + text.encode("utf-8") + b"\n\n"


def job_reply(job_uuid):
    """bgapi's reply: Reply-Text plus a Job-UUID header."""
    return ("Content-Type: command/reply\nReply-Text: +OK Job-UUID: %s\nJob-UUID: %s\n\n"
            % (job_uuid, job_uuid)).encode("utf-8")


def api_response(body):
    """An api/response frame: Content-Type first, Content-Length second."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not body:
        body = b"-ERR no reply\n"
    return b"Content-Type: api/response\nContent-Length: %d\n\n%s" % (len(body), body)


def event_frame(fmt, body):
    """An event frame: Content-Length first, then Content-Type text/event-<fmt>."""
    return b"Content-Length: %d\nContent-Type: text/event-%s\n\n%s" % (
        len(body), fmt.encode("ascii"), body)


# --- event bodies --------------------------------------------------------------------------

def serialize_plain(headers, body=None):
    """``Name: urlencoded(value)`` lines; a body is announced by a final Content-Length."""
    return serialize_plain_lines(header_lines(headers), body)


def serialize_plain_lines(lines, body=None):
    """``serialize_plain`` of headers already rendered as ``lines`` (see ``header_lines``)."""
    if body is None:
        return (lines + "\n").encode("utf-8")
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return (lines + "Content-Length: %d\n\n" % len(raw)).encode("utf-8") + raw


def serialize_json(headers, body=None):
    """cJSON_PrintUnformatted of the event: raw values, duplicates kept, body as ``_body``."""
    parts = [_json_str(name) + ":" + _json_str(value) for name, value in headers]
    if body is not None:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        parts.append('"Content-Length":' + _json_str(str(len(text.encode("utf-8")))))
        parts.append('"_body":' + _json_str(text))
    return ("{" + ",".join(parts) + "}").encode("utf-8")


def _json_str(value):
    return json.dumps(value, ensure_ascii=False)


def serialize_xml(headers, body=None):
    """switch_event_xmlize: <event><headers><Name>urlencoded</Name>...</headers><body/></event>."""
    out = ["<event>\n  <headers>\n"]
    for name, value in headers:
        out.append("    <%s>%s</%s>\n" % (name, _xml_text(url_encode(value)), name))
    if body is not None:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        out.append("    <Content-Length>%d</Content-Length>\n" % len(text.encode("utf-8")))
        out.append("  </headers>\n  <body>%s</body>\n</event>" % _xml_text(text))
    else:
        out.append("  </headers>\n</event>")
    return "".join(out).encode("utf-8")


def _xml_text(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- commands the server reads -------------------------------------------------------------

class Command:
    """One client command: the first line, its ``Name: value`` headers in order, an optional body."""

    __slots__ = ("line", "headers", "body")

    def __init__(self, line, headers, body=None):
        self.line = line
        self.headers = headers
        self.body = body

    def header(self, name, default=None):
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return default

    def __repr__(self):
        return "Command(%r, %r, %r)" % (self.line, self.headers, self.body)


class CommandReader:
    """Feed bytes, pop commands. Mirrors read_packet: CR is ignored, leading blank lines skipped."""

    MAX_BLOCK = 10 * 1024 * 1024

    def __init__(self):
        self._buf = b""
        self._pending = None  # a Command waiting for its body
        self._need = 0

    def feed(self, data):
        self._buf += data

    def commands(self):
        while True:
            cmd = self._next()
            if cmd is None:
                return
            yield cmd

    def _next(self):
        if self._pending is not None:
            return self._take_body()
        buf = self._buf.lstrip(b"\r\n")
        self._buf = buf
        end = _block_end(buf)
        if end < 0:
            if len(buf) > self.MAX_BLOCK:
                raise ValueError("command too long")
            return None
        block, self._buf = buf[:end], _after_block(buf, end)
        cmd = _parse_block(block)
        length = _content_length(cmd)
        if length > self.MAX_BLOCK:
            raise ValueError(f"command body of {length} bytes announced")
        if length > 0:
            self._pending, self._need = cmd, length
            return self._take_body()
        return cmd

    def _take_body(self):
        if len(self._buf) < self._need:
            return None
        cmd, self._pending = self._pending, None
        cmd.body, self._buf = self._buf[:self._need], self._buf[self._need:]
        return cmd


def _block_end(buf):
    """Index of the end of a header block: two LFs with only CRs between them."""
    start = 0
    while True:
        i = buf.find(b"\n", start)
        if i < 0:
            return -1
        j = i + 1
        while j < len(buf) and buf[j] == 0x0D:
            j += 1
        if j < len(buf) and buf[j] == 0x0A:
            return i
        if j >= len(buf):
            return -1
        start = j


def _after_block(buf, end):
    j = end + 1
    while buf[j] == 0x0D:
        j += 1
    return buf[j + 1:]


def _parse_block(block):
    text = block.replace(b"\r", b"").decode("utf-8", "replace")
    lines = text.split("\n")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name:
            headers.append((name, value.lstrip(" ")))
    return Command(lines[0], headers)


def _content_length(cmd):
    value = cmd.header("content-length")
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0
