"""CTI worlds: tests/acd_world.World with daemons serving the HTTP API, agents with passwords,
and clients of the API (tests/cti_client.py)."""

import argon2
import pytest

from tests.acd_world import World
from tests.cti_client import Client

ADMIN = "test-token"
PASSWORD = "correct horse battery staple"
#: Cheap Argon2id parameters for tests (the daemon checks whatever a hash says).
_hasher = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
HASH = _hasher.hash(PASSWORD)
BREAKS = ["lunch", "training"]


def hashed(password):
    return _hasher.hash(password)


class CtiWorld:
    def __init__(self, world):
        self.world = world

    def daemon(self, **kw):
        daemon = self.world.daemon(http=True, **kw)
        return daemon, Client(daemon.http.server_port, ADMIN)

    def __getattr__(self, name):
        return getattr(self.world, name)


@pytest.fixture
def cti_factory(tmp_path, redis_url):
    """``cti_factory(queues, agents=None, **settings)`` -> CtiWorld; every agent has the
    password PASSWORD unless its settings say otherwise; cti.break-reasons are BREAKS."""
    worlds = []

    def make(queues, agents=None, **settings):
        agents = dict(agents or {})
        ids = {a if isinstance(a, str) else a["agent"] for q in queues.values()
               for a in q.get("tiers", [])} | set(agents)
        for agent_id in ids:
            agents.setdefault(agent_id, {}).setdefault("password-hash", HASH)
        settings.setdefault("cti", {"break-reasons": BREAKS})
        path = tmp_path / f"cti{len(worlds)}"
        path.mkdir()
        world = World(path, redis_url, queues, agents, **settings)
        worlds.append(world)
        return CtiWorld(world)

    yield make
    for world in worlds:
        world.close()
