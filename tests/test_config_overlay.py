"""The run-time overlay on acd.yaml (acd.config_overlay) and its Redis store (acd.store.admin):
how entries combine with the file, and the version check that keeps two writers apart."""

import redis
import yaml

from acd import config_overlay as ov
from acd.config import parse_config
from acd.config_reader import read_yaml
from acd.store.admin import AdminStore
from acd.store.keys import Keys

FILE = """
agents:
  - {id: 0123, contact: user/0123, name: Zero}
  - {id: 1001, contact: user/1001}
queues:
  - name: support
    tiers: [{agent: 0123}, {agent: 1001, level: 2}]
"""


def file_data(tmp_path):
    path = tmp_path / "acd.yaml"
    path.write_text(FILE)
    return read_yaml(path)


def test_entries_win_for_what_they_touched_and_ignore_what_left_the_file(tmp_path):
    data = file_data(tmp_path)
    overlay = {
        ov.agent_entry("1001"): {"fields": {"name": "Ben", "wrap-up-time": 5}},
        ov.agent_entry("2002"): {"fields": {"contact": "user/2002"}, "replace": True},
        ov.agent_entry("9999"): {"fields": {"name": "gone from the file"}},
        ov.tier_entry("support", "1001"): {"fields": {"position": 3}},
        ov.tier_entry("support", "2002"): {"fields": {}},
        ov.tier_entry("sales", "2002"): {"fields": {}},        # no such queue: ignored
        ov.queue_entry("support"): {"fields": {"strategy": "top-down", "tiers": []}},
    }
    config = ov.effective(data, overlay, "acd.yaml", {})
    assert [a.id for a in config.agents] == ["0123", "1001", "2002"]
    ben = config.agent("1001")
    assert (ben.name, ben.contact, ben.wrap_up_time) == ("Ben", "user/1001", 5)
    support = config.queue("support")
    assert support.strategy == "top-down"
    assert [(t.agent, t.level, t.position) for t in support.tiers] == [
        ("0123", 1, 1), ("1001", 2, 3), ("2002", 1, 1)]
    # removing an agent takes its tiers with it
    gone = dict(overlay, **{ov.agent_entry("0123"): {"deleted": True}})
    assert [t.agent for t in ov.effective(data, gone, "acd.yaml", {}).queue("support").tiers] \
        == ["1001", "2002"]
    assert data == file_data(tmp_path)                     # the file's mapping is untouched


def test_the_exported_yaml_reads_back_to_the_same_config(tmp_path):
    data = file_data(tmp_path)
    overlay = {ov.agent_entry("2002"): {"fields": {"contact": "user/2002"}, "replace": True}}
    merged = ov.merge(data, overlay)
    text = ov.to_yaml(merged)
    again = parse_config(yaml.safe_load(text), "exported", {})
    assert again.agents == ov.effective(data, overlay, "acd.yaml", {}).agents
    assert again.agent("0123").name == "Zero"              # written as a string: "0123"


def test_a_writer_that_read_an_old_version_is_refused(redis_url):
    store = AdminStore(redis.Redis.from_url(redis_url, decode_responses=True), Keys("acd"))
    version, overlay = store.read()
    assert (version, overlay) == (0, {})
    entry = ov.encode({"fields": {"name": "A"}})
    assert store.change(version, {ov.agent_entry("1001"): entry}) == 1
    assert store.change(version, {ov.agent_entry("1001"): entry}) is None   # stale: refused
    assert store.change(1, {ov.agent_entry("1001"): ""}) == 2              # "" drops it
    assert store.read() == (2, {})
    store.change(2, {ov.queue_entry("support"): ov.encode({"fields": {"ring-timeout": 3}})})
    assert store.reset() == 4 and store.read() == (4, {})
