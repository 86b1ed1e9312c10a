"""Event filters (``filter H v``) matched as mod_event_socket matches them.

Theory of operation: a connection keeps its filters as ``[(header, value)]`` in the order they
were added. An event passes when some filter whose header the event carries matches it; a value
starting with ``-`` negates (a matching negative filter drops the event at once), ``+`` or
nothing is positive; a value in ``/slashes/`` is a regular expression searched in the header's
value, anything else is compared without regard to case. An event carrying none of the
filtered headers does not pass.
"""

import re


def passes(filters, event):
    """Whether ``event`` gets through the connection's ``filters``."""
    send = False
    for name, value in filters:
        actual = event.get(name)
        if actual is None:
            continue
        positive, wanted = _sense(value)
        if send and positive:
            continue
        if _matches(value, wanted, actual):
            if not positive:
                return False
            send = True
    return send


def _sense(value):
    positive, i = True, 0
    while i < len(value) and value[i] in "+- ":
        if value[i] == "+":
            positive = True
        elif value[i] == "-":
            positive = False
        i += 1
    return positive, value[i:]


def _matches(raw, wanted, actual):
    if raw.startswith("/"):
        pattern = wanted.strip("/")
        try:
            return re.search(pattern, actual) is not None
        except re.error:
            return False
    return actual.lower() == wanted.lower()
