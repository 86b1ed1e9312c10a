"""acd on a Sentinel-watched Redis (``redis: {sentinels: [...], service: acd}``): a real
primary, a replica and three sentinels (``redis-server --sentinel``, acd/redis_ha.py). Callers
arrive steadily on two FreeSWITCH hosts (one daemon each, one shared agent pool), and the
primary is SIGKILLed in the middle: the sentinels promote the replica, redis-py's Sentinel
client finds it, the daemons resync -- and no caller is lost, no agent is left reserved or
ringing, no agent ever has two calls at once (tests/failover_load.py). The time routing paused
is printed (``pytest -s``) and bounded."""

import pytest

from acd.redis_ha import SentinelGroup
from tests.failover_load import kill_primary_under_load


@pytest.fixture
def sentinel_group():
    group = SentinelGroup(down_after_ms=1000, failover_timeout_ms=3000).start()
    yield group
    group.stop()


def test_primary_killed_under_load_loses_no_caller_and_no_agent(tmp_path, sentinel_group):
    kill_primary_under_load(tmp_path, sentinel_group.redis_section, sentinel_group.kill_primary,
                            sentinel_group.primary_port, sentinel_group.wait_failover,
                            "sentinel")
