"""queues[].recording as the issue's contract says: defaults, consent mode, and what
``acd check-config`` rejects (overlapping digits, a missing purpose or announcement, a path
template with other placeholders)."""

import pathlib
import subprocess
import sys
import textwrap

import pytest

from acd.config import ConfigError, load_config

BASE = """\
agents: [{id: "1001", contact: user/1001}]
queues:
  - name: support
    tiers: [{agent: "1001"}]
    recording:
%s
"""
CONTRACT = """\
      mode: consent
      purpose: "quality assurance and training"
      announcement: recording/consent-support.wav
      accept-digit: "1"
      decline-digit: "2"
      prompt-timeout: 8
      revoke-digits: "*9"
      on-revoke: delete
      revoked-sound: recording/stopped.wav
      path-template: "/var/lib/acd/recordings/{date}/{call_uuid}.wav"
      stereo: true
      retention-days: 90
"""


def load(tmp_path, recording):
    path = tmp_path / "acd.yaml"
    path.write_text(BASE % textwrap.indent(textwrap.dedent(recording), "      "))
    return load_config(path, env={})


def problems(tmp_path, recording):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, recording)
    return [line.split(": ", 1)[1] for line in info.value.problems]


def test_the_contract_parses(tmp_path):
    rec = load(tmp_path, CONTRACT).queue("support").recording
    assert rec.consent and rec.purpose == "quality assurance and training"
    assert (rec.accept_digit, rec.decline_digit, rec.revoke_digits) == ("1", "2", "*9")
    assert rec.prompt_timeout == 8 and rec.on_revoke == "delete" and rec.stereo
    assert rec.retention_days == 90 and rec.revoked_sound == "recording/stopped.wav"


def test_off_by_default(tmp_path):
    path = tmp_path / "acd.yaml"
    path.write_text('agents: [{id: "1001", contact: user/1001}]\n'
                    'queues: [{name: support, tiers: [{agent: "1001"}]}]\n')
    assert not load_config(path, env={}).queue("support").recording.consent
    assert not load(tmp_path, "mode: off\n").queue("support").recording.consent


@pytest.mark.parametrize("recording, expected", [
    ("mode: consent\nannouncement: a.wav\n",
     "queues[0].recording.purpose: required with mode: consent"),
    ("mode: consent\npurpose: qa\n",
     "queues[0].recording.announcement: required with mode: consent"),
    ("mode: consent\npurpose: qa\nannouncement: a.wav\naccept-digit: '2'\n",
     "queues[0].recording.decline-digit: overlaps accept-digit"),
    ("mode: consent\npurpose: qa\nannouncement: a.wav\nrevoke-digits: '1'\n",
     "queues[0].recording.revoke-digits: overlaps accept-digit"),
    ("mode: consent\npurpose: qa\nannouncement: a.wav\nrevoke-digits: '22'\n",
     "queues[0].recording.revoke-digits: overlaps decline-digit"),
    ("mode: consent\npurpose: qa\nannouncement: a.wav\npath-template: /r/{caller}/{call_uuid}.wav\n",
     "queues[0].recording.path-template: only the placeholders {date}, {call_uuid}, {queue}, "
     "{agent} may be used, got {caller}"),
    ("mode: consent\npurpose: qa\nannouncement: a.wav\npath-template: '/r/{date!r}/{call_uuid}'\n",
     "queues[0].recording.path-template: only the placeholders"),
    ("mode: consent\npurpose: qa\nannouncement: a.wav\npath-template: '/r/$(rm -rf)/{call_uuid}'\n",
     "queues[0].recording.path-template: expected letters, digits"),
    ("mode: consent\npurpose: qa\nannouncement: a.wav\npath-template: /r/{date}.wav\n",
     "queues[0].recording.path-template: must contain {call_uuid}"),
    ("mode: consent\npurpose: qa\nannouncement: a.wav\npath-template: r/{call_uuid}.wav\n",
     "queues[0].recording.path-template: expected an absolute path"),
    ("mode: always\n", "queues[0].recording.mode: expected one of off, consent"),
    ("mode: consent\npurpose: qa\nannouncement: a.wav\nrevoke-digits: '*9x'\n",
     "queues[0].recording.revoke-digits: expected 1 to 8 DTMF keys"),
    ("mode: consent\npurpose: qa\nannouncement: a.wav\non-revoke: shred\n",
     "queues[0].recording.on-revoke: expected one of delete, keep-until-revoke"),
    ("mode: consent\npurpose: qa\nannouncement: a.wav\nconsent: true\n",
     "queues[0].recording.consent: unknown key"),
])
def test_check_config_rejects(tmp_path, recording, expected):
    found = problems(tmp_path, recording)
    assert any(p.startswith(expected) for p in found), found


def test_check_config_command_names_the_problem(tmp_path):
    path = tmp_path / "acd.yaml"
    path.write_text(BASE % textwrap.indent("mode: consent\npurpose: qa\n", "      "))
    done = subprocess.run([sys.executable, "-m", "acd", "check-config", str(path)],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
                          cwd=pathlib.Path(__file__).parent.parent)
    assert done.returncode != 0
    assert "recording.announcement: required with mode: consent" in done.stderr + done.stdout
