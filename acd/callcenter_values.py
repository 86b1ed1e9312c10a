"""Reading mod_callcenter's values as mod_callcenter does (acd import-callcenter's shared
helpers): agent statuses, booleans as FreeSWITCH's ``switch_true()``, whole seconds in its range,
``$${var}`` pre-processor variables given on the command line.
"""

import re

#: mod_callcenter's agent statuses (matched without regard to case) -> acd's.
STATUSES = {"available": "available", "available (on demand)": "available",
            "logged out": "logged-out", "on break": "on-break"}
_PREPROCESSOR_VAR = re.compile(r"\$\$\{([^}]*)\}")
_TRUE = ("yes", "on", "true", "t", "enabled", "active", "allow")  # FreeSWITCH's switch_true()


def expand(value, where, param, notes, variables):
    """``$${var}`` from --var NAME=VALUE; None (with a note) when one is not given."""
    missing = [name for name in _PREPROCESSOR_VAR.findall(value) if name not in variables]
    if missing:
        notes.add(where, f"{param}: not mapped: {value!r} uses FreeSWITCH pre-processor "
                         f"variable(s) {', '.join(missing)} (vars.xml); give them with "
                         f"--var NAME=VALUE")
        return None
    return _PREPROCESSOR_VAR.sub(lambda m: variables[m.group(1)], value)


def seconds(value, where, param, notes, instead="acd's default applies"):
    """A whole number of seconds 0..86400 (mod_callcenter's range), else None with a note."""
    text = (value or "").strip()
    if not re.fullmatch(r"[0-9]+", text) or int(text) > 86400:
        notes.add(where, f"{param}: not mapped: {value!r} is not a whole number of seconds "
                         f"0..86400; {instead}")
        return None
    return int(text)


def boolean(value):
    text = (value or "").strip().lower()
    return text in _TRUE or (text.lstrip("-").isdigit() and int(text) != 0)
