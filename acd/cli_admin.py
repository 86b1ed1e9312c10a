"""``acd reload`` and ``acd export-config``: the running configuration (docs/config.md).

``acd reload`` checks acd.yaml first (a broken file: every problem, exit 1, nothing sent), then
has the daemon read it again: over the admin API (``POST /api/v1/reload`` at ``http.listen``
with the admin token; the daemon answers what changed, or why it refused) or, with ``--pid``,
with SIGHUP (what systemd's ``ExecReload=/bin/kill -HUP $MAINPID`` does; the daemon logs the
outcome).

``acd export-config`` prints the effective configuration -- acd.yaml with every run-time change
made over the API -- as YAML that ``acd check-config`` accepts; ``--reset-overlay`` then drops
the run-time changes, so the file alone counts again.
"""

import http.client
import json
import os
import signal
import sys

#: Addresses that mean "every interface": the daemon is reached on the loopback then.
_ANY = ("0.0.0.0", "::", "")


def add_admin_parsers(sub):
    p = sub.add_parser(
        "reload", help="have the running daemon read acd.yaml again",
        description="Validate acd.yaml, then have the daemon read it again and apply the "
        "difference without dropping a call: over the admin API at http.listen (prints what "
        "changed), or with --pid by SIGHUP. A broken file changes nothing: every problem is "
        "printed as 'FILE: key.path: problem' and the exit status is 1.")
    p.add_argument("--config", default=os.environ.get("ACD_CONFIG"),
                   help="the config file (env ACD_CONFIG)")
    p.add_argument("--pid", type=int, default=_pid(os.environ.get("ACD_PID")),
                   help="send SIGHUP to this daemon process instead of asking its API "
                   "(env ACD_PID)")
    p.set_defaults(func=run_reload)
    e = sub.add_parser(
        "export-config", help="print acd.yaml with the run-time changes, as YAML",
        description="Print the effective configuration -- the file with every change made "
        "over the admin API (kept in Redis) -- as YAML that acd check-config accepts.")
    e.add_argument("--config", default=os.environ.get("ACD_CONFIG"),
                   help="the config file (env ACD_CONFIG)")
    e.add_argument("--reset-overlay", action="store_true",
                   help="then drop the run-time changes from Redis: the file alone counts "
                   "(install the exported file and reload every daemon first)")
    e.set_defaults(func=run_export)


def _pid(text):
    return int(text) if text and text.isdigit() else None


def run_reload(args, stdout=None):
    from acd.cli import _load_config

    stdout = stdout or sys.stdout
    config = _load_config(args.config, "reload", "--config FILE")
    if isinstance(config, int):
        return config
    if args.pid is not None:
        try:
            os.kill(args.pid, signal.SIGHUP)
        except OSError as exc:
            print(f"acd reload: cannot signal process {args.pid}: {exc.strerror}",
                  file=sys.stderr)
            return 2
        print(f"{args.config}: OK; sent SIGHUP to {args.pid} (the daemon logs the outcome)",
              file=stdout)
        return 0
    return _reload_over_api(config, args.config, stdout)


def _reload_over_api(config, path, stdout):
    host = config.http.listen_host
    host = "127.0.0.1" if host in _ANY else host
    if not config.http.admin_token:
        print("acd reload: no admin token (http.admin-token or ACD_ADMIN_TOKEN); use --pid",
              file=sys.stderr)
        return 2
    conn = http.client.HTTPConnection(host, config.http.listen_port, timeout=60)
    try:
        conn.request("POST", "/api/v1/reload", body=b"",
                     headers={"Authorization": f"Bearer {config.http.admin_token}"})
        resp = conn.getresponse()
        status, body = resp.status, resp.read()
    except OSError as exc:
        print(f"acd reload: cannot reach the daemon at {host}:{config.http.listen_port}: "
              f"{exc}", file=sys.stderr)
        return 2
    finally:
        conn.close()
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {"error": body[:200].decode("utf-8", "replace")}
    if status != 200:
        for problem in answer.get("problems") or [answer.get("error", f"HTTP {status}")]:
            print(problem, file=sys.stderr)
        return 1
    from acd.reconfigure import describe
    changes = answer.get("changes", [])
    print(f"{path}: reloaded ({len(changes)} change{'s' * (len(changes) != 1)})", file=stdout)
    for change in changes:
        print(f"  {describe(change)}", file=stdout)
    return 0


def run_export(args, stdout=None):
    import redis

    from acd import config_overlay
    from acd.cli import _load_config
    from acd.config import ConfigError
    from acd.config_reader import read_yaml
    from acd.store.admin import AdminStore
    from acd.store.connect import connect, keys_for

    stdout = stdout or sys.stdout
    config = _load_config(args.config, "export-config", "--config FILE")
    if isinstance(config, int):
        return config
    try:
        client = connect(config.redis, socket_timeout=10)
        store = AdminStore(client, keys_for(config.redis))
        _, overlay = store.read()
    except redis.RedisError as exc:
        print(f"acd export-config: redis: {exc}", file=sys.stderr)
        return 2
    merged = config_overlay.merge(read_yaml(args.config), overlay)
    try:
        config_overlay.effective(merged, {}, args.config, os.environ)
    except ConfigError as exc:   # the file changed so that a run-time change no longer fits
        print(exc, file=sys.stderr)
        return 1
    stdout.write(f"# {args.config} with {len(overlay)} run-time change(s) (acd export-config)\n")
    stdout.write(config_overlay.to_yaml(merged))
    if args.reset_overlay:
        store.reset()
        print(f"acd export-config: dropped {len(overlay)} run-time change(s)", file=sys.stderr)
    return 0
