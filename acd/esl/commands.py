"""Builders for every command acd sends to FreeSWITCH, with escaping for untrusted values.

Theory of operation
-------------------
acd puts values it does not control into commands: the caller's ID name and number (from the PSTN
or a SIP header), digits the caller typed, names typed by an admin. FreeSWITCH 1.10 reads them
through several layers, and a value must survive each one as data (FreeSWITCH sources:
mod_event_socket.c ``read_packet``/``parse_command``, switch_utils.c ``switch_separate_string``,
switch_ivr_originate.c, switch_event.c ``switch_event_create_brackets``):

1. ESL framing: a command ends at a blank line and each LF starts a header line -- so no raw CR or
   LF may reach the wire outside a Content-Length body.
2. The API splits its argument line at blanks; ``'`` toggles quoting, ``\\`` skips the next byte, and
   each token is cleaned: ``\\\\ -> \\``, ``\\' -> '``, ``\\n \\r \\t \\s`` -> LF CR TAB space, paired
   quotes stripped, ends trimmed.
3. ``originate``: the ``{...}`` block ends at the matching ``}`` counted WITHOUT regard to quotes or
   escapes; its content is split at ``,`` (``\\,`` protects one; single quotes do NOT, as captured from
   FreeSWITCH 1.10.12), each item at its first ``=``, every split cleaning as in 2. ``:_:`` anywhere
   in the dial string switches to enterprise originate.
4. Values set this way are refused (with a CRIT log) when they contain ``${``; application arguments
   sent with sendmsg are expanded (``${...}``) before the application runs.
5. mod_event_socket rewrites any command mentioning both ``unload``/``reload`` and
   ``mod_event_socket`` into an unload of the event socket.

So: every value is escaped for each split it passes (innermost first), characters no layer can
escape are replaced (``{``/``}`` by ``(``/``)``, NUL dropped, ``:_:`` and ``mod_event_socket``
broken up), and anything that cannot be made safe raises :class:`UnsafeValue` rather than sending.
Per-leg ``[...]`` variables pass five splits; acd only puts its own identifiers there, so they are
validated strictly instead of escaped -- put untrusted values in ``{...}``.
"""

import re

#: Channel UUIDs and job UUIDs acd sends: FreeSWITCH's are RFC 4122; ours are uuid4.
_UUID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}\Z")
_APP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")
_CAUSE = re.compile(r"[A-Z][A-Z0-9_]{0,63}\Z")
_DTMF = re.compile(r"[0-9A-Da-d*#wW]{1,128}(@[0-9]{1,5})?\Z")
#: ``user/1001``, ``sofia/gateway/pstn/+4930123456``, ``loopback/5000/default``, ``error/USER_BUSY``.
_ENDPOINT = re.compile(r"[A-Za-z][A-Za-z0-9_]*/[A-Za-z0-9_.+@/:=;-]{1,255}\Z")
#: What a per-leg ``[...]`` value may hold (identifiers, numbers, timeouts, SIP URIs).
_LEG_VALUE = re.compile(r"[A-Za-z0-9_.+@/-]{0,255}\Z")
#: The auto-answer signalling acd adds to the leg of an agent with ``auto-answer: true``.
#: ``sip_auto_answer`` makes mod_sofia send ``Call-Info: <sip:HOST>;answer-after=0`` (Snom,
#: Yealink, Grandstream, Gigaset, AudioCodes, JsSIP/the desktop's softphone); the Alert-Info
#: variant is the one Polycom, Aastra/Mitel, Yealink and Cisco SPA honour (freeswitch/README.md).
AUTO_ANSWER = {"sip_auto_answer": "true",
               "sip_h_Alert-Info": "<http://www.notused.com>;info=alert-autoanswer;delay=0"}
