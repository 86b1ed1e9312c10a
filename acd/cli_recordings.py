"""``acd recordings list|show|purge``: the auditor's view of recording with consent
(docs/recording.md).

``list`` prints each recording started in [--from, --to) (one row per file: when, call, queue,
agent, file, what became of it); ``show CALL_UUID`` prints the whole audit trail of one call;
``purge`` deletes the files (and sidecars) of kept recordings older than their queue's
``retention-days`` -- a dry run unless ``--yes``; each deletion is audited. The commands read
Redis from the config file; ``purge`` deletes in the recordings directory as this host sees it
(run it where the directory is mounted).
"""

import os
import sys

from acd.cli import _env, _load_config, _moment

#: Steps after which a recording's file no longer exists.
_GONE = ("recording-deleted", "recording-purged")


def add_recordings_parser(sub):
    p = sub.add_parser(
        "recordings", help="list recordings, show a call's audit trail, purge old files",
        description="The audit trail of recording with consent (docs/recording.md).")
    p.add_argument("--config", default=_env("ACD_CONFIG", None),
                   help="the config file: Redis and the queues' recording settings "
                   "(env ACD_CONFIG)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="recordings started in a period")
    listing.add_argument("--from", dest="start", type=_moment, default=None,
                         help="start (included; ISO 8601 or epoch seconds)")
    listing.add_argument("--to", dest="end", type=_moment, default=None, help="end (excluded)")
    listing.add_argument("--agent", default=None, help="only this agent's recordings")
    listing.add_argument("--queue", default=None, help="only this queue's recordings")
    show = actions.add_parser("show", help="the audit trail of one call")
    show.add_argument("call", metavar="CALL_UUID")
    purge = actions.add_parser("purge", help="delete recordings past their retention "
                               "(a dry run without --yes)")
    purge.add_argument("--yes", action="store_true", help="really delete (audited)")
    p.set_defaults(func=run_recordings)


def run_recordings(args, stdout=None, now=None):
    import redis

    from acd import clock
    from acd.store.connect import connect, keys_for
    from acd.store.recording import RecordingStore

    stdout = stdout or sys.stdout
    config = _load_config(args.config, "recordings", "--config FILE")
    if isinstance(config, int):
        return config
    try:
        store = RecordingStore(connect(config.redis, socket_timeout=10), keys_for(config.redis))
        if args.action == "show":
            return _show(store, args.call, stdout)
        if args.action == "list":
            return _list(store, args, stdout)
        return _purge(store, config, args.yes, clock.now() if now is None else now, stdout)
    except redis.RedisError as exc:
        print(f"acd recordings: cannot reach Redis: {exc}", file=sys.stderr)
        return 1


def _show(store, call, stdout):
    trail = store.audit_of(call)
    if not trail:
        print(f"acd recordings: no audit trail for call {call!r}", file=sys.stderr)
        return 1
    print("id\ttime\tstep\tagent\tby\thow\treason\tfile", file=stdout)
    for entry_id, f in trail:
        print("\t".join([entry_id, f.get("time", ""), f.get("step", "")] + [
            f.get(k) or "-" for k in ("agent", "by", "how", "reason", "path")]), file=stdout)
    purpose = next((f["purpose"] for _, f in trail if f.get("purpose")), "")
    print(f"# queue {trail[0][1].get('queue', '-')}, purpose: {purpose or '-'}", file=stdout)
    return 0


def recordings(store, start=None, end=None):
    """Each recording started in [start, end): (started entry, what became of it)."""
    found = []
    for _, f in store.audit(start, None if end is None else end - 0.001):
        if f.get("step") == "recording-started":
            later = [g for _, g in store.audit_of(f["call"]) if g.get("path") == f.get("path")]
            steps = [g.get("step") for g in later]
            fate = next((s for s in steps if s in _GONE), None) or (
                "kept" if "recording-stopped" in steps else "recording")
            found.append((f, fate.replace("recording-", "")))
    return found


def _list(store, args, stdout):
    print("started\tcall\tqueue\tagent\tfile\tstate", file=stdout)
    for f, fate in recordings(store, args.start, args.end):
        if args.agent not in (None, f.get("agent")) or args.queue not in (None, f.get("queue")):
            continue
        print("\t".join([f.get("time", ""), f["call"], f.get("queue", ""), f.get("agent", ""),
                         f.get("path", ""), fate]), file=stdout)
    return 0


def _purge(store, config, really, now, stdout):
    count = 0
    for f, fate in recordings(store):
        queue = f.get("queue", "")
        if fate != "kept" or not config.has_queue(queue):
            continue
        days = config.queue(queue).recording.retention_days
        if float(f["time_epoch"]) >= now - days * 86400:
            continue
        path = f["path"]
        count += 1
        if not really:
            print(f"would delete {path} (call {f['call']}, {queue}, kept {days} days)",
                  file=stdout)
            continue
        for name in (path, path + ".json"):
            try:
                os.remove(name)
            except FileNotFoundError:
                pass
        store.step(f["call"], now, {"step": "recording-purged", "queue": queue,
                                    "agent": f.get("agent", ""), "path": path,
                                    "purpose": f.get("purpose", ""), "by": "acd recordings purge",
                                    "reason": f"retention-{days}-days"})
        print(f"deleted {path}", file=stdout)
    if not really:
        print(f"# {count} recording(s) past retention; run with --yes to delete them",
              file=stdout)
    return 0
