"""The wake-up listener (acd/wakeups.py) and the CTI event reader (acd/cti/hub.py) stopped at any
moment: a stop that lands while the reader is already due to resume from a read (a message just
came in) ends the reader quietly. Found by CI: the reader resumed after stop() and failed on the
pool stop() had dropped (AttributeError in the daemon's log)."""

import gevent
import redis

from acd.cti.hub import EventHub
from acd.store.cti import CtiStore
from acd.wakeups import Wakeups
from tests.test_store import make_store


def _stopped_at_every_point(start, stop, reader, kick, rounds=40):
    for n in range(rounds):
        started = start()
        glet = reader(started)
        kick()
        for _ in range(n % 8):              # stop at a different point of the resume each round
            gevent.sleep(0)
        stop(started)
        gevent.sleep(0.01)
        assert glet.dead
        assert glet.exception is None, f"round {n}: {glet.exception!r}"


def test_wakeups_stopped_while_a_message_comes_in(redis_url):
    store = make_store(redis_url, {})
    client = redis.Redis.from_url(redis_url)
    woken, owners = [], iter(range(1000))

    def start():
        # a daemon of its own each time: a stopped listener's subscription may linger a moment
        # (closed when its last read returns), and must not count as the new one's
        wakeups = Wakeups(store, f"owner-{next(owners)}", woken.append).start()
        with gevent.Timeout(5):
            while client.pubsub_numsub(wakeups.channel)[0][1] < 1:
                gevent.sleep(0.01)
        return wakeups

    current = []
    _stopped_at_every_point(lambda: current.append(start()) or current[-1], Wakeups.stop,
                            lambda w: w._reader,
                            lambda: client.publish(current[-1].channel, "support"))
    woken.clear()
    wakeups = start()                        # and a message does come through
    client.publish(wakeups.channel, "support")
    with gevent.Timeout(5):
        while not woken:
            gevent.sleep(0.01)
    wakeups.stop()
    assert woken[-1] in (b"support", "support")
    client.close()


def test_event_hub_stopped_while_an_event_comes_in(redis_url):
    store = CtiStore.of(make_store(redis_url, {}))
    client = redis.Redis.from_url(redis_url)

    def start():
        hub = EventHub(store, lambda agent: ()).start()
        gevent.sleep(0.05)                   # the reader is in its XREAD BLOCK
        return hub

    _stopped_at_every_point(start, EventHub.stop, lambda h: h.reader,
                            lambda: client.xadd(store.keys.events, {"type": "agent.status"}),
                            rounds=24)
    client.close()