#: Per-leg values acd writes itself: constants from this module, not identifiers, but safe in
#: ``[...]``: no blank, ``,``, quote, backslash, bracket, ``${`` or ``:_:`` in them.
_LEG_CONSTANTS = frozenset(AUTO_ANSWER.values())
#: Application arguments of ``&app(arg)``; FreeSWITCH cuts at the first ``)``.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EVENT_SOCKET = re.compile(r"mod_event_socket", re.IGNORECASE)
_DANGEROUS_COMMAND = (re.compile(r"(un|re)load", re.IGNORECASE), _EVENT_SOCKET)


class UnsafeValue(ValueError):
    """A value cannot be placed in a command safely; nothing was sent."""


# -- validation ---------------------------------------------------------------------------------

def _check(pattern, value, what):
    value = str(value)
    if not pattern.match(value):
        raise UnsafeValue(f"invalid {what}: {value!r}")
    return value


def check_uuid(value):
    return _check(_UUID, value, "uuid")


def check_command(raw):
    """Last line of defence before a command goes on the wire (EslClient.send calls it)."""
    if all(p.search(raw) for p in _DANGEROUS_COMMAND):
        raise UnsafeValue("command mentions both (un|re)load and mod_event_socket; FreeSWITCH "
                          "would turn it into an unload of the event socket")
    return raw


# -- escaping -----------------------------------------------------------------------------------

def _clean(value):
    """Drop what no layer can carry (NUL and other C0 controls except TAB/LF/CR) and break up
    the two magic strings FreeSWITCH searches the whole command for."""
    value = _CONTROL.sub("", str(value))
    value = value.replace(":_:", ":_ :")
    return _EVENT_SOCKET.sub("mod_event-socket", value)


def _escape_split(value, delim):
    """Escape ``value`` so one ``switch_separate_string(.., delim, ..)`` pass returns it intact."""
    value = value.replace("\\", "\\\\").replace("'", "\\'")
    if delim == " ":
        return value.replace(" ", "\\s")
    return value.replace(delim, "\\" + delim)


def _escape_controls(value):
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def api_arg(value):
    """One argument of an ``api``/``bgapi`` command, as data: it cannot split into two arguments,
    end the command or start another. Spaces, quotes, backslashes and line breaks survive."""
    value = _escape_controls(_clean(value))
    return value.replace("'", "\\'").replace(" ", "\\s")


def var_value(value):
    """A value inside an originate ``{...}`` block (three splits: blank, ``,``, ``=``)."""
    value = _clean(value).replace("{", "(").replace("}", ")")
    # innermost split (at "="): LF/CR/TAB as \n \r \t; spaces at the ends as \s, or they are
    # trimmed (spaces inside only need the outer, blank split's \s)
    inner = _escape_controls(value).replace("'", "\\'").replace("=", "\\=")
    core = inner.strip(" ")
    if core != inner:
        lead = len(inner) - len(inner.lstrip(" "))
        inner = "\\s" * lead + core + "\\s" * (len(inner) - len(core) - lead)
    return _escape_split(_escape_split(inner, ","), " ")


#: What a SIP display name may not hold: mod_sofia writes the name unescaped into ``From: "..."``
#: (a ``"`` or ``\\`` cuts what the phone shows, ``<>`` end the quoted part), and ``{}[]`` close or
#: open originate variable blocks that nothing can escape (ESL-FACTS.md, "Passing a caller's name").
_NOT_IN_DISPLAY = re.compile(r'["\\<>{}\[\]\x00-\x1f\x7f]+')
#: A caller number is what a phone number holds: an optional ``+``, digits, ``*`` and ``#``.
_PHONE_NUMBER = re.compile(r"\+?[0-9*#]{1,32}\Z")
#: Formatting people put into numbers, dropped before the number is checked.
_NUMBER_FORMATTING = re.compile(r"[ ()./-]+")
#: Caller number an agent's phone shows when the caller's is not a phone number.
ANONYMOUS_NUMBER = "anonymous"
DISPLAY_NAME_LIMIT = 64


