"""Every Redis client acd makes from its config: ``connect(config.redis, **options)``.

Theory of operation
-------------------
``redis`` in acd.yaml names one of three places (acd/config_redis.py, docs/redis.md):

* ``url`` -- one Redis: ``redis.Redis.from_url``.
* ``sentinels`` + ``service`` -- a primary watched by Redis Sentinel: redis-py's
  ``Sentinel.master_for``. Its connections ask the sentinels where the primary is whenever they
  connect, so after a failover the next command (after the ConnectionError that ended the old
  connection, or the READONLY answer of a demoted primary, which redis-py turns into one) goes to
  the new primary. Scripts missing there are loaded again on NOSCRIPT (redis-py's Script, and
  acd's own fallbacks), as after a plain Redis restart.
* ``cluster`` -- a Redis Cluster: :class:`ClusterClient`, a ``RedisCluster`` whose pipelines
  also run registered scripts (a cluster pipeline does not load them by itself) and are
  transactions by default, as ``redis.Redis``'s are; its own exceptions that are not
  ``redis.RedisError`` (no node reachable, slots not covered while a replica takes over) come
  out as ``redis.ConnectionError``, which every caller already handles. Keys carry the hash
  tag ``{prefix}`` (``acd.store.keys.Keys(..., cluster=True)``): one deployment, one slot.

``options`` are redis-py connection options (``socket_timeout``, ``retry``, ...);
``decode_responses`` defaults to True. Each client keeps ``acd_clone()``: a new, independent
client to the same place (the CTI hub's blocking reader has its own).
"""

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException
from redis.sentinel import Sentinel

from acd.store.keys import Keys


def connect(config, **options):
    """A client for ``config`` (an acd.config.RedisConfig)."""
    options.setdefault("decode_responses", True)
    if config.sentinels:
        client = _sentinel(config, options)
    elif config.cluster:
        try:
            client = ClusterClient(startup_nodes=[ClusterNode(h, p) for h, p in config.cluster],
                                   password=config.password, **options)
        except RedisClusterException as exc:
            raise _down(exc) from exc
    else:
        client = redis.Redis.from_url(config.url, **options)
    client.acd_clone = lambda: connect(config, **options)
    return client


def clone(client):
    """An independent client to the same Redis, with connections of its own (a blocking reader
    in another thread: the CTI hub's, the wake-ups'). Clients of :func:`connect` know how; a
    plain ``redis.Redis`` (tests) gets a copy of its connection pool."""
    if hasattr(client, "acd_clone"):
        return client.acd_clone()
    pool = client.connection_pool
    return redis.Redis(connection_pool=pool.__class__(connection_class=pool.connection_class,
                                                      **pool.connection_kwargs))


def keys_for(config):
    """The key names for ``config`` (hash-tagged in a cluster)."""
    return Keys(config.prefix, cluster=bool(config.cluster))


def is_cluster(client):
    return isinstance(client, RedisCluster)


def _sentinel(config, options):
    timeout = options.get("socket_timeout") or 5
    sentinels = Sentinel(list(config.sentinels), sentinel_kwargs={
        "password": config.sentinel_password, "socket_timeout": min(timeout, 2),
        "socket_connect_timeout": min(timeout, 1)})
    return sentinels.master_for(config.service, password=config.password, db=config.db,
                                check_connection=True, **options)


class ClusterClient(RedisCluster):
    """A RedisCluster whose pipelines run registered scripts: before a pipeline executes, the
    scripts registered on this client are loaded on every primary (once; again after a NOSCRIPT
    answer: a node restarted or a replica took over)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.acd_scripts = {}
        self.acd_loaded = False

    def execute_command(self, *args, **kwargs):
        try:
            return super().execute_command(*args, **kwargs)
        except RedisClusterException as exc:   # no node reachable, slots not covered (a
            raise _down(exc) from exc            # failover under way): a redis.RedisError

    def register_script(self, script):
        found = super().register_script(script)
        if found.sha not in self.acd_scripts:   # (stores made per request register again)
            self.acd_scripts[found.sha] = script
            self.acd_loaded = False
        return found

    def load_registered(self):
        if not self.acd_loaded:
            for script in list(self.acd_scripts.values()):
                self.script_load(script)
            self.acd_loaded = True

    def pipeline(self, transaction=True, shard_hint=None):
        return _ClusterPipeline(super().pipeline(transaction=transaction, shard_hint=shard_hint),
                                self)


class _ClusterPipeline:
    """A cluster pipeline that runs scripts, loading the client's before it executes."""

    def __init__(self, pipe, cluster):
        self._pipe, self._cluster = pipe, cluster

    def __getattr__(self, name):
        return getattr(self._pipe, name)

    def __len__(self):
        return len(self._pipe)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._pipe.reset()

    def evalsha(self, sha, numkeys, *keys_and_args):
        """(redis-py blocks ``evalsha`` on cluster pipelines; the command itself routes by its
        keys, which are in one slot.)"""
        self._pipe.execute_command("EVALSHA", sha, numkeys, *keys_and_args)
        return self

    def execute(self, raise_on_error=True):
        self._cluster.load_registered()
        try:
            return self._pipe.execute(raise_on_error)
        except redis.exceptions.NoScriptError:
            self._cluster.acd_loaded = False
            raise
        except RedisClusterException as exc:
            raise _down(exc) from exc


def _down(exc):
    """redis-py's cluster errors that are not RedisErrors, as one (callers catch those)."""
    return redis.ConnectionError(f"redis cluster: {exc}")
