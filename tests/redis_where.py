"""Where a test's Redis is: a URL (the session's redis-server) or a ``redis`` section of
acd.yaml (a Sentinel group or a cluster, acd/redis_ha.py); clients made as acd makes them."""

from acd.config import parse_config
from acd.store.connect import connect


def redis_section(where):
    return {"url": where} if isinstance(where, str) else dict(where)


def client_for(where, **options):
    """A client (decoded responses) for ``where``: a URL or a redis section."""
    return connect(parse_config({"redis": redis_section(where)}, env={}).redis, **options)