def display_name(value, limit=DISPLAY_NAME_LIMIT):
    """A caller's name fit for an agent phone's SIP display: ``"`` ``\\`` ``<`` ``>`` braces,
    brackets and control characters removed, blanks collapsed, at most ``limit`` characters.
    Everything else (umlauts, commas, apostrophes, ``%``) is kept."""
    value = " ".join(_NOT_IN_DISPLAY.sub(" ", str(value)).split())
    return value[:limit].rstrip()


def phone_number(value):
    """A caller's number fit for a phone: ``+``, digits, ``*``, ``#`` (spaces, dashes, dots,
    slashes and parentheses dropped); anything else -- a SIP URI, a name -- becomes
    ``anonymous``; empty stays empty (FreeSWITCH's default then applies)."""
    number = _NUMBER_FORMATTING.sub("", str(value))
    if not number:
        return ""
    return number if _PHONE_NUMBER.match(number) else ANONYMOUS_NUMBER


def _var_block(variables, open_, close, leg=False):
    items = []
    for name, value in (variables or {}).items():
        _check(_VAR_NAME, name, "variable name")
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        value = str(value)
        if value == "":
            continue  # FreeSWITCH ignores ``name=``
        if leg:
            if value not in _LEG_CONSTANTS:
                _check(_LEG_VALUE, value, f"per-leg value of {name} (put untrusted values in {{}})")
        else:
            value = var_value(value)
        items.append(f"{name}={value}")
    return f"{open_}{','.join(items)}{close}" if items else ""


# -- originate ----------------------------------------------------------------------------------

def leg(endpoint, variables=None):
    """One leg of a dial string: ``[vars]endpoint`` (per-leg values must be plain identifiers)."""
    return _var_block(variables, "[", "]", leg=True) + _check(_ENDPOINT, endpoint, "endpoint")


def parse_contact(contact):
    """An agent's contact from the config: ``[{vars}|[vars]]tech/target`` -> (variables, endpoint).

    The optional block holds that agent's own leg variables (a caller ID for a home-office agent
    reached through a gateway, say); they are sent per leg and win over acd's defaults.
    """
    contact = str(contact)
    variables = {}
    if contact.startswith(("{", "[")):
        close = "}" if contact[0] == "{" else "]"
        end = contact.find(close)
        if end < 0:
            raise UnsafeValue(f"unclosed variable block in contact {contact!r}")
        for item in filter(None, contact[1:end].split(",")):
            name, eq, value = item.partition("=")
            if not eq:
                raise UnsafeValue(f"expected name=value in contact {contact!r}, got {item!r}")
            _check(_VAR_NAME, name, "variable name")
            variables[name] = _check(_LEG_VALUE, value, f"value of {name} in a contact")
        contact = contact[end + 1:]
    return variables, _check(_ENDPOINT, contact, "endpoint")


def dial_string(legs, variables=None, sequential=False):
    """``{vars}leg1,leg2`` (ring together) or ``{vars}leg1|leg2`` (one after another).

    ``legs`` holds endpoint strings or results of :func:`leg`.
    """
    if isinstance(legs, str):
        legs = [legs]
    if not legs:
        raise UnsafeValue("a dial string needs at least one leg")
    built = [item if item.startswith("[") else leg(item) for item in legs]
    return _var_block(variables, "{", "}") + ("|" if sequential else ",").join(built)


def originate(dial, app="park", app_arg="", *, exten=None, dialplan=None, context=None):
    """``originate <dial> &app(arg)`` or ``originate <dial> <exten> [dialplan] [context]``.

    ``dial`` comes from :func:`dial_string`. Send it with ``bgapi``: originate blocks until answer.
    """
    if exten is not None:
        parts = [api_arg(x) for x in (exten, dialplan, context) if x is not None]
        return f"originate {dial} {' '.join(parts)}"
    _check(_APP_NAME, app, "application name")
    arg = str(app_arg)
    if ")" in arg:
        raise UnsafeValue(f"&{app}() argument may not contain ')': {arg!r}")
    return f"originate {dial} &{app}({api_arg(arg)})"


# -- uuid_* and friends -------------------------------------------------------------------------

