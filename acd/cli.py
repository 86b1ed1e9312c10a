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
    from acd.sim.listener import serve_forever
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


def _add_check_config(sub):
    p = sub.add_parser(
        "check-config",
        help="validate the daemon's config file (acd.yaml)",
        description="Validate acd.yaml without starting anything. Prints 'FILE: OK (N agents, "
        "M queues)' and exits 0, or every problem as 'FILE: key.path: problem' on stderr and "
        "exits 1. Warnings ('FILE: warning: ...') go to stderr and do not fail the check. "
        "Secrets (ESL password, admin token) are never printed.")
    p.add_argument("file", nargs="?", metavar="FILE", default=_env("ACD_CONFIG", None),
                   help="the config file (env ACD_CONFIG)")
    p.set_defaults(func=_run_check_config)


def _load_config(path, command, how):
    """The config, or the exit status after saying what is wrong (2: no file, 1: problems)."""
    from acd.config import ConfigError, load_config

    if not path:
        print(f"acd {command}: no config file given ({how} or env ACD_CONFIG)", file=sys.stderr)
        return 2
    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1


def _run_check_config(args):
    config = _load_config(args.file, "check-config", "argument FILE")
    if isinstance(config, int):
        return config
    for warning in config.warnings:
        print(warning, file=sys.stderr)
    agents, queues = len(config.agents), len(config.queues)
    print(f"{args.file}: OK ({agents} agent{'s' * (agents != 1)}, "
          f"{queues} queue{'s' * (queues != 1)})")
    return 0


def _add_run(sub):
    p = sub.add_parser(
        "run", help="run the ACD daemon (ESL + Redis + HTTP)",
        description="Run the ACD daemon: connects to FreeSWITCH's event socket and to Redis, "
        "serves the HTTP API, and logs one line per routing decision to stdout.")
    p.add_argument("--config", default=_env("ACD_CONFIG", None),
                   help="the config file (env ACD_CONFIG)")
    p.add_argument("--log-level", default=_env("ACD_LOG_LEVEL", "INFO"),
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="log level (env ACD_LOG_LEVEL; default %(default)s)")
    p.add_argument("--log-format", default=_env("ACD_LOG_FORMAT", "text"), choices=["text", "json"],
                   help="one text line or one JSON object per log record; every routing "
                   "decision carries call, queue and agent (env ACD_LOG_FORMAT; default "
                   "%(default)s)")
    p.set_defaults(func=_run_daemon)


def _run_daemon(args):
    import logging

    config = _load_config(args.config, "run", "--config FILE")
    if isinstance(config, int):
        return config
    from acd.logs import configure

    configure(args.log_level, args.log_format)
    for warning in config.warnings:
        logging.getLogger("acd").warning("%s", warning)
    from acd.daemon import run

    return run(config, args.log_format)


def _add_demo(sub):
    from acd.demo import add_demo_parser

    add_demo_parser(sub)


def _add_bench(sub):
    from acd.bench.run import add_bench_parser

    add_bench_parser(sub)


COMMANDS = [_add_sim, _add_check_config, _add_run, _add_demo, _add_bench]


def _add_report(sub):
    p = sub.add_parser(
        "report", help="summarize call records: per queue and per agent",
        description="Read the call records of the queue calls that ended in [--from, --to) from "
        "Redis and print per-queue and per-agent summaries: offered, answered, abandoned, "
        "overflowed, timed_out, exited, service_level (0..1), asa and aht (seconds). Times: "
        "ISO 8601 (2027-01-15T08:00:00Z, 2027-01-15; no zone = UTC) or epoch seconds.")
    p.add_argument("--config", default=_env("ACD_CONFIG", None),
                   help="the config file: Redis and service-level thresholds (env ACD_CONFIG)")
    p.add_argument("--from", dest="start", required=True, type=_moment, help="start (included)")
    p.add_argument("--to", dest="end", required=True, type=_moment, help="end (excluded)")
    p.add_argument("--queue", default=None, help="only this queue's calls")
    p.add_argument("--format", default="csv", choices=["csv", "json"],
                   help="output format (default %(default)s)")
    p.set_defaults(func=_run_report)


def _moment(value):
    """Epoch seconds from ISO 8601 (UTC when no zone is given) or a number."""
    import datetime

    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ISO 8601 or epoch seconds, got {value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def _run_report(args):
    config = _load_config(args.config, "report", "--config FILE")
    if isinstance(config, int):
        return config
    from acd.records import print_report

    return print_report(config, args.start, args.end, args.queue, args.format, sys.stdout)


COMMANDS.append(_add_report)


def _add_cti(sub):
    from acd.cli_cti import add_passwd_parser, add_token_parser

    add_passwd_parser(sub)
    add_token_parser(sub)


COMMANDS.append(_add_cti)


def _add_recordings(sub):
    from acd.cli_recordings import add_recordings_parser

    add_recordings_parser(sub)


COMMANDS.append(_add_recordings)


def _add_webhooks(sub):
    from acd.cli_webhooks import add_webhooks_parser   # docs/crm.md

    add_webhooks_parser(sub)


COMMANDS.append(_add_webhooks)


def _add_import_callcenter(sub):
    from acd.cli_callcenter import add_import_parser   # mod_callcenter's XML -> acd.yaml

    add_import_parser(sub)


COMMANDS.append(_add_import_callcenter)


def _add_admin(sub):
    from acd.cli_admin import add_admin_parsers   # acd reload, acd export-config

    add_admin_parsers(sub)


COMMANDS.append(_add_admin)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="acd", description="Automatic call distribution for FreeSWITCH.")
    parser.add_argument("--version", action="version", version=f"acd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


#: Subcommands that run as one gevent process (greenswitch, redis, subprocesses): they are
#: monkey-patched before anything else is imported (redis imports ssl; patching after that
#: printed gevent's MonkeyPatchWarning at every start and leaves ssl unpatched).
GEVENT_COMMANDS = ("run", "demo", "bench")


def main(argv=None):
    words = sys.argv[1:] if argv is None else argv
    if next((w for w in words if not w.startswith("-")), None) in GEVENT_COMMANDS:
        from gevent import monkey
        monkey.patch_all()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
