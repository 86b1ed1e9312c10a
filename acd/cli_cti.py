"""``acd passwd`` and ``acd token``: agents' password hashes and integration tokens (docs/cti.md).

``acd passwd`` reads a password without echo (twice, from a terminal) or one line from standard
input (a pipe: scripts and tests), and prints its Argon2id hash for ``agents[].password-hash``.
``acd token create`` prints a new integration token once -- Redis keeps only its SHA-256 --
``acd token list`` shows what exists (never a token), ``acd token revoke ID`` ends one.
"""

import argparse
import getpass
import os
import sys


def _env(name, default=None):
    return os.environ.get(name, default)


def add_passwd_parser(sub):
    p = sub.add_parser(
        "passwd", help="print the Argon2id hash of an agent's password",
        description="Read a password (without echo from a terminal, twice; or one line from "
        "standard input) and print its Argon2id hash for agents[].password-hash.")
    p.set_defaults(func=run_passwd)


def run_passwd(args, stdin=None, stdout=None, stderr=None):
    from acd.cti.passwords import hash_password

    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    if stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("acd passwd: the passwords differ", file=stderr)
            return 1
    else:
        password = stdin.readline().rstrip("\r\n")
    if not password:
        print("acd passwd: empty password", file=stderr)
        return 1
    print(hash_password(password), file=stdout)
    return 0


def add_token_parser(sub):
    p = sub.add_parser(
        "token", help="create, list or revoke integration tokens",
        description="Long-lived bearer tokens for integrations (a CRM, a wallboard screen). "
        "The token is printed once; Redis keeps only its SHA-256.")
    p.add_argument("--config", default=_env("ACD_CONFIG"),
                   help="the config file: Redis and agents (env ACD_CONFIG)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a token and print it once")
    create.add_argument("--role", required=True, choices=["agent", "supervisor", "admin", "integration"])
    create.add_argument("--agent", default=None, help="the agent id the token acts as")
    create.add_argument("--name", default="", help="what the token is for (e.g. crm)")
    create.add_argument("--ttl", default=None, type=_ttl,
                        help="how long it is valid: seconds or 90s, 15m, 12h, 90d "
                        "(default: until revoked)")
    actions.add_parser("list", help="list the tokens (never the tokens themselves)")
    revoke = actions.add_parser("revoke", help="end a token")
    revoke.add_argument("id", help="the token's id (acd token list)")
    p.set_defaults(func=run_token)


def _ttl(value):
    from acd.config_cti import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("the ttl must be above 0")
    return seconds


def run_token(args, stdout=None):
    import redis

    from acd.cli import _load_config

    stdout = stdout or sys.stdout
    config = _load_config(args.config, "token", "--config FILE")
    if isinstance(config, int):
        return config
    try:
        auth = _auth(config)
        if args.action == "create":
            return _create(auth, args, stdout)
        if args.action == "list":
            return _list(auth, stdout)
        if not auth.revoke(args.id):
            print(f"acd token: no token {args.id!r}", file=sys.stderr)
            return 1
        print(f"revoked {args.id}", file=stdout)
        return 0
    except redis.RedisError as exc:
        print(f"acd token: cannot reach Redis: {exc}", file=sys.stderr)
        return 1


def _auth(config):
    import redis

    from acd import clock
    from acd.cti.auth import Auth
    from acd.store.cti import CtiStore
    from acd.store.connect import connect, keys_for

    client = connect(config.redis, socket_timeout=10)
    return Auth(lambda: config, CtiStore(client, keys_for(config.redis)), clock.now,
                config.http.admin_token)


def _create(auth, args, stdout):
    try:
        token, fields = auth.create_token(args.role, args.agent, args.name, args.ttl)
    except ValueError as exc:
        print(f"acd token: {exc}", file=sys.stderr)
        return 2
    print(token, file=stdout)
    print(f"acd token: created {fields['id']} (role {args.role}"
          + (f", agent {args.agent}" if args.agent else "")
          + (f", name {args.name}" if args.name else "") + "); this is the only time the token "
          "is shown", file=sys.stderr)
    return 0


def _list(auth, stdout):
    from acd.service import iso_utc

    print("id\trole\tagent\tname\tcreated\texpires", file=stdout)
    for fields in auth.tokens():
        expires = float(fields["expires_at"]) if fields.get("expires_at") else None
        print("\t".join([fields.get("id", ""), fields.get("role", ""), fields.get("agent") or "-",
                         fields.get("name") or "-",
                         iso_utc(float(fields.get("created_at") or 0)) or "-",
                         iso_utc(expires) or "never"]), file=stdout)
    return 0