def uuid_kill(uuid, cause=None):
    return f"uuid_kill {check_uuid(uuid)}" + (f" {_check(_CAUSE, cause, 'cause')}" if cause else "")


def uuid_bridge(uuid, other):
    return f"uuid_bridge {check_uuid(uuid)} {check_uuid(other)}"


def uuid_transfer(uuid, dest, dialplan="XML", context="default", leg=None):
    opt = {None: "", "bleg": "-bleg ", "both": "-both "}[leg]
    return f"uuid_transfer {check_uuid(uuid)} {opt}{api_arg(dest)} {api_arg(dialplan)} {api_arg(context)}"


def uuid_broadcast(uuid, path, leg="aleg"):
    if leg not in ("aleg", "bleg", "both", "holdb"):
        raise UnsafeValue(f"invalid broadcast leg {leg!r}")
    return f"uuid_broadcast {check_uuid(uuid)} {api_arg(path)} {leg}"


def uuid_break(uuid, all_=False):
    return f"uuid_break {check_uuid(uuid)}" + (" all" if all_ else "")


def uuid_record(uuid, action, path, limit=None):
    if action not in ("start", "stop", "mask", "unmask", "pause", "resume"):
        raise UnsafeValue(f"invalid uuid_record action {action!r}")
    cmd = f"uuid_record {check_uuid(uuid)} {action} {api_arg(path)}"
    return cmd + (f" {int(limit)}" if limit is not None else "")


#: A file on the switch host acd may delete: an absolute path without blanks, quotes or shell
#: characters (recordings: acd.config_recording.SAFE_PATH), no ``..`` step.
_SWITCH_FILE = re.compile(r"(?!.*/\.\./)/[A-Za-z0-9_./@+-]+\Z")


def delete_file(path):
    """Delete a file on the switch host: FreeSWITCH has no api for it, so mod_commands'
    ``system rm -f -- PATH`` (answered ``+OK`` whatever happened: check with
    :func:`file_exists`). Only paths of letters, digits and ``_ . / @ + -``."""
    return f"system rm -f -- {_check(_SWITCH_FILE, path, 'file path')}"


def file_exists(path):
    """``file_exists PATH`` -> ``true`` / ``false``."""
    return f"file_exists {_check(_SWITCH_FILE, path, 'file path')}"


def uuid_setvar(uuid, name, value):
    return f"uuid_setvar {check_uuid(uuid)} {_check(_VAR_NAME, name, 'variable name')} {api_arg(value)}"


def uuid_getvar(uuid, name):
    return f"uuid_getvar {check_uuid(uuid)} {_check(_VAR_NAME, name, 'variable name')}"


def uuid_exists(uuid):
    return f"uuid_exists {check_uuid(uuid)}"


def uuid_answer(uuid):
    return f"uuid_answer {check_uuid(uuid)}"


def uuid_park(uuid):
    return f"uuid_park {check_uuid(uuid)}"


def uuid_hold(uuid, off=False):
    return f"uuid_hold {'off ' if off else ''}{check_uuid(uuid)}"


def uuid_recv_dtmf(uuid, digits):
    return f"uuid_recv_dtmf {check_uuid(uuid)} {_check(_DTMF, digits, 'DTMF digits')}"


def hupall(cause="NORMAL_CLEARING"):
    return f"hupall {_check(_CAUSE, cause, 'cause')}"


# -- sendmsg ------------------------------------------------------------------------------------

def _literal_for_expansion(arg):
    """Make FreeSWITCH's variable expansion return ``arg`` unchanged (``${`` and backslashes)."""
    if "\\" in arg or "${" in arg:
        return arg.replace("\\", "\\\\").replace("${", "\\${")
    return arg


