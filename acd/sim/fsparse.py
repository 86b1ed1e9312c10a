"""How FreeSWITCH 1.10 cuts strings: the simulator's reading of API arguments and dial strings.

Theory of operation
-------------------
Re-implemented from the behaviour of FreeSWITCH 1.10.12 (switch_utils.c ``switch_separate_string``,
``switch_find_end_paren``; switch_event.c ``switch_event_create_brackets``; switch_ivr_originate.c;
mod_commands.c ``originate``), and checked against the real captures (special_values*). This is
the simulator's own code: acd's ESL client escapes values with no knowledge of it, so a bug in
either shows up as a test failure instead of cancelling out.

``separate_string(text, delim, limit)`` is the workhorse. A backslash makes the tokenizer skip the
next byte; a single quote toggles quoting (with a blank delimiter always, otherwise only when
another quote follows somewhere); an unquoted delimiter ends a token; the last allowed token
keeps the rest. Each token is then *cleaned*: leading blanks skipped, trailing blanks cut unless
quoted or escaped, ``\\\\ \\' \\" \\<delim>`` unescaped, ``\\n \\r \\t \\s`` become LF CR TAB space
(any other ``\\x`` keeps its backslash), and paired quotes removed. A leading ``^^X`` makes X the
delimiter.

Fast paths: the common inputs (no single quote, no backslash right before a delimiter) are cut
with ``str.split`` and cleaned with ``strip`` or one regular-expression pass; they give exactly
what the general loops give, which remain for everything else.

Dial strings: ``<...>`` then ``{...}`` blocks at the front give variables for all legs (the block
ends at the matching bracket, counted without regard to quotes or escapes; its content is split at
the delimiter, then each item at its first ``=``); ``:_:`` anywhere means enterprise originate;
``|`` separates attempts made one after another; ``,`` separates legs rung at once, except inside
a leg's ``[...]`` block, which holds that leg's own variables.
"""

import re

ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "s": " "}
_ESCAPE = re.compile(r"\\(.)", re.S)
_WORD = re.compile("[^ ]+")


class ParseError(ValueError):
    """FreeSWITCH would log "Parse Error!" and fail the originate."""


def separate_string(text, delim, limit=1024):
    """``switch_separate_string``: split ``text`` at ``delim`` into at most ``limit`` cleaned tokens."""
    if text is None:
        return []
    if text.startswith("^^") and len(text) >= 4:
        delim, text = text[2], text[3:]
    if ("'" not in text and ("\\" not in text or "\\" + delim not in text) and limit >= 1
            and delim not in "\\'"):
        raw = _split_blanks(text, limit) if delim == " " else _split_char(text, delim, limit)
    else:
        raw = _blank_tokens(text, limit) if delim == " " else _char_tokens(text, delim, limit)
    return [cleanup(token, None if delim == " " else delim) for token in raw]


def _split_char(text, delim, limit):
    """``_char_tokens`` for a text no quote or escape can affect: no empty last token."""
    tokens = text.split(delim, limit - 1)
    if len(tokens) > 1 and not tokens[-1]:
        tokens.pop()
    return tokens


def _split_blanks(text, limit):
    """``_blank_tokens`` for a text no quote or escape can affect: runs of blanks separate, the
    last allowed token keeps the rest of the line."""
    tokens = []
    for word in _WORD.finditer(text):
        if len(tokens) == limit - 1:
            tokens.append(text[word.start():])
            return tokens
        tokens.append(word.group())
    return tokens or [""]


def _char_tokens(text, delim, limit):
    tokens, start, quoted, i, n = [], 0, False, 0, len(text)
    while i < n and len(tokens) < limit - 1:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "'" and (quoted or "'" in text[i + 1:]):
            quoted = not quoted
        elif ch == delim and not quoted:
            tokens.append(text[start:i])
            start = i + 1
        i += 1
    if start < n or not tokens:
        tokens.append(text[start:])
    return tokens


def _blank_tokens(text, limit):
    tokens, current, quoted, i, n = [], None, False, 0, len(text)
    while i < n:
        ch = text[i]
        if len(tokens) == limit - 1 and current is None and ch != " ":
            tokens.append(text[i:])
            return tokens
        if ch == " " and not quoted:
            if current is not None:
                tokens.append(current)
                current = None
            i += 1
            continue
        if ch == "\\":
            current = (current or "") + text[i:i + 2]
            i += 2
            continue
        if ch == "'":
            quoted = not quoted
        current = (current or "") + ch
        i += 1
    if current is not None:
        tokens.append(current)
    return tokens or [""]


def cleanup(token, delim=None):
    """``cleanup_separated_string``: unescape, drop paired quotes, trim unprotected blanks."""
    if "'" not in token:
        if "\\" not in token:
            return token.strip(" ")
        text = _unescape(token.lstrip(" "), delim)
        if text is not None:
            return text
    return _cleanup_general(token, delim)


def _cleanup_general(token, delim):
    out, protected, quoted, i, n = [], 0, False, 0, len(token)
    while i < n and token[i] == " ":
        i += 1
    while i < n:
        ch = token[i]
        if ch == "\\" and i + 1 < n:
            nxt = token[i + 1]
            if nxt in ("'", '"', "\\") or (delim and nxt == delim):
                out.append(nxt)
            elif nxt in ESCAPES:
                out.append(ESCAPES[nxt])
            else:
                out.append(ch + nxt)
            protected = len(out)
            i += 2
            continue
        if ch == "'" and (quoted or "'" in token[i + 1:]):
            quoted = not quoted
            i += 1
            continue
        out.append(ch)
        if quoted:
            protected = len(out)
        i += 1
    text = "".join(out)
    stripped = text.rstrip(" ")
    return text[:max(len(stripped), protected)] if protected else stripped


