"""The ``acd`` command line.

Subcommands register themselves in ``COMMANDS``; each takes its options from flags or from
``ACD_*`` environment variables (flag wins).
"""

import argparse
import os
import sys

from acd import __version__, defaults


def _env(name, default):
    return os.environ.get(name, default)


def _listen(value):
    """Parse HOST:PORT (port 0 = pick a free port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def _add_sim(sub):
    p = sub.add_parser(
        "sim",
        help="run the FreeSWITCH simulator (ESL inbound server)",
        description="Run a FreeSWITCH simulator that speaks the event-socket protocol. "
        "Prints 'listening on HOST:PORT' once ready.",
    )
    p.add_argument("--listen", type=_listen,
                   default=_env("ACD_SIM_LISTEN", f"{defaults.ESL_HOST}:{defaults.ESL_PORT}"),
                   help="HOST:PORT to listen on; port 0 picks a free port (env ACD_SIM_LISTEN; "
                   "default %(default)s)")
    p.add_argument("--password", default=_env("ACD_SIM_PASSWORD", None),
                   help="ESL password (env ACD_SIM_PASSWORD; default: the config's, else ClueCon)")
    p.add_argument("--config", default=_env("ACD_SIM_CONFIG", None),
                   help="simulator YAML config (env ACD_SIM_CONFIG)")
    p.set_defaults(func=_run_sim)


def _run_sim(args):
    from acd.sim.server import serve_forever
    from acd.sim.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"acd sim: {exc}", file=sys.stderr)
        return 2
    if args.password is not None:
        config.password = args.password
    host, port = args.listen
    return serve_forever(host, port, config)


COMMANDS = [_add_sim]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="acd", description="Automatic call distribution for FreeSWITCH.")
    parser.add_argument("--version", action="version", version=f"acd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
