"""The CTI keys of acd.yaml (acd/config_cti.py) and `acd passwd`."""

import os
import pty
import subprocess
import sys

import argon2
import pytest

from acd.config import ConfigError, parse_config
from acd.config_cti import parse_duration
from tests.cti_world import HASH

AGENT = {"id": "1001", "contact": "user/1001"}


def parse(**sections):
    return parse_config({"agents": [dict(AGENT)], "queues": [{"name": "q", "tiers": [
        {"agent": "1001"}]}], **sections}, source="acd.yaml", env={})


def problems(data):
    with pytest.raises(ConfigError) as caught:
        parse_config(data, source="acd.yaml", env={})
    return list(caught.value.problems)


def test_defaults():
    cti = parse().cti
    assert (cti.session_ttl, cti.event_retention, cti.event_max_length, cti.heartbeat) == (
        43200.0, 600.0, 100_000, 15.0)
    assert (cti.break_reasons, cti.trusted_proxies, cti.timezone) == ((), (), "UTC")
    assert cti.account("1001").password_hash == "" and cti.account("1001").role == "agent"


def test_values():
    config = parse_config({
        "http": {"session-ttl": "8h", "trusted-proxies": ["127.0.0.1", "::1"]},
        "cti": {"break-reasons": ["lunch", "training", "1-on-1"], "event-retention": "30m",
                "event-max-length": 5000, "heartbeat": 5, "timezone": "Europe/Berlin"},
        "agents": [dict(AGENT, **{"password-hash": HASH}),
                   {"id": 2000, "contact": "user/2000", "role": "supervisor"}],
        "queues": [{"name": "q", "tiers": [{"agent": "1001"}, {"agent": "2000"}]}],
    }, env={})
    cti = config.cti
    assert (cti.session_ttl, cti.trusted_proxies) == (28800.0, ("127.0.0.1", "::1"))
    assert cti.break_reasons == ("lunch", "training", "1-on-1")
    assert (cti.event_retention, cti.event_max_length, cti.heartbeat, cti.timezone) == (
        1800.0, 5000, 5.0, "Europe/Berlin")
    assert cti.account("1001").password_hash == HASH
    assert cti.account("2000").role == "supervisor" and cti.account("2000").password_hash == ""
    assert HASH not in repr(config)


def test_errors_name_file_key_and_problem_and_never_show_a_hash():
    found = problems({
        "http": {"session-ttl": "forever", "trusted-proxies": ["proxy.local"]},
        "cti": {"break-reasons": ["Lunch", "lunch", "lunch"], "event-retention": 0,
                "heartbeat": -1, "timezone": "Mars/Olympus", "colour": 1},
        "agents": [dict(AGENT, **{"password-hash": "$2b$12$secretbcrypthash", "role": "boss"})],
    })
    assert found == [
        "acd.yaml: cti.colour: unknown key (allowed: break-reasons, event-retention, "
        "event-max-length, heartbeat, timezone, dial-template, dial-pattern, caller-id-number, softphone)",
        "acd.yaml: http.session-ttl: expected seconds or a duration such as 90s, 15m, 12h, "
        "90d, got 'forever'",
        "acd.yaml: http.trusted-proxies[0]: expected an IP address such as 127.0.0.1, "
        "got 'proxy.local'",
        "acd.yaml: cti.break-reasons[0]: expected a reason of lower-case letters, digits and "
        "_ . - (at most 32), got 'Lunch'",
        "acd.yaml: cti.break-reasons[2]: duplicate reason 'lunch'",
        "acd.yaml: cti.event-retention: expected a duration above 0, got 0",
        "acd.yaml: cti.heartbeat: expected a number of seconds > 0, got -1",
        "acd.yaml: cti.timezone: expected a time zone such as UTC or Europe/Berlin, "
        "got 'Mars/Olympus'",
        "acd.yaml: agents[0].password-hash: expected an Argon2id hash as `acd passwd` prints "
        "it ($argon2id$v=19$m=...,t=...,p=...$...$...), got a string that is not one",
        "acd.yaml: agents[0].role: expected one of agent, supervisor, admin; got 'boss'",
    ]
    assert not any("secretbcrypt" in line for line in found)


@pytest.mark.parametrize("text, seconds", [(90, 90.0), ("90s", 90.0), ("15m", 900.0),
                                           ("12h", 43200.0), ("90d", 7776000.0),
                                           ("1.5h", 5400.0)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "12", "1w", "-5", "h", True, None, -1])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_check_config_accepts_a_cti_file(tmp_path):
    path = tmp_path / "acd.yaml"
    path.write_text(f"""
http: {{admin-token: x, session-ttl: 12h}}
cti: {{break-reasons: [lunch]}}
agents:
  - {{id: "1001", contact: user/1001, password-hash: "{HASH}"}}
queues: [{{name: q, tiers: [{{agent: "1001"}}]}}]
""")
    done = subprocess.run([sys.executable, "-m", "acd", "check-config", str(path)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "OK (1 agent, 1 queue)" in done.stdout, done.stderr
    assert HASH not in done.stdout + done.stderr


def test_passwd_hashes_a_password_from_a_pipe():
    done = subprocess.run([sys.executable, "-m", "acd", "passwd"], input="s3cret Pass\n",
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    hashed = done.stdout.strip()
    assert hashed.startswith("$argon2id$v=19$")
    assert argon2.PasswordHasher().verify(hashed, "s3cret Pass")
    parse_config({"agents": [dict(AGENT, **{"password-hash": hashed})]}, env={})
    empty = subprocess.run([sys.executable, "-m", "acd", "passwd"], input="\n",
                           capture_output=True, text=True, timeout=30)
    assert empty.returncode == 1 and "empty password" in empty.stderr


def _talk(fd, answers):
    """Read the child's terminal, answering each prompt; returns all it printed."""
    seen, pending = b"", list(answers)
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            return seen.decode()
        if not chunk:
            return seen.decode()
        seen += chunk
        if pending and seen.rstrip().endswith(pending[0][0].encode()):
            os.write(fd, pending.pop(0)[1].encode() + b"\n")


def test_passwd_on_a_terminal_asks_twice_without_echo():
    password = "Sup3r-Geheim!"
    pid, fd = pty.fork()
    if pid == 0:   # the child: acd passwd on a terminal
        os.execv(sys.executable, [sys.executable, "-m", "acd", "passwd"])
    shown = _talk(fd, [("Password:", password), ("Again:", password)])
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, shown
    assert password not in shown                      # never echoed
    hashed = shown.strip().splitlines()[-1].strip()
    assert argon2.PasswordHasher().verify(hashed, password)


def test_dialling_settings_are_checked_as_acd_uses_them():
    found = problems({"cti": {"dial-template": "sofia/gateway/pstn/+49", "dial-pattern": ".*",
                              "caller-id-number": "Call Center"}})
    assert found == [
        "acd.yaml: cti.dial-template: expected a FreeSWITCH dial string with {number}, such as "
        "sofia/gateway/pstn/{number} (it has no {number}), got 'sofia/gateway/pstn/+49'",
        "acd.yaml: cti.dial-pattern: expected a regular expression for phone numbers such as "
        "^\\+?[0-9]{2,15}$ (it admits '+49 30', which is not a phone number), got '.*'",
        "acd.yaml: cti.caller-id-number: expected a phone number such as +4930123456, got "
        "'Call Center'",
    ]
