"""The client's frame and event parser against real FreeSWITCH 1.10.12 captures (tests/data)."""

import json
import pathlib
import random
from urllib.parse import unquote

import pytest

from acd.esl.protocol import (Event, FrameParser, JobResult, ProtocolError, parse_event_plain,
                              url_decode)

DATA = pathlib.Path(__file__).parent / "data"
CAPTURES = sorted(DATA.glob("*.recv"))


def frames_of(name):
    return FrameParser().feed((DATA / name).read_bytes())


def events_of(name):
    return [Event.from_frame(f) for f in frames_of(name) if f.content_type == "text/event-plain"]


def reference_headers(body):
    """Independent, slow reading of an event-plain header block: line by line, decode each value."""
    head = body.split(b"\n\n", 1)[0].decode()
    headers = {}
    for line in head.split("\n"):
        name, value = line.split(": ", 1)
        headers.setdefault(name, unquote(value))
    return headers


def test_captures_are_present():
    assert len(CAPTURES) >= 20, "tests/data must hold the real captures"


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_every_capture_frame_parses_and_consumes_all_bytes(path):
    parser = FrameParser()
    frames = parser.feed(path.read_bytes())
    assert frames and parser.buffered == 0
    for frame in frames:
        if "Content-Length" in frame.headers:
            assert len(frame.body) == int(frame.headers["Content-Length"])


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_events_match_a_line_by_line_reading(path):
    for frame in FrameParser().feed(path.read_bytes()):
        if frame.content_type == "text/event-plain":
            event = Event.from_frame(frame)
            assert dict(event.headers) == reference_headers(frame.body)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_single_header_lookups_match_the_full_parse(path):
    """Lookups before any full parse (the lazy path) give exactly the full parse's values."""
    for frame in FrameParser().feed(path.read_bytes()):
        if frame.content_type == "text/event-plain":
            expected = reference_headers(frame.body)
            event = Event.from_frame(frame)
            for name, value in expected.items():
                assert name in event.headers and event.headers[name] == value, name
            assert event.get("No-Such-Header") is None and "Caller" not in event.headers
            assert event.get("ID-Name") is None  # a suffix of Caller-Caller-ID-Name is not a header


def test_feeding_in_random_pieces_gives_the_same_frames():
    data = (DATA / "caller_park.recv").read_bytes()
    whole = [(f.headers, f.body) for f in FrameParser().feed(data)]
    rng = random.Random(7)
    for _ in range(5):
        parser, got, pos = FrameParser(), [], 0
        while pos < len(data):
            step = rng.choice([1, 2, 3, 17, 400, 4096])
            got += [(f.headers, f.body) for f in parser.feed(data[pos:pos + step])]
            pos += step
        assert got == whole


def test_byte_by_byte_handshake():
    data = (DATA / "handshake.recv").read_bytes()
    parser = FrameParser()
    frames = [f for i in range(len(data)) for f in parser.feed(data[i:i + 1])]
    assert [f.content_type for f in frames][:2] == ["auth/request", "command/reply"]
    assert frames[1].headers["Reply-Text"] == "+OK accepted"
    assert frames[-1].content_type == "text/disconnect-notice"
    assert frames[-1].body == b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def test_api_body_without_newline_is_kept_exactly():
    frames = frames_of("handshake.recv")
    bodies = [f.body for f in frames if f.content_type == "api/response"]
    assert b"false" in bodies                      # uuid_exists: 5 bytes, no newline
    assert b"-ERR nosuchcommand Command not found!\n" in bodies
    assert b'{"row_count": 0}\n' in bodies


def test_background_job_result_is_the_events_own_body():
    jobs = [e for e in events_of("caller_park.recv") if e.name == "BACKGROUND_JOB"]
    assert len(jobs) == 1
    job = jobs[0]
    assert job.body.startswith("+OK ") and job.body.endswith("\n")
    assert "Content-Length" in job.headers  # the inner header stays a header, the body is separate
    result = JobResult(job.body)
    assert result.ok and result.value == job.body[4:].strip()
    assert job["Job-Command"] == "originate"
    assert job["Job-Command-Arg"].startswith("{origination_caller_id_number=+4930123456,")


