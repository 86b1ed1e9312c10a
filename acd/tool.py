"""What ``acd demo`` and ``acd bench`` share: starting as a gevent tool process and reading
numeric options."""

import argparse
import logging
import signal
import sys


def start_gevent_tool():
    """Monkey-patch (first: these tools run greenswitch, redis and subprocesses in one process),
    log warnings to stderr, and return an Event that SIGINT/SIGTERM set."""
    from gevent import monkey
    if not monkey.is_module_patched("socket"):  # acd.cli.main patched already
        monkey.patch_all()
    import gevent
    import gevent.event

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    stopped = gevent.event.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, stopped.set)
    return stopped


def number(kind, minimum, maximum=None, exclusive=False):
    """An argparse type: ``kind`` (int/float) at least (or, ``exclusive``, above) ``minimum``
    and at most ``maximum``."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value < minimum or (exclusive and value == minimum) or (maximum and value > maximum):
            limits = f"{'above' if exclusive else 'at least'} {minimum}"
            raise argparse.ArgumentTypeError(
                f"expected {limits}{f' and at most {maximum}' if maximum else ''}, got {text}")
        return value
    return parse
