"""The Redis memory bench (acd/bench/redis_memory.py, the figures in docs/redis.md) runs and
finds every item costs memory."""

from acd.bench.redis_memory import main, measure


def test_memory_per_item_is_measured(tmp_path, capsys):
    found = measure(agents=200, calls=200, records=200)
    assert all(found[k] > 0 for k in ("agent", "waiting_call", "call_record", "cti_event"))
    assert main(["--agents", "20", "--calls", "20", "--records", "20",
                 "--json", str(tmp_path / "m.json")]) == 0
    assert "waiting_call" in capsys.readouterr().out and (tmp_path / "m.json").exists()
