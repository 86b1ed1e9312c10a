"""``acd demo``: a whole call center on this machine, live on one screen.

Theory of operation
-------------------
``acd demo`` starts, each private to the run and stopped on exit (Ctrl-C, SIGTERM or
``--duration``): a ``redis-server`` on a free port in a temp dir (``RedisServer``), the FreeSWITCH
simulator as a subprocess (``SimProcess``) whose phones are the agents, and the acd daemon in this
process (``Daemon``; HTTP API on 127.0.0.1, a fresh admin token). :func:`call_center` builds the
queues: support (longest idle agent, overflows to sales after SUPPORT_MAX_WAIT s), sales (round
robin; two support agents form its second tier level), reception (ring-all) and hotline (a hunt
group in agent order). Agents answer after 0.5-2 s and talk 5-20 s; every FLAKY_EVERY-th one
sometimes lets it ring or is busy, and max-no-answer sends it on break for BREAK seconds.

A *driver* ESL connection plays the outside world: :class:`Callers` originates callers through
``loopback/<ext>`` (the simulator's dialplan sets ``acd_queue`` and parks) at a steady rate and
hangs up some of them (``uuid_kill``) after a random patience unless they were answered;
:class:`Phones` re-rolls an agent's phone (``sim_user set``) at every offer, so talk times vary.

The view reads the daemon's own views (``service.queues_view()`` / ``agents_view()``: Redis) and
what the router decided, counted by :class:`Tally`, a Daemon observer. Rendering is pure: data in,
lines out. Service level = callers answered within SL_THRESHOLD seconds / (answered + callers who
hung up after waiting longer than that); callers who gave up sooner count neither way.

Nothing that needs monkey-patching is imported at module level: :func:`run` patches first.
"""

import argparse
import contextlib
import json
import logging
import os
import random
import secrets
import shutil
import sys
from dataclasses import dataclass

import gevent
import gevent.event
import gevent.pool
import gevent.queue

from acd import clock
from acd.demo_view import SL_THRESHOLD, Screen, Tally, render_line, render_screen, render_summary  # noqa: F401
from acd.tool import number, start_gevent_tool

log = logging.getLogger("acd.demo")

#: Option defaults (env ACD_DEMO_DURATION, ACD_DEMO_RATE, ACD_DEMO_AGENTS, ACD_DEMO_SEED).
DURATION = 0.0          # seconds; 0 = until Ctrl-C / SIGTERM
RATE = 0.6              # callers per second, spread over the queues by QUEUE_MIX
AGENTS = 12
HTTP = "127.0.0.1:8080"   # the API, the agent desktop and the wallboard
MIN_AGENTS, MAX_AGENTS = 3, 200
#: Share of callers who hang up if not answered within their patience (seconds, uniform).
ABANDON_SHARE = 0.25
PATIENCE = (4.0, 40.0)
#: Share of callers per queue, and each queue's number in the simulator's dialplan.
QUEUE_MIX = {"support": 0.5, "sales": 0.25, "reception": 0.1, "hotline": 0.15}
EXTENSIONS = {"support": "5000", "sales": "5001", "reception": "5002", "hotline": "5003"}
SUPPORT_MAX_WAIT = 20
#: Every FLAKY_EVERY-th agent's phone sometimes rings unanswered or is busy.
FLAKY_EVERY = 6
#: Seconds an agent stays on break after max-no-answer, before the demo's supervisor ends it.
BREAK = 15.0
NAMES = ("Anna", "Ben", "Chloe", "David", "Emma", "Farid", "Greta", "Hugo", "Ines", "Jonas",
         "Kira", "Luis")


# -- the call center ------------------------------------------------------------------------------

@dataclass
class Phone:
    """An agent's phone: seconds of ringing before answering and of talk, as (low, high)."""
    id: str
    answer: tuple
    talk: tuple
    flaky: bool = False

    def roll(self, rng):
        """The simulator's settings (``users.<id>``) for the phone's next call."""
        if self.flaky:
            luck = rng.random()
            if luck < 0.2:
                return {"answer-after": "never"}
            if luck < 0.35:
                return {"respond": "USER_BUSY"}
        return {"answer-after": round(rng.uniform(*self.answer), 1),
                "hangup-after": round(rng.uniform(*self.talk), 1)}


