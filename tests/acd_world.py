"""A small call center for daemon tests: the simulator (as FreeSWITCH), a private Redis, acd
daemons in this process, and a *driver* ESL connection that plays the outside world: it sends
callers in with ``originate loopback/...`` and watches what FreeSWITCH reports about the agents'
phones. Tests assert on what FreeSWITCH and Redis show, never on the daemon's internals.
"""

import collections
import itertools

import gevent
import gevent.queue
import yaml

from acd.config import parse_config
from acd.daemon import Daemon
from acd.esl import EslClient
from acd.esl import commands as cmd
from acd.sim.process import SimProcess
from acd.store import Store
from acd.store.connect import connect
from tests.redis_where import redis_section

#: The agents' phones: ids 2001-2009 answer quickly, others fail in every way.
PHONES = {
    "2001": {"answer-after": 0.3}, "2002": {"answer-after": 0.3}, "2003": {"answer-after": 0.3},
    "2004": {"answer-after": 0.3}, "2005": {"answer-after": 0.3}, "2006": {"answer-after": 0.3},
    "2101": {"answer-after": "never"},                       # rings until the ring timeout
    "2102": {"respond": "USER_BUSY"},
    "2103": {"respond": "CALL_REJECTED", "after": 0.2},
    "2104": {"registered": False},
    "2201": {"answer-after": 3}, "2202": {"answer-after": 3},   # time to look at the screen pop
}

_callers = itertools.count(1)


class CuttableProxy:
    """A TCP proxy in front of the simulator (or the HTTP API) whose connections a test can
    cut, as a network fault would: FreeSWITCH and its calls live on, only the connection dies.
    While ``refusing``, every new connection is closed at once (the network is down)."""

    def __init__(self, target_port):
        import gevent.server
        import gevent.socket
        self.target_port = target_port
        self.pairs = []
        self.refusing = False
        self.server = gevent.server.StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()
        self.port = self.server.server_port
        self._socket = gevent.socket

    def _handle(self, client, _addr):
        if self.refusing:
            self._close(client)
            return
        upstream = self._socket.create_connection(("127.0.0.1", self.target_port))
        self.pairs.append((client, upstream))
        pumps = [gevent.spawn(self._pump, client, upstream), gevent.spawn(self._pump, upstream, client)]
        gevent.joinall(pumps, count=1)
        self._close(client, upstream)

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    return
                dst.sendall(data)
        except OSError:
            return

    @staticmethod
    def _close(*socks):
        for sock in socks:
            try:
                sock.close()
            except OSError:
                pass

    def cut(self):
        for pair in self.pairs:
            self._close(*pair)
        self.pairs.clear()

    def stop(self):
        self.cut()
        self.server.stop()


def sim_config(queues):
    dialplan = {f"5{n:03d}": [["set", f"acd_queue={q}"], ["answer"], ["park"]]
                for n, q in enumerate(queues)}
    dialplan["9000"] = [["answer"], ["playback", "ivr/voicemail.wav"], ["hangup"]]
    dialplan["5999"] = [["set", "acd_queue=nosuchqueue"], ["answer"], ["park"]]
    return {"password": "ClueCon", "heartbeat": 20, "users": dict(PHONES), "dialplan": dialplan,
            "sounds": {"default": 0.2}}


def ivr_sim_config(queues, menus, sounds=None):
    """sim_config plus 6000, 6001, ...: ``acd_ivr=<menu>``, answer, park (one per menu)."""
    config = sim_config(queues)
    config["dialplan"].update({f"6{n:03d}": [["set", f"acd_ivr={m}"], ["answer"], ["park"]]
                               for n, m in enumerate(menus)})
    config["sounds"] = dict(sounds or {}, default=0.2)
    return config


