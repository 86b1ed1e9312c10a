"""``originate`` arguments and dial strings, read with FreeSWITCH's string cutting (fsparse).

Theory of operation: the originate line is cut at blanks (quotes group and disappear,
backslashes stay), the first field is the dial string, the second the target (``&app(args)`` or
an extension) followed by dialplan, context, caller id name/number and timeout. A dial string
gives *attempts* made one after another (``|``), each a list of legs rung together (``,``); every
leg carries its variables: its own ``[...]`` ones first, then the ``{...}``/``<...>`` ones it does
not override (the order FreeSWITCH sets them on the channel). Enterprise originate (``:_:``) is
simplified: the first attempt of every part is rung together.
"""

from acd.sim import fsparse

USAGE = ("-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] "
         "[<cid_name>] [<cid_num>] [<timeout_sec>]\n")
MAX_ARGS = 7


class UsageError(ValueError):
    pass


class Leg:
    """One endpoint to call and the variables for its channel."""

    __slots__ = ("endpoint", "variables", "inherited")

    def __init__(self, endpoint, variables):
        self.endpoint = endpoint
        self.variables = variables
        self.inherited = {}   # caller id a bridge app's leg takes from its caller (not set)

    def __repr__(self):
        return "Leg(%r, %r)" % (self.endpoint, self.variables)


class OriginateRequest:
    """``originate`` parsed: attempts (lists of Legs rung together) and what the winner runs."""

    def __init__(self, attempts, app=None, app_arg="", exten=None, dialplan="XML",
                 context="default", cid_name=None, cid_number=None, timeout=None):
        self.attempts = attempts
        self.app = app
        self.app_arg = app_arg
        self.exten = exten
        self.dialplan = dialplan
        self.context = context
        self.cid_name = cid_name
        self.cid_number = cid_number
        self.timeout = timeout


def parse_originate(arg_line):
    """The argument of ``originate``; UsageError carries FreeSWITCH's usage text."""
    args = fsparse.separate_string(arg_line or "", " ", 10)
    if not 2 <= len(args) <= MAX_ARGS:
        raise UsageError(USAGE)
    request = OriginateRequest(parse_dialstring(args[0]))
    if args[1].startswith("&"):
        request.app, arg = fsparse.parse_app_target(args[1])
        request.app_arg = arg or ""
    else:
        request.exten = args[1]
    rest = args[2:] + [None] * 5
    request.dialplan = rest[0] or "XML"
    request.context = rest[1] or "default"
    request.cid_name = None if rest[2] in (None, "undef") else rest[2]
    request.cid_number = None if rest[3] in (None, "undef") else rest[3]
    if rest[4] and rest[4].isdigit():
        request.timeout = int(rest[4])
    return request


def parse_dialstring(text):
    """A dial string -> list of attempts, each a list of Legs rung together.

    Raises fsparse.ParseError for an unterminated ``{``/``[``/``<`` block."""
    if ":_:" not in text:
        return _attempts(*fsparse.parse_dial_string(text))
    shared, parts = fsparse.enterprise_parts(text)
    first_attempts = []
    for part in parts:
        attempts = _attempts(*fsparse.parse_dial_string(part), inherited=shared)
        if attempts:
            first_attempts.extend(attempts[0])
    return [first_attempts] if first_attempts else []


def _attempts(global_vars, attempts, inherited=()):
    shared = list(inherited) + list(global_vars)
    return [[_leg(endpoint, local, shared) for endpoint, local in legs if endpoint]
            for legs in attempts if any(endpoint for endpoint, _ in legs)]


def _leg(endpoint, local, shared):
    """A leg's variables: its own ``[...]`` ones, overridden by the ``{...}``/``<...>`` ones
    (FreeSWITCH installs the wider scope last) unless ``local_var_clobber=true``."""
    variables = dict(local)
    shared = dict(shared)
    clobber = (shared.get("local_var_clobber") or variables.get("local_var_clobber", "")).lower()
    for name, value in shared.items():
        if clobber == "true":
            variables.setdefault(name, value)
        else:
            variables[name] = value
    return Leg(endpoint, variables)


def split_endpoint(endpoint):
    """``user/1001@dom`` -> ('user', '1001@dom'); no slash -> (endpoint, '')."""
    tech, _, rest = endpoint.partition("/")
    return tech.lower(), rest