def call_center(n_agents, rng):
    """The demo's agents and queues: ``(config mapping without connections, [Phone])``."""
    ids = [str(1001 + i) for i in range(n_agents)]
    n_support, n_sales = max(1, round(n_agents * 0.4)), max(1, round(n_agents * 0.25))
    support, sales = ids[:n_support], ids[n_support:n_support + n_sales]
    front = ids[n_support + n_sales:] or ids[-1:]   # reception and hotline
    agents = [{"id": a, "name": NAMES[i] if i < len(NAMES) else f"Agent {a}",
               "contact": f"user/{a}", "wrap-up-time": rng.choice((2, 2.5, 3)), "max-no-answer": 3,
               "no-answer-delay-time": 2, "busy-delay-time": 5, "reject-delay-time": 5}
              for i, a in enumerate(ids)]
    return {"agents": agents, "queues": _queues(support, sales, front)}, _phones(ids, rng)


def _queues(support, sales, front):
    def tiers(agents, **tier):
        return [dict(tier, agent=a) for a in dict.fromkeys(agents)]
    return [
        {"name": "support", "strategy": "longest-idle-agent", "ring-timeout": 6,
         "max-wait-time": SUPPORT_MAX_WAIT, "overflow": {"queue": "sales"},
         "tiers": tiers(support + front[:1])},
        {"name": "sales", "strategy": "round-robin", "ring-timeout": 6, "tier-rules-apply": True,
         "tier-rule-wait-second": 10, "tiers": tiers(sales, level=1)
         + tiers([a for a in support[:2] if a not in sales], level=2)},
        {"name": "reception", "strategy": "ring-all", "ring-timeout": 8, "tiers": tiers(front)},
        {"name": "hotline", "strategy": "sequentially-by-agent-order", "ring-timeout": 5,
         "tiers": [dict(t, position=p)
                   for p, t in enumerate(tiers(front[::-1] + support[-1:]), 1)]},
    ]


def _phones(ids, rng):
    phones = []
    for i, agent_id in enumerate(ids):
        quick, short = rng.uniform(0.5, 1.4), rng.uniform(6.0, 14.0)
        phones.append(Phone(agent_id, (quick, quick + 0.6),
                            (short, min(short + rng.uniform(4.0, 8.0), 20.0)),
                            flaky=i % FLAKY_EVERY == FLAKY_EVERY - 1))
    return phones


def sim_config(password, phones, rng):
    """The simulator's world: the agents' phones and one dialplan number per queue."""
    return {"password": password, "heartbeat": 20,
            "users": {phone.id: phone.roll(rng) for phone in phones},
            "dialplan": {ext: [["set", f"acd_queue={queue}"], ["answer"], ["park"]]
                         for queue, ext in EXTENSIONS.items()},
            "sounds": {"default": 1.0}}


# -- the outside world ----------------------------------------------------------------------------

class Callers:
    """Callers dial the queues at a steady rate; some hang up if nobody answers in time."""

    def __init__(self, driver, rate, rng):
        from acd.esl import EslError, NotConnectedError, commands  # after patching (see run)
        self.cmd, self.driver, self.rate, self.rng = commands, driver, rate, rng
        self.errors = (EslError, NotConnectedError)
        self.patient = set()           # numbers of callers who may still give up
        self.group = gevent.pool.Group()

    def observe(self, what, call, agent, details):
        if what in ("bridge", "done") and call is not None:
            self.patient.discard(call.caller_number)

    def run(self):
        due = clock.monotonic()
        for seq in range(1, 10 ** 7):
            queue = self.rng.choices(list(QUEUE_MIX), list(QUEUE_MIX.values()))[0]
            patience = self.rng.uniform(*PATIENCE) if self.rng.random() < ABANDON_SHARE else None
            self.group.spawn(self._caller, seq, queue, patience)
            due += 1.0 / self.rate
            gevent.sleep(max(0.0, due - clock.monotonic()))

    def _caller(self, seq, queue, patience):
        number = f"+4930555{seq:07d}"
        dial = self.cmd.dial_string(f"loopback/{EXTENSIONS[queue]}", {
            "origination_caller_id_number": number, "origination_caller_id_name": f"Caller {seq}"})
        if patience is not None:
            self.patient.add(number)
        try:
            result = self.driver.bgapi(self.cmd.originate(dial)).wait_result(10)
            if patience is None or not result.ok:
                return
            gevent.sleep(patience)
            if number in self.patient:
                self.driver.api(self.cmd.uuid_kill(result.value, "NORMAL_CLEARING"))
        except self.errors as exc:  # the simulator is gone or slow: this caller is lost
            log.warning("caller %s: %s", number, exc)
        finally:
            self.patient.discard(number)


