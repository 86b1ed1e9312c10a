"""``queues[].recording``: call recording only with consent (docs/recording.md).

Theory of operation: :func:`read_recording` reads one queue's ``recording:`` mapping with the
typed readers of ``acd.config_reader`` and checks what ``acd check-config`` promises: in
``consent`` mode a purpose and an announcement are required, the accept, decline and revoke
digits must not overlap, and the path template may use only ``{date}``, ``{call_uuid}``,
``{queue}`` and ``{agent}`` (and must name the call, so two calls never share a file).
"""

import re
import string
from dataclasses import dataclass

from acd import defaults
from acd.config_reader import Reader, as_text, shown

MODES = ("off", "consent")
ON_REVOKE = ("delete", "keep-until-revoke")
PLACEHOLDERS = ("date", "call_uuid", "queue", "agent")
_KEYS = ("mode", "purpose", "announcement", "accept-digit", "decline-digit", "prompt-timeout",
         "revoke-digits", "on-revoke", "revoked-sound", "path-template", "stereo",
         "retention-days")
_DTMF = "0123456789*#"
#: What a recording path may hold once expanded: it is an argument of uuid_record and of the
#: deletion on the switch (acd.recording), so no blanks, quotes or shell characters.
SAFE_PATH = re.compile(r"/[A-Za-z0-9_./@+-]+\Z")
_LITERAL = re.compile(r"[A-Za-z0-9_./@+-]*\Z")


@dataclass(frozen=True)
class RecordingConfig:
    mode: str = "off"
    purpose: str = ""
    announcement: "str | None" = None
    accept_digit: str = defaults.RECORDING_ACCEPT_DIGIT
    decline_digit: str = defaults.RECORDING_DECLINE_DIGIT
    prompt_timeout: float = defaults.RECORDING_PROMPT_TIMEOUT
    revoke_digits: str = defaults.RECORDING_REVOKE_DIGITS
    on_revoke: str = defaults.RECORDING_ON_REVOKE
    revoked_sound: "str | None" = None
    path_template: str = defaults.RECORDING_PATH_TEMPLATE
    stereo: bool = defaults.RECORDING_STEREO
    retention_days: int = defaults.RECORDING_RETENTION_DAYS

    @property
    def consent(self):
        """Whether calls of the queue are recorded (with both consents)."""
        return self.mode == "consent"


OFF = RecordingConfig()


def read_recording(r):
    """The ``recording`` key of a queue's Reader ``r`` (OFF when absent)."""
    if not r.has("recording"):
        return OFF
    rec = Reader(r.raw("recording", None), f"{r.where}.recording", _KEYS, r.problems)
    if rec.raw("mode") is False:    # YAML 1.1 reads a bare off as false
        rec.data = dict(rec.data, mode="off")
    config = RecordingConfig(
        mode=rec.choice("mode", "off", MODES),
        purpose=rec.text("purpose", "") if rec.has("purpose") else "",
        announcement=rec.text("announcement", None),
        accept_digit=_digit(rec, "accept-digit", defaults.RECORDING_ACCEPT_DIGIT),
        decline_digit=_digit(rec, "decline-digit", defaults.RECORDING_DECLINE_DIGIT),
        prompt_timeout=rec.seconds("prompt-timeout", defaults.RECORDING_PROMPT_TIMEOUT,
                                   positive=True),
        revoke_digits=_digits(rec),
        on_revoke=rec.choice("on-revoke", defaults.RECORDING_ON_REVOKE, ON_REVOKE),
        revoked_sound=rec.text("revoked-sound", None),
        path_template=_template(rec),
        stereo=rec.boolean("stereo", defaults.RECORDING_STEREO),
        retention_days=rec.integer("retention-days", defaults.RECORDING_RETENTION_DAYS, 1))
    if config.consent:
        _check_consent_mode(rec, config)
    return config


def _check_consent_mode(rec, config):
    if not config.purpose.strip():
        rec.fail("purpose", "required with mode: consent (told to the caller, stored with "
                            "every record)")
    if not config.announcement:
        rec.fail("announcement", "required with mode: consent (the sound that states the "
                                 "purpose and the keys)")
    if config.accept_digit == config.decline_digit:
        rec.fail("decline-digit", f"overlaps accept-digit ({config.accept_digit!r}): the "
                                  "caller's answer could not be told apart")
    for name, digit in (("accept-digit", config.accept_digit),
                        ("decline-digit", config.decline_digit)):
        if config.revoke_digits in (digit, digit * len(config.revoke_digits)):
            rec.fail("revoke-digits", f"overlaps {name} ({digit!r})")


def _digit(rec, name, default):
    value = rec.raw(name, default)
    text = as_text(value)
    if text is None or len(text) != 1 or text not in _DTMF:
        hint = " (quote \"#\" and \"*\")" if value is None else ""
        rec.fail(name, f"expected one DTMF key 0-9, * or #{hint}, got {shown(value)}")
        return default
    return text


def _digits(rec):
    value = rec.raw("revoke-digits", defaults.RECORDING_REVOKE_DIGITS)
    text = as_text(value)
    if text is None or not 1 <= len(text) <= 8 or any(ch not in _DTMF for ch in text):
        rec.fail("revoke-digits", f"expected 1 to 8 DTMF keys 0-9 * #, got {shown(value)}")
        return defaults.RECORDING_REVOKE_DIGITS
    return text


def _template(rec):
    value = rec.raw("path-template", defaults.RECORDING_PATH_TEMPLATE)
    if not isinstance(value, str) or not value.startswith("/"):
        rec.fail("path-template", f"expected an absolute path, got {shown(value)}")
        return defaults.RECORDING_PATH_TEMPLATE
    try:
        parts = list(string.Formatter().parse(value))
    except ValueError as exc:
        rec.fail("path-template", f"not a valid template: {exc}")
        return defaults.RECORDING_PATH_TEMPLATE
    names = [name for _, name, spec, conv in parts if name is not None]
    bad = [n for n in names if n not in PLACEHOLDERS]
    if bad or any(spec or conv for _, name, spec, conv in parts if name is not None):
        rec.fail("path-template", f"only the placeholders {{{'}, {'.join(PLACEHOLDERS)}}} "
                                  f"may be used, got {{{bad[0] if bad else names[0]}}}")
        return defaults.RECORDING_PATH_TEMPLATE
    if not all(_LITERAL.match(text) for text, *_ in parts):
        rec.fail("path-template", "expected letters, digits and _ . / @ + - around the "
                                  f"placeholders, got {shown(value)}")
        return defaults.RECORDING_PATH_TEMPLATE
    if "call_uuid" not in names:
        rec.fail("path-template", "must contain {call_uuid} (each call its own file)")
        return defaults.RECORDING_PATH_TEMPLATE
    return value