class World:
    def __init__(self, tmp_path, redis_url, queues, agents=None, proxy=False, sim=None,
                 **defaults):
        """``queues``: {name: {settings + "tiers": [agent ids or dicts]}}; ``agents``:
        {id: settings}; agent defaults: contact user/<id>, wrap-up 0, quick delays. ``sim``:
        simulator config keys merged into the world's (``users`` added to the phones)."""
        self.tmp_path = tmp_path
        self.redis_url = redis_url
        self.queue_names = list(queues)
        # IVR worlds (tests/test_ivr.py): the ivr and schedules sections, sound lengths
        self.ivr_sections = {k: defaults.pop(k) for k in ("ivr", "schedules", "sounds")
                             if k in defaults}
        # CTI worlds (tests/test_cti_*.py): the cti section, more http settings
        self.cti_sections = {k: defaults.pop(k) for k in ("cti", "http") if k in defaults}
        self.menu_names = [m["name"] for m in self.ivr_sections.get("ivr", [])]
        path = tmp_path / "sim.yaml"
        world = (sim_config(self.queue_names) if not self.ivr_sections else
                 ivr_sim_config(self.queue_names, self.menu_names, self.ivr_sections.get("sounds")))
        for key, value in (sim or {}).items():
            world[key] = dict(world[key], **value) if key == "users" else value
        path.write_text(yaml.safe_dump(world))
        self.sim = SimProcess(path, password="ClueCon").start()
        try:
            self._setup(redis_url, queues, agents, proxy, defaults)
        except BaseException:
            self.sim.stop()  # never leave a simulator behind when the world cannot be built
            raise

    def _setup(self, redis_url, queues, agents, proxy, defaults):
        self.proxy = CuttableProxy(self.sim.port) if proxy else None
        agent_ids = sorted({a if isinstance(a, str) else a["agent"]
                            for q in queues.values() for a in q.get("tiers", [])} | set(agents or {}))
        agent_defaults = {"wrap-up-time": 0, "reject-delay-time": 0, "busy-delay-time": 0,
                          "no-answer-delay-time": 0, "max-no-answer": 0}
        agent_defaults.update({k.replace("_", "-"): v for k, v in defaults.items()})
        self.data = {
            "freeswitch": {"host": "127.0.0.1", "password": "ClueCon",
                           "port": self.proxy.port if proxy else self.sim.port,
                           "command-timeout": 5},
            "redis": dict(redis_section(redis_url), prefix="acd"),
            "http": {"listen": "127.0.0.1:0", "admin-token": "test-token"},
            "agents": [dict(agent_defaults, id=a, name=f"Agent {a}", contact=f"user/{a}",
                            **(agents or {}).get(a, {})) for a in agent_ids],
            "queues": [dict({"ring-timeout": 2}, name=name, **{
                k: v for k, v in q.items() if k != "tiers"},
                tiers=[{"agent": t} if isinstance(t, str) else t for t in q.get("tiers", [])])
                for name, q in queues.items()],
        }
        self.data.update({k: v for k, v in self.ivr_sections.items() if k != "sounds"})
        self.data["http"].update(self.cti_sections.get("http", {}))
        if "cti" in self.cti_sections:
            self.data["cti"] = self.cti_sections["cti"]
        self.config = parse_config(self.data, source="test.yaml")
        self.store = Store(connect(self.config.redis), "acd")
        self.daemons = []
        self.driver = EslClient("127.0.0.1", self.sim.port, "ClueCon", command_timeout=10)
        self.driver.connect()
        self.events = gevent.queue.Queue()
        self.seen = []
        names = ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_HANGUP",
                 "CHANNEL_PARK", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "DTMF")
        for name in names:
            self.driver.register_handle(name, self.events.put)
        self.driver.subscribe(*names)

    def daemon(self, owner=None, http=False, **kw):
        """A started daemon; its acd.yaml (``config_path``, the base of reloads and run-time
        changes) is ``self.data`` written out, unless ``kw`` says otherwise."""
        if "config_path" not in kw and "config_data" not in kw:
            kw["config_path"] = self.config_path = self.tmp_path / "acd.yaml"
            if not self.config_path.exists():
                self.config_path.write_text(yaml.safe_dump(self.data, sort_keys=False))
        daemon = Daemon(self.config, owner=owner or f"test-{len(self.daemons)}", tick=0.1,
                        http=http, **kw)
        daemon.start(wait_connected=10)
        self.daemons.append(daemon)
        return daemon

    def close(self):
        for daemon in self.daemons:
            daemon.stop()
        self.driver.stop()
        if self.proxy:
            self.proxy.stop()
        self.sim.stop()

    # -- the outside world --------------------------------------------------------------------

    def call(self, queue, number=None, name="Caller", priority=None, queued=True, skills=None,
             instance=None):
        """A caller dials the queue's number (5999: a queue nobody configured); returns the
        caller's (the -b leg's) uuid once a daemon has queued it (``queued``). ``instance``: the
        call's ``acd_instance`` (which deployment it is meant for)."""
        number = number or f"+49301234{next(_callers):04d}"
        extension = "5999" if queue is None else f"5{self.queue_names.index(queue):03d}"
        variables = ["ignore_early_media=true"]
        if instance is not None:
            variables.append(f"acd_instance={instance}")
        if priority is not None:
            variables.append(f"acd_priority={priority}")
        if skills is not None:
            variables.append(f"acd_skills={cmd.var_value(skills)}")  # escaped like acd escapes
        # name and number as originate's positional caller-ID arguments: a caller's name can
        # hold anything (a '}' cannot be written inside {...} at all, ESL-FACTS.md)
        result = self.driver.bgapi(
            f"originate {{{','.join(variables)}}}loopback/{extension} &park() XML default "
            f"{cmd.api_arg(name)} {cmd.api_arg(number)}").wait_result(10)
        assert result.ok, result
        park = self.wait(lambda e: e.name == "CHANNEL_PARK"
                         and e.get("variable_other_loopback_leg_uuid") == result.value)
        if queued:
            with gevent.Timeout(10, AssertionError(f"caller {park.uuid} was never queued")):
                while self.store.call(park.uuid) is None:
                    gevent.sleep(0.02)
        return park.uuid

    def call_ivr(self, menu, number=None, name="Caller"):
        """A caller dials the menu's number (6000 + its index); returns its uuid once parked."""
        number = number or f"+49301234{next(_callers):04d}"
        extension = f"6{self.menu_names.index(menu):03d}"
        variables = f"origination_caller_id_number={number},origination_caller_id_name={name}"
        result = self.driver.bgapi(f"originate {{{variables}}}loopback/{extension} &park()"
                                   ).wait_result(10)
        assert result.ok, result
        return self.wait(lambda e: e.name == "CHANNEL_PARK"
                         and e.get("variable_other_loopback_leg_uuid") == result.value).uuid

    def dtmf(self, uuid, digits):
        """The caller presses keys (``uuid_recv_dtmf``, as a phone's RFC 2833 digits arrive)."""
        reply = self.driver.api(f"uuid_recv_dtmf {uuid} {digits}")
        assert reply.startswith("+OK"), reply
        return reply

    def wait(self, predicate, timeout=10.0, what="event"):
        for event in self.seen:
            if predicate(event):
                return event
        with gevent.Timeout(timeout, AssertionError(f"no {what} within {timeout} s")):
            while True:
                event = self.events.get()
                self.seen.append(event)
                if predicate(event):
                    return event

    def collect(self, seconds):
        """Let ``seconds`` pass, gathering events."""
        with gevent.Timeout(seconds, False):
            while True:
                self.seen.append(self.events.get())
        return self.seen

    def rang(self, agent_id, timeout=10.0):
        """Wait until the agent's phone is called; returns its CHANNEL_CREATE."""
        return self.wait(lambda e: e.name == "CHANNEL_CREATE"
                         and e.get("variable_acd_agent") == agent_id, timeout, f"ring on {agent_id}")

    def drain(self):
        """Take in the events that already arrived."""
        while not self.events.empty():
            self.seen.append(self.events.get())

    def rings(self):
        """Agents whose phones were called, in order."""
        self.drain()
        return [e["variable_acd_agent"] for e in self.seen
                if e.name == "CHANNEL_CREATE" and e.get("variable_acd_agent")]

    def bridged(self, caller, timeout=10.0):
        """Wait for the caller's bridge; returns the agent id it was bridged to."""
        bridge = self.wait(lambda e: e.name == "CHANNEL_BRIDGE"
                           and e.get("Bridge-A-Unique-ID") == caller, timeout, f"bridge of {caller}")
        leg = bridge["Bridge-B-Unique-ID"]
        created = self.wait(lambda e: e.name == "CHANNEL_CREATE" and e.uuid == leg)
        return created["variable_acd_agent"]

    def bridged_again(self, caller, timeout=10.0):
        """Wait for the caller's next bridge after those seen so far; returns its agent id."""
        self.drain()
        seen = {id(e) for e in self.seen}
        bridge = self.wait(lambda e: id(e) not in seen and e.name == "CHANNEL_BRIDGE"
                           and e.get("Bridge-A-Unique-ID") == caller, timeout,
                           f"another bridge of {caller}")
        leg = bridge["Bridge-B-Unique-ID"]
        return self.wait(lambda e: e.name == "CHANNEL_CREATE" and e.uuid == leg)["variable_acd_agent"]

    def wait_call(self, uuid, timeout=10.0, **expected):
        """Wait until acd holds the call (in Redis) with the expected fields, if any: the
        switch's events reach the test before acd has acted on them."""
        call = None
        with gevent.Timeout(timeout, AssertionError(f"call {uuid} never became {expected}")):
            while True:
                call = self.store.call(uuid) or {}
                if call and all(call.get(k) == v for k, v in expected.items()):
                    return call
                gevent.sleep(0.02)

    def hangup(self, uuid, cause="NORMAL_CLEARING"):
        return self.driver.api(f"uuid_kill {uuid} {cause}")

    def hung_up(self, uuid, timeout=10.0):
        return self.wait(lambda e: e.name == "CHANNEL_HANGUP" and e.uuid == uuid, timeout,
                         f"hangup of {uuid}")

    def agent(self, agent_id):
        return self.store.agent(agent_id)

    def wait_agent(self, agent_id, timeout=10.0, **expected):
        """Wait until the agent's hash in Redis shows ``expected`` values."""
        with gevent.Timeout(timeout, False):
            while True:
                agent = self.agent(agent_id) or {}
                if all(agent.get(k) == v for k, v in expected.items()):
                    return agent
                gevent.sleep(0.05)
        raise AssertionError(f"agent {agent_id} never showed {expected}: {self.agent(agent_id)}")

    def legs_by_agent(self):
        """Agent id -> list of (CHANNEL_CREATE, CHANNEL_HANGUP or None) of its legs."""
        self.drain()
        legs = collections.defaultdict(list)
        hangups = {e.uuid: e for e in self.seen if e.name == "CHANNEL_HANGUP"}
        for e in self.seen:
            if e.name == "CHANNEL_CREATE" and e.get("variable_acd_agent"):
                legs[e["variable_acd_agent"]].append((e, hangups.get(e.uuid)))
        return legs