class Phones:
    """The agents' phones in the simulator: each offer re-rolls how the agent's next call goes."""

    def __init__(self, driver, phones, rng):
        from acd.esl import EslError, NotConnectedError  # after patching (see run)
        self.driver, self.by_id, self.rng = driver, {p.id: p for p in phones}, rng
        self.todo = gevent.queue.Queue()
        self.errors = (EslError, NotConnectedError)

    def observe(self, what, call, agent, details):
        if what == "offer" and agent in self.by_id:
            self.todo.put(agent)    # observers must not block the daemon: the work is queued

    def run(self):
        for agent_id in self.todo:
            settings = json.dumps(self.by_id[agent_id].roll(self.rng), separators=(",", ":"))
            try:
                self.driver.api(f"sim_user set {agent_id} {settings}")
            except self.errors as exc:
                log.warning("phone %s: %s", agent_id, exc)


class Supervisor:
    """Ends the breaks max-no-answer imposed, BREAK seconds after they started."""

    def __init__(self, service):
        self.service, self.since = service, {}

    def check(self, agents, now):
        for agent in agents:
            if agent["status"] != "on-break":
                self.since.pop(agent["id"], None)
            elif now - self.since.setdefault(agent["id"], now) >= BREAK:
                self.service.set_agent_status(agent["id"], "available")
                self.since.pop(agent["id"])


# -- running it -----------------------------------------------------------------------------------

def desk_logins(agents):
    """Give every demo agent one fresh password (its Argon2id hash), make the first one a
    supervisor (its wallboard); returns who to sign in as, and the password."""
    import argon2

    password = "demo-" + secrets.token_hex(3)
    digest = argon2.PasswordHasher().hash(password)
    for agent in agents:
        agent["password-hash"] = digest
    agents[0]["role"] = "supervisor"
    return {"agent": agents[1]["id"], "supervisor": agents[0]["id"], "password": password}


def http_listen(wanted):
    """``wanted`` (host:port) when that port is free, else the same host on any free port."""
    import socket

    host, _, port = wanted.rpartition(":")
    with socket.socket() as probe:
        try:
            probe.bind((host, int(port)))
        except OSError:
            return f"{host}:0"
    return wanted


