"""The ``redis`` section of ``acd.yaml``: one Redis (``url``), a Sentinel-watched primary
(``sentinels`` + ``service``) or a Redis Cluster (``cluster``) -- docs/config.md, docs/redis.md.

Theory of operation: exactly one of ``url``, ``sentinels`` and ``cluster`` says where Redis is
(none: the default ``url``). ``acd.store.connect`` turns the :class:`RedisConfig` into a client;
nothing else makes Redis clients from the config. Passwords come from the file or the
environment (``ACD_REDIS_PASSWORD``, ``ACD_REDIS_SENTINEL_PASSWORD``) and are never shown.
"""

import re
from dataclasses import dataclass, field

from acd import defaults
from acd.config_reader import Reader, key_path, shown

KEYS = ("url", "prefix", "sentinels", "service", "cluster", "password", "sentinel-password",
        "db")
ENV_PASSWORD = "ACD_REDIS_PASSWORD"
ENV_SENTINEL_PASSWORD = "ACD_REDIS_SENTINEL_PASSWORD"
SCHEMES = ("redis://", "rediss://", "unix://")
_PREFIX = re.compile(r"[A-Za-z0-9_.-]+\Z")
_SERVICE = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
_HOST = re.compile(r"[A-Za-z0-9_.:-]+\Z")


@dataclass(frozen=True)
class RedisConfig:
    url: str = field(default=defaults.REDIS_URL, repr=False)   # may hold a password
    prefix: str = defaults.REDIS_PREFIX
    #: Sentinel mode: the sentinels as ((host, port), ...) and the name they watch
    sentinels: "tuple[tuple[str, int], ...]" = ()
    service: "str | None" = None
    #: Cluster mode: startup nodes as ((host, port), ...)
    cluster: "tuple[tuple[str, int], ...]" = ()
    #: the data nodes' password (sentinel and cluster modes; a url carries its own)
    password: "str | None" = field(default=None, repr=False)
    sentinel_password: "str | None" = field(default=None, repr=False)
    #: the database number (sentinel mode; a cluster has only database 0)
    db: int = 0

    @property
    def mode(self):
        return "sentinel" if self.sentinels else "cluster" if self.cluster else "url"


def read(data, env, problems):
    """The section as a :class:`RedisConfig`; problems recorded as ``redis.key: problem``."""
    r = Reader(data, "redis", KEYS, problems)
    chosen = [name for name in ("url", "sentinels", "cluster") if r.has(name)]
    if len(chosen) > 1:
        r.fail(chosen[1], f"choose one of url, sentinels and cluster, not {' and '.join(chosen)}")
    url = r.text("url", defaults.REDIS_URL, secret=True)
    if not url.startswith(SCHEMES):
        r.fail("url", "expected a URL starting with " + ", ".join(SCHEMES))
    prefix = r.text("prefix", defaults.REDIS_PREFIX)
    if not _PREFIX.match(prefix):
        r.fail("prefix", f"expected letters, digits and _ . - only, got {prefix!r}")
    sentinels, cluster = _nodes(r, "sentinels"), _nodes(r, "cluster")
    service = r.text("service", None)
    if service is not None and not _SERVICE.match(service):
        r.fail("service", f"expected the name the sentinels watch (letters, digits, _ . -), "
                          f"got {shown(service)}")
    if sentinels and not service:
        r.fail("service", "required with sentinels: the name the sentinels watch "
                          "(`sentinel monitor NAME ...` in sentinel.conf)")
    if service and not sentinels:
        r.fail("service", "only meaningful with sentinels")
    db = r.integer("db", 0, 0)
    if db and not sentinels:
        r.fail("db", "only with sentinels (a url names its database: redis://host:6379/2; "
                     "a cluster has only database 0)")
    password = _secret(r, "password", env, ENV_PASSWORD)
    if r.has("password") and not (sentinels or cluster):
        r.fail("password", "only with sentinels or cluster (a url carries its password: "
                           "redis://:PASSWORD@host:6379/0)")
    sentinel_password = _secret(r, "sentinel-password", env, ENV_SENTINEL_PASSWORD)
    return RedisConfig(url=url, prefix=prefix, sentinels=sentinels, service=service,
                       cluster=cluster, password=password, sentinel_password=sentinel_password,
                       db=db)


def _nodes(r, name):
    """A list of "host:port" as ((host, port), ...)."""
    value = r.raw(name, None)
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        r.fail(name, f"expected a list of \"host:port\", got {shown(value)}")
        return ()
    nodes = []
    for i, item in enumerate(value):
        host, _, port = item.rpartition(":") if isinstance(item, str) else ("", "", "")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not (_HOST.match(host or "") and port.isdigit() and 0 < int(port) < 65536):
            r.fail(f"{name}[{i}]", f"expected \"host:port\", got {shown(item)}")
            continue
        nodes.append((host, int(port)))
    return tuple(nodes)


def _secret(r, name, env, env_name):
    value, from_env = r.text(name, None, secret=True), env.get(env_name)
    if value is not None and from_env and from_env != value:
        r.problems.warn(key_path(r.where, name), f"differs from {env_name}; the file's value is used")
    return value if value is not None else (from_env or None)