def sendmsg_execute(uuid, app, arg=None, *, event_uuid=None, event_lock=False, loops=None,
                    expand=False):
    """``sendmsg <uuid>`` executing ``app arg`` on the channel, as bytes ready for the wire.

    A multi-line argument (or one with leading spaces) travels as a ``text/plain`` body whose
    length is counted in bytes, so it can never add a header. Unless ``expand`` is true,
    ``${...}`` in the argument reaches the application literally.
    """
    lines = [f"sendmsg {check_uuid(uuid)}", "call-command: execute",
             f"execute-app-name: {_check(_APP_NAME, app, 'application name')}"]
    body = b""
    if arg is not None and str(arg) != "":
        arg = _clean(arg) if "\n" not in str(arg) else _CONTROL.sub("", str(arg))
        if not expand:
            arg = _literal_for_expansion(arg)
        if "\n" in arg or "\r" in arg or arg != arg.strip(" \t"):
            body = arg.encode("utf-8")
        else:
            lines.append(f"execute-app-arg: {arg}")
    if event_lock:
        lines.append("event-lock: true")
    if loops is not None:
        lines.append(f"loops: {int(loops)}")
    if event_uuid is not None:
        lines.append(f"Event-UUID: {check_uuid(event_uuid)}")
    if body:
        lines += ["content-type: text/plain", f"Content-Length: {len(body)}"]
    return ("\n".join(lines) + "\n\n").encode("utf-8") + body


_PAGD_WORD = re.compile(r"(?!.*\$\{)[^\s'\\]{1,512}\Z")


def play_and_get_digits(uuid, minimum, maximum, timeout_ms, terminators, prompt, invalid, var,
                        regexp, digit_timeout_ms, *, tries=1, event_uuid=None):
    """``sendmsg`` running play_and_get_digits (arguments split at blanks by FreeSWITCH, so no
    argument may hold a blank, quote, backslash or ``${``); ``event_uuid`` comes back as
    the Application-UUID of its CHANNEL_EXECUTE_COMPLETE."""
    numbers = [int(minimum), int(maximum), int(tries), int(timeout_ms)]
    words = [terminators, prompt, invalid, _check(_VAR_NAME, var, "variable name"), regexp]
    for word in words:
        _check(_PAGD_WORD, word, "play_and_get_digits argument")
    arg = " ".join([str(n) for n in numbers] + words + [str(int(digit_timeout_ms))])
    return sendmsg_execute(uuid, "play_and_get_digits", arg, event_uuid=event_uuid)


def uuid_unsetvar(uuid, name):
    """``uuid_setvar <uuid> <name>`` without a value: FreeSWITCH removes the variable."""
    return f"uuid_setvar {check_uuid(uuid)} {_check(_VAR_NAME, name, 'variable name')}"


def sendmsg_hangup(uuid, cause="NORMAL_CLEARING"):
    return (f"sendmsg {check_uuid(uuid)}\ncall-command: hangup\n"
            f"hangup-cause: {_check(_CAUSE, cause, 'cause')}\n\n").encode()


# -- subscriptions ------------------------------------------------------------------------------

def event_command(names, custom=(), fmt="plain"):
    """``event plain NAME ... CUSTOM sub1 sub2``."""
    for name in list(names) + list(custom):
        if not re.match(r"[A-Za-z0-9_:*-]+\Z", name):
            raise UnsafeValue(f"invalid event name {name!r}")
    words = sorted(set(names) - {"CUSTOM"})
    if custom:
        words += ["CUSTOM"] + sorted(set(custom))
    return f"event {fmt} {' '.join(words)}"


def filter_command(header, value, delete=False):
    _check(re.compile(r"[A-Za-z0-9_-]{1,128}\Z"), header, "filter header")
    value = str(value)
    if _CONTROL.search(value) or "\n" in value or "\r" in value:
        raise UnsafeValue(f"invalid filter value {value!r}")
    return f"filter {'delete ' if delete else ''}{header} {value}"


def command_name(raw):
    """What a command is, for metrics: the api/bgapi command's first word (``originate``,
    ``uuid_bridge``), else the ESL command itself (``sendmsg``, ``event``, ``filter``)."""
    words = raw[:200].split(b"\n", 1)[0].decode("ascii", "replace").split()
    if len(words) > 1 and words[0] in ("api", "bgapi"):
        return words[1]
    return words[0] if words else ""