class Demo:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed if args.seed is not None else random.randrange(10 ** 6)
        self.tally = Tally()
        self.cleanup = contextlib.ExitStack()
        self.started = None

    def start(self):
        """Start everything; each started piece is registered for :meth:`stop` (newest first)."""
        import tempfile

        from acd.config import parse_config

        self.workdir = tempfile.mkdtemp(prefix="acd-demo-")
        self.cleanup.callback(shutil.rmtree, self.workdir, ignore_errors=True)
        center, phones = call_center(self.args.agents, random.Random(f"{self.seed}:center"))
        password, token = secrets.token_hex(12), secrets.token_urlsafe(24)
        self.token_file = self._write("admin-token", token + "\n")
        self.login = desk_logins(center["agents"])
        redis_server, sim = self._start_servers(sim_config(
            password, phones, random.Random(f"{self.seed}:phones")))
        config = parse_config(dict(center, freeswitch={"port": sim.port, "password": password},
                                   redis={"url": redis_server.url},
                                   http={"listen": http_listen(self.args.http),
                                         "admin-token": token},
                                   cti={"break-reasons": ["lunch", "training", "meeting"]}),
                              "acd demo", env={})
        self._start_acd(config, phones, password, sim.port)
        self._announce(redis_server, sim, config, token)
        greenlets = [gevent.spawn(self.callers.run), gevent.spawn(self.phones.run)]
        self.cleanup.callback(self.callers.group.kill)
        self.cleanup.callback(gevent.killall, greenlets)
        self.started = clock.monotonic()

    def _start_servers(self, world):
        import yaml

        from acd.redis_server import RedisServer
        from acd.sim.process import SimProcess

        redis_server = RedisServer().start()
        self.cleanup.callback(redis_server.stop)
        sim = SimProcess(self._write("sim.yaml", yaml.safe_dump(world)),
                         password=world["password"],
                         log=os.path.join(self.workdir, "simulator.log")).start()
        self.cleanup.callback(sim.stop)
        return redis_server, sim

    def _start_acd(self, config, phones, password, port):
        """The driver (the outside world's connection), then the daemon with our observers."""
        import redis

        from acd.daemon import Daemon
        from acd.esl import EslClient

        self.driver = EslClient("127.0.0.1", port, password, command_timeout=10)
        self.driver.connect()
        self.cleanup.callback(self.driver.stop)
        self.callers = Callers(self.driver, self.args.rate, random.Random(f"{self.seed}:callers"))
        self.phones = Phones(self.driver, phones, random.Random(f"{self.seed}:rolls"))
        self.daemon = Daemon(config, owner="acd-demo", observers=[
            self.tally, self.callers.observe, self.phones.observe])
        self.cleanup.callback(self.daemon.stop)
        self.daemon.start(wait_connected=10)
        self.supervisor = Supervisor(self.daemon.service)
        self.site = f"http://{config.http.listen_host}:{self.daemon.http.server_port}"
        self.api = f"{self.site}/api/v1"
        self.redis_errors = redis.RedisError

    def _write(self, name, text):
        path = os.path.join(self.workdir, name)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(text)
        return path

    def _announce(self, redis_server, sim, config, token):
        print(f"acd demo: {len(config.agents)} agents, {len(config.queues)} queues "
              f"({', '.join(q.name for q in config.queues)}), {self.args.rate:g} callers/s, "
              f"seed {self.seed}\n"
              f"  redis-server pid {redis_server.proc.pid} on 127.0.0.1:{redis_server.port}\n"
              f"  simulator pid {sim.proc.pid} on 127.0.0.1:{sim.port}\n"
              f"  acd daemon in this process, API {self.api}\n"
              f"  admin token {token} (also in {self.token_file} until the demo ends)\n"
              f"  try: curl -H \"Authorization: Bearer $(cat {self.token_file})\" "
              f"{self.api}/queues\n"
              f"  agent desktop {self.site}/  sign in as {self.login['agent']}, password "
              f"{self.login['password']} (every demo agent has it)\n"
              f"  wallboard {self.site}/wallboard  sign in as {self.login['supervisor']} "
              f"(a supervisor), same password", flush=True)

    def show(self, stopped, screen):
        """Redraw every second until ``stopped`` is set or the duration is over."""
        end = self.started + self.args.duration if self.args.duration else None
        frame = self.started
        while not stopped.is_set():
            frame += 1.0
            wake = frame if end is None else min(frame, end)
            stopped.wait(max(0.0, wake - clock.monotonic()))
            if stopped.is_set() or (end is not None and clock.monotonic() >= end):
                return
            self._frame(screen, end)

    def _frame(self, screen, end):
        try:
            queues, agents = self.daemon.service.queues_view(), self.daemon.service.agents_view()
            self.supervisor.check(agents, clock.monotonic())
        except self.redis_errors as exc:
            print(f"acd demo: redis: {exc}", file=sys.stderr)
            return
        elapsed = clock.monotonic() - self.started
        if screen is None:
            print(render_line(queues, agents, self.tally, elapsed), flush=True)
            return
        screen.draw(render_screen(queues, agents, self.tally, {
            "elapsed": elapsed, "rate": self.args.rate, "seed": self.seed, "api": self.api,
            "token_file": self.token_file,
            "desktop": f"{self.site}/ as {self.login['agent']} / {self.login['password']}",
            "remaining": end - clock.monotonic() if end is not None else None}))

    def stop(self):
        self.cleanup.close()


