"""The soak's run (acd/bench/soak.py says what and why): start the pieces, send callers, apply
the faults, drain, and read the figures (the ledger, acd_soak_ledger, and Redis)."""

import contextlib
import os
import random
import secrets

import gevent
import gevent.pool
import yaml

from acd import clock
from acd.bench import report
from acd.bench import soak as plan
from acd.bench.load import agent_ids
from acd.bench.processes import DaemonProcess, log_tail
from acd.bench.soak_ledger import Ledger

DRIVER_EVENTS = ("CHANNEL_CREATE", "CHANNEL_PARK", "CHANNEL_BRIDGE", "CHANNEL_HANGUP")

#: Decisions of a daemon that found Redis had lost an agent's reservation (a failover, a restart
#: from an older snapshot) and repaired it.
REPAIRS = ("agent-held-again", "reservation-restored", "offer-withdrawn")


class Stopped(Exception):
    """Ctrl-C or SIGTERM."""


class Soak:
    def __init__(self, args, stopped):
        self.args, self.stopped = args, stopped
        self.rng = random.Random(args.seed)
        self.cleanup = contextlib.ExitStack()
        self.ledger = Ledger()
        self.callers = gevent.pool.Group()
        self.agents = agent_ids(args.agents)
        self.progress_at = 0.0

    def say(self, text):
        print(f"[{clock.monotonic() - self.ledger.started:7.1f} s] {text}", flush=True)

    # -- the pieces ---------------------------------------------------------------------------

    def run(self):
        self.workdir, remove = plan.new_workdir(self.args.keep)
        if remove is not None:
            self.cleanup.callback(remove)
        else:
            self.say(f"work directory: {self.workdir}")
        if self.args.sentinel:
            self.redis = plan.SentinelRedis(self.workdir)
        elif self.args.rollback:
            self.redis = plan.RollbackRedis(self.workdir, self.args.rollback)
        else:
            self.redis = plan.AofRedis(self.workdir)
        self.cleanup.callback(self.redis.stop)
        self.redis.start()
        self.password = secrets.token_hex(8)
        self.sims = [self._start_sim(i) for i in range(2)]
        self.drivers = [self._driver(i) for i in range(2)]
        self.daemons = [self._start_daemon(i) for i in range(2)]
        self.say(f"up: redis ({self.redis.mode}), 2 simulators, 2 daemons, "
                 f"{len(self.agents)} agents")
        self.ledger = Ledger()
        for i, driver in enumerate(self.drivers):
            for name in DRIVER_EVENTS:
                driver.register_handle(name, lambda event, i=i: self.ledger.on_event(i, event))
        faults = gevent.spawn(self._faults)
        try:
            self._load()
        finally:
            faults.kill()
        self._drain()
        return self._result()

    def _start_sim(self, i):
        from acd.sim.process import SimProcess
        path = self._write(f"sim{i}.yaml", plan.sim_config(self.password, self.agents,
                                                            self.args.talk))
        sim = SimProcess(path, password=self.password,
                         log=os.path.join(self.workdir, f"sim{i}.log")).start()
        self.cleanup.callback(sim.stop)
        return sim

    def _driver(self, i):
        from acd.esl import EslClient
        driver = EslClient("127.0.0.1", self.sims[i].port, self.password, command_timeout=30,
                           backoff_initial=0.1, backoff_max=0.5)
        driver.connect()
        driver.subscribe(*DRIVER_EVENTS)
        self.cleanup.callback(driver.stop)
        return driver

    def _start_daemon(self, i):
        from acd.redis_server import free_port
        port = free_port()
        self.tokens = getattr(self, "tokens", []) + [plan.token()]
        config = plan.acd_config(self.agents, self.sims[i].port, self.password,
                                 self.redis.config, port, self.tokens[i])
        path = self._write(f"acd{i}.yaml", config)
        daemon = DaemonProcess(path, os.path.join(self.workdir, f"acd{i}.log"), port)
        self.cleanup.callback(daemon.stop)
        return daemon.start()

    def _write(self, name, data):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            yaml.safe_dump(data, f, sort_keys=False)
        return path

    # -- callers --------------------------------------------------------------------------------

    def _load(self):
        rate, duration = self.args.rate, self.args.duration
        start = due = clock.monotonic()
        n = 0
        while due - start < duration:
            self._check()
            self.callers.spawn(self._caller, n % 2, n)
            n += 1
            due += 1.0 / rate
            pause = due - clock.monotonic()
            if pause > 0:
                gevent.sleep(pause)
            self._progress()

    def _caller(self, sim, n):
        from acd.esl import EslError, NotConnectedError
        from acd.esl import commands as cmd
        dial = cmd.dial_string(f"loopback/{plan.EXTENSION}/default", {
            "origination_caller_id_number": f"+4930{n:09d}",
            "origination_caller_id_name": f"Soak {n}"})
        try:
            result = self.drivers[sim].bgapi(cmd.originate(dial)).wait_result(30)
        except (EslError, NotConnectedError):
            self.ledger.originates["failed"] += 1
            return
        self.ledger.originates["sent" if result.ok else "failed"] += 1
        wait = plan.patience(self.rng)
        if result.ok and wait is not None:
            gevent.sleep(wait)
            caller = self.ledger.by_a_leg.get(result.value)
            if caller is not None and self.ledger.abandon(caller):
                with contextlib.suppress(EslError, NotConnectedError):
                    self.drivers[sim].api(f"uuid_kill {caller.uuid} NORMAL_CLEARING")

    def _progress(self):
        now = clock.monotonic()
        if now - self.progress_at < 10:
            return
        self.progress_at = now
        f = self.ledger
        self.say(f"offered {len(f.callers)}  waiting {len(f.waiting())}  answered "
                 f"{sum(c.bridged is not None for c in f.callers.values())}")

    def _check(self):
        if self.stopped.is_set():
            raise Stopped()

    # -- faults ----------------------------------------------------------------------------------

    def _faults(self):
        start = self.ledger.started
        for at, fault, which in plan.schedule(self.args.duration):
            gevent.sleep(max(0.0, start + at - clock.monotonic()))
            self.ledger.fault(fault, f"#{which}")
            try:
                detail = getattr(self, "_" + fault.replace("-", "_"))(which)
            except Exception as exc:  # noqa: BLE001 - a failed fault is reported, the run goes on
                detail = f"FAILED: {exc}"
            self.say(f"fault {fault} #{which}: {detail}")

    def _daemon_kill(self, which):
        daemon = self.daemons[which]
        daemon.proc.kill()
        daemon.proc.wait()
        daemon.start()
        return f"acd{which} SIGKILLed, up again after {daemon.ready_after:.1f} s"

    def _esl_drop(self, which):
        return "sim" + str(which) + ": " + self.drivers[which].api("sim_esl drop all").strip()

    def _esl_freeze(self, which):
        return "sim" + str(which) + ": " + self.drivers[which].api("sim_esl freeze all").strip()

    def _sim_restart(self, which):
        sim = self.sims[which]
        port = sim.port
        sim.kill()
        self.ledger.switch_gone(which)
        sim.start(port=port)
        self.drivers[which].wait_connected(15)
        return f"sim{which} SIGKILLed and restarted on :{port}"

    def _redis_failover(self, which):
        return self.redis.fail_over()

    # -- the end ---------------------------------------------------------------------------------

    def _drain(self):
        self.say(f"load over; waiting up to {self.args.drain:g} s for the last callers")
        deadline = clock.monotonic() + self.args.drain
        while clock.monotonic() < deadline:
            self._check()
            if not self.ledger.waiting() and self._busy_agents() == []:
                break
            gevent.sleep(1.0)
            self._progress()
        self.callers.kill(block=False)

    def _busy_agents(self):
        import redis

        from acd.store import Store
        if not hasattr(self, "_store"):
            url = self.redis.config.get("url") or self._sentinel_url()
            self._store = Store(redis.Redis.from_url(url, decode_responses=True), "acd")
        try:
            return [(a, (self._store.agent(a) or {}).get("state")) for a in self.agents
                    if (self._store.agent(a) or {}).get("state") != "waiting"]
        except redis.RedisError as exc:
            return [("redis", str(exc))]

    def _sentinel_url(self):
        return f"redis://127.0.0.1:{self.redis.primary()}/0"

    def _result(self):
        figures = self.ledger.figures()
        if self.args.sentinel:
            self.__dict__.pop("_store", None)
        busy = self._busy_agents()
        alive = [d.alive() for d in self.daemons]
        return {"machine": report.machine(), "options": {
                    "duration": self.args.duration, "rate": self.args.rate,
                    "agents": self.args.agents, "talk": self.args.talk,
                    "sentinel": self.args.sentinel, "rollback": self.args.rollback,
                    "seed": self.args.seed},
                "redis_mode": self.redis.mode, "figures": figures,
                "agents_not_waiting": [f"{a}={s}" for a, s in busy],
                "daemons_alive_at_end": alive,
                "esl_reconnects_since_last_start": self._reconnects(),
                "redis_repairs": self._repairs(),
                "daemon_log_tails": {f"acd{i}": log_tail(d.log_path, 5)
                                     for i, d in enumerate(self.daemons)}}

    def _repairs(self):
        """How often the daemons found Redis had lost an agent's reservation and repaired it
        (their decision lines: acd/recovery.py, acd/router_offers.py; docs/redis.md)."""
        counts = dict.fromkeys(REPAIRS, 0)
        for daemon in self.daemons:
            with open(daemon.log_path, errors="replace") as log:
                for line in log:
                    if "acd.decisions: " in line:
                        kind = line.split("acd.decisions: ", 1)[1].split(" ", 1)[0]
                        if kind in counts:
                            counts[kind] += 1
        return counts

    def _reconnects(self):
        """Each daemon's acd_esl_reconnects_total by reason (since its last restart)."""
        from acd.bench.probes import scrape
        out = {}
        for i, daemon in enumerate(self.daemons):
            text = scrape(f"http://127.0.0.1:{daemon.http_port}/metrics", self.tokens[i]) or ""
            out[f"acd{i}"] = {line.split('"')[1]: float(line.split()[-1]) for line in
                              text.splitlines() if line.startswith("acd_esl_reconnects_total{")}
        return out

    def stop(self):
        self.callers.kill(block=False)
        self.cleanup.close()
