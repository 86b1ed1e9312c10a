"""The test harness itself: a private redis-server, and the gevent-patched pass."""

import os

import gevent.monkey
import pytest
import redis

from acd.redis_server import RedisServer, RedisStartError


def test_redis_is_private_and_disposable(redis_server, redis_url):
    client = redis.Redis.from_url(redis_url)
    assert client.ping()
    assert redis_server.port != 6379
    config = client.config_get("*")
    assert config["dir"] == redis_server.dir and "acd-redis-" in config["dir"]
    assert config["save"] == "" and config["appendonly"] == "no"
    assert config["bind"] == "127.0.0.1"
    client.set("acd:test", "1")
    assert client.get("acd:test") == b"1"
    client.close()


def test_each_test_gets_an_empty_database(redis_url):
    assert redis.Redis.from_url(redis_url).dbsize() == 0


def test_missing_redis_server_is_a_clear_error_not_a_skip(tmp_path):
    with pytest.raises(RedisStartError, match="redis-server not found"):
        RedisServer(binary=str(tmp_path / "no-such-redis-server")).start()


def test_broken_redis_server_reports_why(tmp_path):
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho 'bad config' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(RedisStartError, match="exited with 3"):
        RedisServer(binary=str(fake)).start()


def test_gevent_pass_is_really_patched():
    patched = gevent.monkey.is_module_patched("socket")
    assert patched == bool(os.environ.get("ACD_TEST_GEVENT"))