def run(args):
    """``acd demo``: returns 0 after a clean stop, 1 when something could not start."""
    stopped = start_gevent_tool()
    from acd.config import ConfigError
    from acd.esl import EslError
    from acd.redis_server import RedisStartError
    from acd.sim.process import SimStartError

    demo = Demo(args)
    try:
        demo.start()
    except (RedisStartError, SimStartError, EslError, OSError, ConfigError) as exc:
        demo.stop()
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"acd demo: cannot start: {reason}", file=sys.stderr)
        return 1
    screen = None if args.no_screen or not sys.stdout.isatty() else Screen(sys.stdout)
    try:
        demo.show(stopped, screen)
    finally:
        if screen is not None:
            screen.close()
        elapsed = clock.monotonic() - demo.started
        logging.disable(logging.ERROR)  # stopping: connections closing are expected
        demo.stop()
    print("\n".join(render_summary(demo.tally, elapsed)), flush=True)
    return 0


# -- command line ---------------------------------------------------------------------------------

def _add_options(p):
    env = os.environ.get
    p.add_argument("--duration", type=number(float, 0), default=env("ACD_DEMO_DURATION",
                   str(DURATION)), metavar="SECONDS",
                   help="stop after this many seconds; 0 runs until Ctrl-C or SIGTERM "
                   "(env ACD_DEMO_DURATION; default %(default)s)")
    p.add_argument("--rate", type=number(float, 0, exclusive=True),
                   default=env("ACD_DEMO_RATE", str(RATE)), metavar="CALLS_PER_S",
                   help="new callers per second, spread over the queues "
                   "(env ACD_DEMO_RATE; default %(default)s)")
    p.add_argument("--agents", type=number(int, MIN_AGENTS, MAX_AGENTS),
                   default=env("ACD_DEMO_AGENTS", str(AGENTS)), metavar="N",
                   help=f"number of agents, {MIN_AGENTS}-{MAX_AGENTS} "
                   "(env ACD_DEMO_AGENTS; default %(default)s)")
    p.add_argument("--seed", type=int, default=env("ACD_DEMO_SEED"),
                   help="seed for every random choice (callers, queues, patience, phones), so a "
                   "run can be repeated (env ACD_DEMO_SEED; default: a random one, printed)")
    p.add_argument("--http", default=env("ACD_DEMO_HTTP", HTTP), metavar="HOST:PORT",
                   help="where the API, the agent desktop and the wallboard listen; another free "
                   "port when this one is taken (env ACD_DEMO_HTTP; default %(default)s)")
    p.add_argument("--no-screen", action="store_true",
                   default=env("ACD_DEMO_NO_SCREEN", "").lower() in ("1", "true", "yes", "on"),
                   help="print one line per second instead of the live screen (also when stdout "
                   "is not a terminal) (env ACD_DEMO_NO_SCREEN=1)")


DESCRIPTION = ("Run a whole call center on this machine: a private redis-server, the FreeSWITCH "
               "simulator with the agents' phones, the acd daemon (HTTP API on 127.0.0.1 with a "
               "fresh admin token) and callers at a steady rate, with a live view. Everything "
               "is stopped and removed on exit.")


def add_demo_parser(sub):
    """Register ``acd demo`` on the ``acd`` command line's subparsers."""
    p = sub.add_parser("demo", help="run a demo call center with a live view",
                       description=DESCRIPTION)
    _add_options(p)
    p.set_defaults(func=run)
    return p


def main(argv=None):
    """``python -m acd.demo [options]``: the same as ``acd demo``."""
    parser = argparse.ArgumentParser(prog="acd demo", description=DESCRIPTION)
    _add_options(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