def _unescape(text, delim):
    """``cleanup`` of a text without quotes: escapes resolved, blanks after the last escape cut;
    None if an escape is unknown (the general loop's count of what is protected then differs)."""
    out, pos = [], 0
    for escape in _ESCAPE.finditer(text):
        nxt = escape.group(1)
        out.append(text[pos:escape.start()])
        if nxt in ("'", '"', "\\") or (delim and nxt == delim):
            out.append(nxt)
        elif nxt in ESCAPES:
            out.append(ESCAPES[nxt])
        else:
            return None
        pos = escape.end()
    out.append(text[pos:].rstrip(" "))
    return "".join(out)


def find_end_paren(text, open_, close):
    """Index of the bracket closing the one at the start of ``text`` (after blanks), or -1."""
    i = len(text) - len(text.lstrip(" "))
    if i >= len(text) or text[i] != open_:
        return -1
    first_close = text.find(close, i + 1)
    if first_close < 0 or open_ == close or text.find(open_, i + 1, first_close) < 0:
        return first_close
    depth = 0
    for j in range(i, len(text)):
        ch = text[j]
        if ch == open_ and (depth == 0 or open_ != close):
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return j
    return -1


def create_brackets(text, open_, close, delim):
    """``switch_event_create_brackets``: the variables of the block at the front of ``text``
    as a list of (name, value), and what follows the block."""
    end = find_end_paren(text, open_, close)
    if end < 0:
        raise ParseError(f"unterminated {open_}{close} block")
    start = text.index(open_) + 1
    block = text[start:end]
    if block.startswith("^^") and len(block) >= 3:
        delim, block = block[2], block[3:]
    variables = []
    for item in separate_string(block, delim):
        parts = separate_string(item, "=", 2)
        if len(parts) == 2 and parts[1] != "":
            variables.append((parts[0], parts[1]))
    return variables, text[end + 1:]


QUOTED_COMMA, UNQUOTED_COMMA = "\x01", "\x02"


def parse_dial_string(text):
    """A dial string as ``(global_vars, attempts)``; attempts is a list (tried one after another)
    of lists (rung together) of ``(endpoint, leg_vars)``; variables are lists of (name, value).
    Enterprise strings (``:_:``) come back as several such results, see ``enterprise_parts``."""
    data = text.lstrip(" ")
    global_vars = []
    while data.startswith("<"):
        found, data = create_brackets(data, "<", ">", ",")
        global_vars += found
    while data.startswith("{"):
        found, data = create_brackets(data, "{", "}", ",")
        global_vars += found
    data = data.lstrip(" ")
    attempts = []
    for group in separate_string(data, "|"):
        legs = []
        for leg in separate_string(_mark_leg_commas(group), ","):
            legs.append(_parse_leg(leg))
        attempts.append(legs)
    return global_vars, attempts


def enterprise_parts(text):
    """``<vars>a:_:b`` -> (shared vars, ["a", "b"]) -- no quotes, escapes or brackets honoured."""
    data = text.lstrip(" ")
    shared = []
    while data.startswith("<"):
        found, data = create_brackets(data, "<", ">", ",")
        shared += found
    return shared, data.split(":_:")


def _mark_leg_commas(group):
    """Commas inside a leg's ``[...]`` block do not separate legs (FreeSWITCH swaps them for
    markers before splitting legs)."""
    if "[" not in group:
        return group
    if "'" not in group and "\\" not in group and "^^" not in group:
        return _mark_plain_leg_commas(group)
    out, end, quoted, alt = list(group), -1, False, False
    for i, ch in enumerate(group):
        if end < 0 and ch == "[":
            close = find_end_paren(group[i:], "[", "]")
            end, alt, quoted = (i + close if close >= 0 else -1), group[i + 1:i + 3] == "^^", False
        if ch == "'":
            quoted = not quoted
        if end >= 0 and i < end and ch == "," and (i == 0 or group[i - 1] != "\\"):
            out[i] = QUOTED_COMMA if (quoted or alt) else UNQUOTED_COMMA
        if i == end:
            end = -1
    return "".join(out)


def _mark_plain_leg_commas(group):
    """``_mark_leg_commas`` without quotes, escapes or ``^^``: every comma inside a ``[...]``
    block is unquoted."""
    out, pos = [], 0
    while True:
        start = group.find("[", pos)
        if start < 0:
            break
        close = find_end_paren(group[start:], "[", "]")
        if close < 0:
            out.append(group[pos:start + 1])
            pos = start + 1
            continue
        end = start + close
        out.append(group[pos:start])
        out.append(group[start:end].replace(",", UNQUOTED_COMMA))
        pos = end
    out.append(group[pos:])
    return "".join(out)


def _parse_leg(leg):
    leg = leg.lstrip(" ")
    leg_vars = []
    while leg.startswith("["):
        end = find_end_paren(leg, "[", "]")
        if end < 0:
            raise ParseError("unterminated [] block")
        leg = leg[:end].replace(QUOTED_COMMA, ",") + leg[end:]
        found, leg = create_brackets(leg, "[", "]", UNQUOTED_COMMA)
        leg_vars += found
        leg = leg.lstrip(" ")
    return leg.replace(QUOTED_COMMA, ",").replace(UNQUOTED_COMMA, ","), leg_vars


def parse_app_target(text):
    """``&name(args)``: the first ``)`` ends the arguments, the first ``(`` starts them."""
    name = text[1:] if text.startswith("&") else text
    close = name.find(")")
    if close >= 0:
        name = name[:close]
    name, paren, arg = name.partition("(")
    return name, arg if paren else None