def test_job_results_of_failures():
    bodies = [e.body for e in events_of("loopback_agent_failures.recv") if e.name == "BACKGROUND_JOB"]
    causes = [JobResult(b).cause for b in bodies]
    assert causes == ["NO_ANSWER", "ALLOTTED_TIMEOUT", "USER_BUSY", "CALL_REJECTED",
                      "USER_NOT_REGISTERED", "SUBSCRIBER_ABSENT", "USER_BUSY", "USER_NOT_REGISTERED"]
    usage = JobResult("-USAGE: <call url> <exten>\n")
    assert not usage.ok and usage.value.startswith("-USAGE")


def test_special_values_are_decoded_once_and_percent_0a_stays_one_header():
    events = events_of("special_values.recv")
    created = next(e for e in events if e.name == "CHANNEL_CREATE" and e.get("variable_loopback_leg") == "B")
    assert created["Caller-Caller-ID-Name"] == "Anna Müller, 100% #1: vip@home"
    last = [e for e in events if "variable_acd_chars" in e.headers][-1]
    assert last["variable_acd_chars"] == "a b:c@d#e,f;g=h&i+j?k%l\"m'n<o>p[q]r{s}t|u\\v^w`x~y"
    # The literal text line1%0Aline2 and a real newline look the same on the wire: both decode to
    # a newline, inside ONE header; nothing after it became a header of its own.
    assert last["variable_acd_test"] == "line1\nline2"
    assert last["variable_acd_nl"] == "line1\nline2"
    assert "line2" not in last.headers and not any(k.startswith("line") for k in last.headers)


def test_percent_0a_cannot_forge_a_header():
    body = (b"Event-Name: CHANNEL_PARK\nCaller-Caller-ID-Name: Eve%0AUnique-ID%3A%20forged"
            b"%0D%0Avariable_acd_queue: vip\nUnique-ID: real\n\n")
    event = Event.from_frame(type("F", (), {"content_type": "text/event-plain", "body": body})())
    assert event.uuid == "real"
    assert event["Caller-Caller-ID-Name"] == "Eve\nUnique-ID: forged\r\nvariable_acd_queue: vip"
    assert "variable_acd_queue" not in event.headers
    assert list(event.headers) == ["Event-Name", "Caller-Caller-ID-Name", "Unique-ID"]


def test_repeated_header_keeps_its_first_value():
    hangups = [e for e in events_of("agent_answer.recv") if e.name == "CHANNEL_HANGUP_COMPLETE"]
    assert hangups and all(e["Hangup-Cause"] == "NORMAL_CLEARING" for e in hangups)
    headers, _ = parse_event_plain(b"Event-Name: X\nA: first\nA: second\n\n")
    assert headers == {"Event-Name": "X", "A": "first"}


def test_custom_event_subclass_and_key():
    events = events_of("agent_registration.recv")
    register = next(e for e in events if e.subclass == "sofia::register")
    assert register.name == "CUSTOM" and register.key == "sofia::register"
    assert list(register.headers)[0] == "Event-Subclass"


def test_lines_without_colon_are_dropped_not_glued():
    headers, _ = parse_event_plain(b"Event-Name: X\ngarbage line\nB: 2\n\n")
    assert headers == {"Event-Name": "X", "B": "2"}


def test_url_decode_edge_cases():
    assert url_decode("k%25l") == "k%l"
    assert url_decode("100%") == "100%"           # a % that starts no %XX stays
    assert url_decode("%zz%4") == "%zz%4"
    assert url_decode("M%C3%BCller") == "Müller"
    assert url_decode("%c3%bc") == "ü"            # lower-case hex too
    assert url_decode("a=b%3D") == "a=b="
    assert url_decode("%FF") == "\ufffd"           # invalid UTF-8 never raises


def test_event_is_immutable():
    event = events_of("caller_park.recv")[0]
    with pytest.raises(AttributeError):
        event.name = "X"
    with pytest.raises(TypeError):
        event.headers["Unique-ID"] = "x"


