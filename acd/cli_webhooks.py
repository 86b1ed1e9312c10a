"""``acd webhooks``: the webhook deliveries that failed for max-age (dead letters), and sending
them again (docs/crm.md#webhooks).

``acd webhooks list-failed`` prints one line per dead letter (its id, event, webhook URL,
attempts, last error, when it was written); ``acd webhooks replay ID...`` puts those back into
the delivery stream (a new max-age starts, the X-Acd-Delivery id stays), ``replay --all`` all.
"""

import os
import sys


def add_webhooks_parser(sub):
    p = sub.add_parser(
        "webhooks", help="list or replay failed webhook deliveries",
        description="Webhook deliveries that failed for max-age go to a dead-letter stream in "
        "Redis; list them, or put them back to be delivered again.")
    p.add_argument("--config", default=os.environ.get("ACD_CONFIG"),
                   help="the config file: Redis (env ACD_CONFIG)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list-failed", help="list the dead letters")
    replay = actions.add_parser("replay", help="deliver dead letters again")
    replay.add_argument("ids", nargs="*", metavar="ID", help="dead letter ids (list-failed)")
    replay.add_argument("--all", action="store_true", help="every dead letter")
    p.set_defaults(func=run_webhooks)


def run_webhooks(args, stdout=None):
    import redis

    from acd.cli import _load_config
    from acd.service import iso_utc
    from acd.store.connect import connect, keys_for
    from acd.webhooks import failed, replay

    stdout = stdout or sys.stdout
    config = _load_config(args.config, "webhooks", "--config FILE")
    if isinstance(config, int):
        return config
    keys = keys_for(config.redis)
    try:
        client = connect(config.redis, socket_timeout=10)
        if args.action == "list-failed":
            print("id\tevent\turl\tattempts\terror\twritten", file=stdout)
            for entry_id, fields in failed(client, keys):
                written = int(entry_id.split("-")[0]) / 1000
                print("\t".join([entry_id, fields.get("kind", ""), fields.get("url", ""),
                                 fields.get("attempts", ""), fields.get("error", ""),
                                 iso_utc(written)]), file=stdout)
            return 0
        if args.all == bool(args.ids):
            print("acd webhooks replay: give dead letter ids or --all", file=sys.stderr)
            return 2
        done = replay(client, keys, None if args.all else args.ids)
        missing = [i for i in args.ids if i not in done]
        print(f"replayed {len(done)} deliveries", file=stdout)
        if missing:
            print(f"acd webhooks: no dead letter {', '.join(missing)}", file=sys.stderr)
            return 1
        return 0
    except redis.RedisError as exc:
        print(f"acd webhooks: cannot reach Redis: {exc}", file=sys.stderr)
        return 1
