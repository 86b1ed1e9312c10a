"""acd on a Redis Cluster (``redis: {cluster: [...]}``): three real primaries started by the
test session (``redis-server --cluster-enabled yes`` + ``redis-cli --cluster create``), and a
representative set of the store's and the daemon's routing tests run again against it. Every
key carries the hash tag ``{acd}``, so each Lua script's keys and each MULTI stay in one slot:
a script whose keys spanned slots would fail here with CROSSSLOT."""

import pytest
import redis

from acd.redis_ha import ClusterGroup
from acd.store.connect import ClusterClient
from tests.failover_load import kill_primary_under_load
from tests.redis_where import client_for
# The tests below are imported so that they run again in this module, where ``redis_url``
# is the cluster (pytest collects them here, with this module's fixtures).
from tests.cti_world import cti_factory  # noqa: F401 (a fixture)
from tests.test_cti_auth import test_integration_tokens_from_the_command_line
from tests.test_cti_events import (test_call_offered_reaches_the_agent_before_its_phone_answers,
                                   test_events_survive_a_redis_that_forgot_the_scripts)
from tests.test_daemon import (world_factory,  # noqa: F401 (a fixture)
                               test_agent_shared_by_two_queues_takes_the_longest_waiting_caller,
                               test_caller_is_answered_by_an_agent_and_the_agent_wraps_up,
                               test_two_daemons_on_one_redis_never_offer_one_agent_twice)
from tests.test_skills_store import (test_filter_mode_keeps_the_queue_strategy_order,
                                     test_pick_skips_busy_agents_and_stale_entries)
from tests.test_store import (store,  # noqa: F401 (a fixture)
                              test_call_answered_then_ended_goes_through_wrap_up,
                              test_callers_keep_their_place_and_priority_counts,
                              test_concurrent_reservations_never_share_an_agent,
                              test_leases_expire, test_no_answers_put_the_agent_on_break,
                              test_reserve_takes_the_agent_out_and_only_once,
                              test_strategies_order)
from tests.test_webhooks import test_a_receiver_down_for_max_age_gets_dead_letters_then_a_replay

#: what runs again here: the store's scripts, skills (pick.lua), the daemon routing with two
#: daemons, CTI events and logins, the CLIs, webhooks (MULTI pipelines)
RERUN = (test_strategies_order, test_reserve_takes_the_agent_out_and_only_once,
         test_concurrent_reservations_never_share_an_agent,
         test_call_answered_then_ended_goes_through_wrap_up,
         test_no_answers_put_the_agent_on_break, test_leases_expire,
         test_callers_keep_their_place_and_priority_counts,
         test_pick_skips_busy_agents_and_stale_entries,
         test_filter_mode_keeps_the_queue_strategy_order,
         test_caller_is_answered_by_an_agent_and_the_agent_wraps_up,
         test_agent_shared_by_two_queues_takes_the_longest_waiting_caller,
         test_two_daemons_on_one_redis_never_offer_one_agent_twice,
         test_call_offered_reaches_the_agent_before_its_phone_answers,
         test_events_survive_a_redis_that_forgot_the_scripts,
         test_integration_tokens_from_the_command_line,
         test_a_receiver_down_for_max_age_gets_dead_letters_then_a_replay)


@pytest.fixture
def redis_url(redis_cluster):
    """The cluster's ``redis`` section, every primary emptied (the cluster is ours)."""
    client = client_for(redis_cluster.redis_section)
    client.flushdb(target_nodes=ClusterClient.PRIMARIES)
    client.close()
    return redis_cluster.redis_section


def test_every_key_of_a_deployment_is_in_one_slot(redis_url):
    from tests.test_store import add_agents, make_store, T0
    store = make_store(redis_url, {"a": [("support", "longest-idle-agent", 1, 1),
                                         ("sales", "round-robin", 1, 1)]})
    add_agents(store, ["a"])
    store.enqueue("c1", "support", 0, T0)
    assert store.reserve("a", "c1", "support", "d1", T0 + 1, lease=30)
    client = store.redis
    keys = [k for node in client.get_primaries()
            for k in client.scan_iter(match="*", target_nodes=node)]
    assert keys and all(k.startswith("{acd}:") for k in keys), keys
    assert {client.keyslot(k) for k in keys} == {client.keyslot("{acd}")}


def test_pipelines_run_scripts_on_a_fresh_node(redis_url):
    """A cluster pipeline does not load scripts itself: acd's does, and again after a
    SCRIPT FLUSH (a node restarted, a replica took over)."""
    from tests.test_store import make_store, T0
    store = make_store(redis_url, {})
    store.enqueue("c1", "support", 0, T0)
    store.redis.script_flush()   # every primary
    with pytest.raises(redis.exceptions.NoScriptError):
        store.enqueue("c2", "support", 0, T0 + 1)       # the first answer: NOSCRIPT ...
    assert store.enqueue("c2", "support", 0, T0 + 1) == 2   # ... then loaded again


def test_primary_of_the_slot_killed_under_load_loses_no_caller_and_no_agent(tmp_path):
    """Three primaries with a replica each; the primary serving ``{acd}``'s slot dies and its
    replica takes over (cluster-node-timeout 1 s): the same checks as with Sentinel."""
    with ClusterGroup(replicas=1, node_timeout_ms=1000) as group:
        kill_primary_under_load(tmp_path, group.redis_section,
                                lambda: group.kill_primary_of("{acd}"),
                                lambda: group.primary_of("{acd}"),
                                lambda port: group.wait_failover("{acd}", port), "cluster")
