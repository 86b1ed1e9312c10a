"""Cases ``make fuzz`` (fuzz/) found, kept as fast regular tests -- and a short run of each
in-process fuzz target, so the harness itself keeps working."""

import pytest

from acd.esl.protocol import MAX_BODY, Event, Frame, FrameParser, ProtocolError
from acd.sim import wire
from fuzz import esl_targets
from fuzz.harness import Hang, TooMuchMemory, guarded, run_for


@pytest.mark.parametrize("length", ["²", "１２", "-1", "0x10", "1e3", str(MAX_BODY + 1)])
def test_a_content_length_that_is_not_ascii_digits_or_too_big_is_a_protocol_error(length):
    # found: '²'.isdigit() is True, int('²') raises ValueError -- out of FrameParser, which
    # killed the client's reader greenlet without ending the connection
    with pytest.raises(ProtocolError):
        FrameParser().feed(f"Content-Type: api/response\nContent-Length: {length}\n\nx".encode())


def test_an_event_whose_own_content_length_is_not_ascii_digits_has_no_body():
    event = Event.from_frame(Frame({"Content-Type": "text/event-plain"},
                                   "Event-Name: API\nContent-Length: ²\n\nbody".encode()))
    assert event.name == "API" and event.body == ""


def test_a_huge_claimed_length_is_refused_before_anything_is_buffered():
    parser = FrameParser()
    with pytest.raises(ProtocolError, match="exceeds"):
        parser.feed(b"Content-Type: text/event-plain\nContent-Length: 999999999999\n\n")


def test_the_simulator_refuses_a_command_body_above_its_limit():
    reader = wire.CommandReader()
    reader.feed(b"sendmsg x\nContent-Length: 99999999999\n\n")
    with pytest.raises(ValueError, match="announced"):
        list(reader.commands())


def test_the_harness_catches_a_hang_and_a_memory_hog():
    with pytest.raises(Hang):
        with guarded(hang=0.2):
            while True:
                pass
    with pytest.raises(TooMuchMemory):
        with guarded(memory=1024 * 1024):
            hog = bytearray(4 * 1024 * 1024)
            del hog


@pytest.mark.parametrize("target", sorted(esl_targets.TARGETS))
def test_each_in_process_fuzz_target_runs_clean_for_a_moment(target):
    assert run_for(esl_targets.TARGETS[target], seconds=0.5, seed=1) >= 1