def test_json_event():
    body = json.dumps({"Event-Name": "BACKGROUND_JOB", "Job-UUID": "j1", "_body": "+OK abc\n"})
    frame = type("F", (), {"content_type": "text/event-json", "body": body.encode()})()
    event = Event.from_frame(frame)
    assert event.name == "BACKGROUND_JOB" and event.body == "+OK abc\n" and "_body" not in event


@pytest.mark.parametrize("stream", [
    b"Content-Length: abc\n\n",
    b"Content-Length: -1\n\n",
    b"Content-Length: 99999999999999\n\n",
])
def test_bad_content_length_is_a_protocol_error(stream):
    with pytest.raises(ProtocolError):
        FrameParser().feed(stream)


def test_truncated_body_is_reported_as_buffered():
    parser = FrameParser()
    assert parser.feed(b"Content-Type: api/response\nContent-Length: 100\n\n0123456789") == []
    assert parser.buffered == 10


# -- the 2026-12 captures: repeated headers, nested bodies, hostile SIP values -------------------

def test_command_event_keeps_its_first_event_name():
    """COMMAND carries a second standard block starting ``Event-Name: PRIVATE_COMMAND``; a reader
    that kept the last value would file every hold-music and broadcast COMMAND as PRIVATE_COMMAND."""
    for capture in ("hold_unhold.recv", "announce_in_bridge.recv"):
        frames = [f for f in frames_of(capture) if f.content_type == "text/event-plain"
                  and f.body.startswith(b"Event-Name: COMMAND\n")]
        assert frames, capture
        for frame in frames:
            assert frame.body.count(b"\nEvent-Name: PRIVATE_COMMAND\n") == 1
            event = Event.from_frame(frame)
            assert event.name == "COMMAND" and event["Event-Name"] == "COMMAND"
            assert dict(event.headers)["Event-Name"] == "COMMAND"
            assert event["execute-app-name"] == "playback"


def test_hangup_complete_and_codec_repeats_keep_the_first_value():
    for capture in ("hold_unhold.recv", "blind_transfer.recv", "click_to_dial.recv"):
        for frame in frames_of(capture):
            if frame.content_type != "text/event-plain":
                continue
            event = Event.from_frame(frame)
            if event.name == "CHANNEL_HANGUP_COMPLETE":
                assert frame.body.count(b"\nHangup-Cause: ") == 2
                first = frame.body.split(b"\nHangup-Cause: ", 1)[1].split(b"\n", 1)[0].decode()
                assert event["Hangup-Cause"] == dict(event.headers)["Hangup-Cause"] == first


def test_recv_info_carries_the_sip_info_body_as_the_events_own_body():
    infos = [e for e in events_of("record_consent.recv") if e.name == "RECV_INFO"]
    assert len(infos) == 1
    info = infos[0]
    assert info.body == "Signal=5\r\nDuration=160\r\n"
    assert info["SIP-Content-Type"] == "application/dtmf-relay"
    assert "Signal=5" not in dict(info.headers)  # the body never becomes headers


def test_dtmf_in_a_bridge_from_the_captures():
    digits = [(e["DTMF-Digit"], e["DTMF-Source"]) for e in events_of("record_consent.recv")
              if e.name == "DTMF"]
    assert ("*", "APP") in digits and ("9", "APP") in digits
    assert ("5", "ENDPOINT") in digits and ("7", "RTP") in digits


def test_hostile_sip_values_stay_data():
    events = events_of("sip_caller_hostile.recv")
    park = next(e for e in events if e.name == "CHANNEL_PARK")
    assert park["Caller-Caller-ID-Name"] == "Eve, } ] ' \\\" % ^ Boss"
    # a literal %0A in an X- header looks exactly like an encoded newline: it decodes to one,
    # inside ONE header; no header can be forged from it or from header-shaped SDP lines
    assert park["variable_sip_h_X-Acd-Note"] == "a\nb: c"
    assert "variable_acd_priority" not in park.headers
    assert park["variable_acd_queue"] == "support"
    assert "s=variable_acd_priority: 1000" in park["variable_switch_r_sdp"]
