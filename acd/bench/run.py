"""``acd bench``: run one daemon under load and measure it; measure selection cost as agents grow.

Theory of operation
-------------------
A run starts, each as its own process and each private to the run: a ``redis-server``, the
simulator (``acd sim``, as FreeSWITCH) and the daemon (``acd run --config <generated acd.yaml>``),
so the daemon, the simulator and Redis can use both cores; this process is the outside world
(the driver ESL connection, the callers) and the observer. In order:

1. the agents' phones are created in the simulator (``sim_users``);
2. the simulator's own ceiling is measured with no daemon yet (``load.SimCeiling``);
3. the daemon starts with N agents and is awaited on ``/healthz``;
4. a backlog of callers is parked in a queue no agent serves (``--waiting``), to hold that many
   waiting callers in the daemon for the whole run;
5. a warm-up at the first rate, then one step per rate: the simulator traces (``sim_trace``),
   callers arrive at that rate for ``--duration`` seconds while a sampler reads, every second,
   the queue's length and the live calls from Redis and the processes' CPU from /proc, and prints
   a progress line on stderr; at the step's end the trace becomes decision latencies
   (``latency.pair``), the daemon's log lines the answered/abandoned counts, its ``/metrics`` (if
   served) acd's own histogram;
6. the daemon's peak RSS is read, everything but Redis is stopped, and the store-level selection
   benchmark runs (``selection``).

With ``--switch-latency``/``--event-delay`` the simulator is a slow switch (``switch``): the
latencies are set before step 3, each step waits for its calls to end, and each step reports
what the switch saw become of its callers and agent legs.

Every started piece is registered on an ExitStack at once, so Ctrl-C, SIGTERM or a failure stop
all of them (newest first). The report is JSON (``--json``) plus a short summary on stdout.
"""

import argparse
import contextlib
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile

import gevent
import gevent.event

from acd import clock
from acd.tool import number, start_gevent_tool
from acd.bench import latency, load, probes, report, selection, switch
from acd.bench.processes import (BenchStartError, DaemonProcess, Profiler, log_tail,
                                 top_functions)
from acd.daemon import EVENTS

log = logging.getLogger("acd.bench")

#: The daemon's subscription without IVR (the ceiling's listener takes the same).
DAEMON_EVENTS = EVENTS


class Stopped(Exception):
    """Ctrl-C or SIGTERM during the run."""


class Bench:
    def __init__(self, args, stopped):
        self.args, self.stopped = args, stopped
        self.cleanup = contextlib.ExitStack()
        self.result = {"machine": report.machine(), "options": _options(args)}
        self.progress_shown = False

    # -- progress --------------------------------------------------------------------------------

    def progress(self, text):
        if self.args.quiet:
            return
        sys.stderr.write(f"\r\x1b[K{text}" if sys.stderr.isatty() else text + "\n")
        sys.stderr.flush()
        self.progress_shown = True

    def _check(self):
        if self.stopped.is_set():
            raise Stopped()

    # -- the run -----------------------------------------------------------------------------------

    def run(self):
        self.workdir = tempfile.mkdtemp(prefix="acd-bench-")
        if not self.args.keep:
            self.cleanup.callback(shutil.rmtree, self.workdir, ignore_errors=True)
        self.redis_server = self._start_redis()
        if self.args.rate:
            self._load()
        self._check()
        if self.args.selection:
            self.progress("selection: starting")
            import redis
            client = redis.Redis.from_url(self.redis_server.url, decode_responses=True)
            self.result["selection"] = selection.run(
                client, self.args.selection, self.args.selection_decisions,
                self.args.selection_rounds, progress=self.progress)
        return self.result

    def _start_redis(self):
        from acd.redis_server import RedisServer
        server = RedisServer().start()
        self.cleanup.callback(server.stop)
        return server

    def _load(self):
        """Steps 1-6 of the module's docstring; stops the daemon and simulator when done."""
        with contextlib.ExitStack() as stack:
            sim, driver = self._start_sim(stack)
            self.progress(f"simulator up; creating {self.args.agents:,} phones")
            load.register_phones(driver, self.args.agents, self.args.answer_after, self.args.talk)
            if self.args.sim_ceiling:
                self.result["sim_ceiling"] = self._sim_ceiling(sim, driver)
            self._check()
            if switch.enabled(self.args):
                self._slow_switch(driver)
            daemon = self._start_daemon(stack, sim)
            self._run_steps(driver, sim, daemon)

    def _start_sim(self, stack):
        import yaml

        from acd.esl import EslClient
        from acd.sim.process import SimProcess
        self.password = secrets.token_hex(8)
        path = self._write("sim.yaml", yaml.safe_dump(load.sim_config(self.password)))
        sim = SimProcess(path, password=self.password,
                         log=os.path.join(self.workdir, "simulator.log")).start()
        stack.callback(sim.stop)
        driver = EslClient("127.0.0.1", sim.port, self.password, command_timeout=30,
                           reconnect=False)
        driver.connect()
        stack.callback(driver.stop)
        return sim, driver

    def _sim_ceiling(self, sim, driver):
        from acd.esl import EslClient, EslError, NotConnectedError
        listener = EslClient("127.0.0.1", sim.port, self.password, reconnect=False)
        listener.connect()
        listener.subscribe(*DAEMON_EVENTS)
        try:
            self.progress(f"simulator ceiling: {self.args.sim_ceiling:g} s without a daemon")
            stat, started = probes.ProcStat(sim.proc.pid), clock.monotonic()
            before = stat.cpu_seconds()
            counts = load.SimCeiling(driver, (EslError, NotConnectedError)).run(self.args.sim_ceiling)
            elapsed = clock.monotonic() - started
            cpu = stat.cpu_seconds() - before
        finally:
            listener.stop()
        gevent.sleep(1.5)  # the last calls hang up (they last 1 s)
        return {"seconds": round(elapsed, 2), "completed": counts["completed"],
                "failed": counts["failed"], "calls_per_s": round(counts["completed"] / elapsed, 1),
                "sim_cpu_percent": round(100 * cpu / elapsed, 1),
                "note": "loopback calls (2 legs: answer, park, hang up after 1 s), 64 at a time, "
                        "a listener subscribed to the daemon's events"}

    def _slow_switch(self, driver):
        settings = switch.settings(self.args.switch_latency, self.args.event_delay)
        self.progress(f"slow switch: {switch.describe(vars(self.args))}")
        reply = driver.api("sim_latency set " + json.dumps(settings, separators=(",", ":")))
        if not reply.startswith("+OK"):
            raise RuntimeError(f"sim_latency: {reply.strip()}")

    def _drain(self, before, label):
        """Wait until the step's calls are over: the simulator's channel count is back to
        ``before``, or the limit passed; the channels still left."""
        deadline = clock.monotonic() + switch.DRAIN_SECONDS + self.args.talk
        while True:
            left = switch.channel_count(self.driver.api("show channels count")) - before
            if left <= 0 or clock.monotonic() > deadline:
                return max(0, left)
            self._check_alive()
            self.progress(f"{label}: waiting for {left} channels to end")
            gevent.sleep(0.5)

    def _start_daemon(self, stack, sim):
        import yaml

        from acd.redis_server import free_port
        self.token, self.http_port = secrets.token_urlsafe(16), free_port()
        config = load.acd_config(self.args.agents, sim.port, self.password, self.redis_server.url,
                                 self.http_port, self.token, backlog=self.args.waiting > 0)
        path = self._write("acd.yaml", yaml.safe_dump(config, sort_keys=False))
        self.daemon_log = os.path.join(self.workdir, "acd.log")
        daemon = DaemonProcess(path, self.daemon_log, self.http_port, self.args.daemon_log_level)
        stack.callback(daemon.stop)
        self.progress(f"starting the daemon with {self.args.agents:,} agents")
        return daemon.start()

    def _write(self, name, text):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    # -- load steps --------------------------------------------------------------------------------

    def _run_steps(self, driver, sim, daemon):
        import redis

        from acd.esl import EslError, NotConnectedError
        from acd.store.keys import Keys
        self.redis = redis.Redis.from_url(self.redis_server.url, decode_responses=True)
        self.keys = Keys("acd")
        self.stats = {"daemon": probes.ProcStat(daemon.pid), "sim": probes.ProcStat(sim.proc.pid),
                      "redis": probes.ProcStat(self.redis_server.proc.pid),
                      "bench": probes.ProcStat(os.getpid())}
        self.daemon, self.driver = daemon, driver
        callers = load.Callers(driver, (EslError, NotConnectedError))
        if self.args.waiting:
            self._backlog(callers)
        rates = self.args.rate
        if self.args.warmup:
            self._step(driver, callers, rates[0], self.args.warmup, "warm-up")
        steps = [self._step(driver, callers, rate, self.args.duration, f"step {i + 1}/{len(rates)}")
                 for i, rate in enumerate(rates)]
        memory = self.stats["daemon"].memory() or {}
        self.result["load"] = {
            "agents": self.args.agents, "talk": self.args.talk,
            "answer_after": self.args.answer_after, "backlog": self.args.waiting,
            "daemon_ready_s": round(self.daemon.ready_after, 2),
            "daemon_peak_rss_mb": round(memory.get("peak_rss", 0) / 2 ** 20, 1),
            "daemon_rss_mb": round(memory.get("rss", 0) / 2 ** 20, 1),
            "steps": steps}
        callers.group.kill(block=False)

    def _backlog(self, callers):
        """Park ``--waiting`` callers in the queue nobody serves and wait until all wait."""
        want = self.args.waiting
        self.progress(f"parking {want:,} callers in the backlog queue")
        callers.run(min(500.0, want), want / min(500.0, want), load.BACKLOG_EXTENSION, self.stopped)
        deadline = clock.monotonic() + 60
        while self.redis.zcard(self.keys.callers(load.BACKLOG)) < want:
            self._check_alive()
            if clock.monotonic() > deadline:
                raise BenchStartError(f"only {self.redis.zcard(self.keys.callers(load.BACKLOG))} "
                                      f"of {want} backlog callers are waiting after 60 s")
            gevent.sleep(0.2)

    def _check_alive(self):
        self._check()
        if not self.daemon.alive():
            raise BenchStartError("the daemon died:\n" + log_tail(self.daemon_log))

    def _step(self, driver, callers, rate, duration, label):
        """One rate for ``duration`` seconds; the figures (None for the warm-up)."""
        measured = label != "warm-up"
        slow = switch.enabled(self.args)
        channels_before = switch.channel_count(driver.api("show channels count")) if slow else 0
        if measured:
            driver.api("sim_trace on")
        histogram_before = self._histogram()
        cpu_before = {name: stat.cpu_seconds() or 0.0 for name, stat in self.stats.items()}
        log_offset = _size(self.daemon_log)
        sent_before = callers.counts()
        samples, rtts, started = [], {"redis": [], "sim_api": []}, clock.monotonic()
        sampler = gevent.spawn(self._sample, samples, rtts, callers, rate, label, started)
        profilers = self._profile(duration) if measured and self.args.profile else []
        try:
            callers.run(rate, duration, stopped=self.stopped)
        finally:
            sampler.kill()
        self._check_alive()
        elapsed = clock.monotonic() - started
        for profiler in profilers:
            profiler.wait()
        undrained = self._drain(channels_before, label) if slow else None
        if not measured:
            return None
        trace = json.loads(driver.api("sim_trace dump", timeout=60))
        driver.api("sim_trace off")
        cpu = {name: (stat.cpu_seconds() or 0.0) - cpu_before[name]
               for name, stat in self.stats.items()}
        sent = {k: v - sent_before[k] for k, v in callers.counts().items()}
        counts = report.decisions(_read_from(self.daemon_log, log_offset), load.QUEUE)
        histogram = self._histogram()
        if histogram is not None and histogram_before is not None:
            histogram = probes.minus(histogram, histogram_before)
        result = report.step_result(rate, elapsed, sent, counts, samples, trace, self.args.agents,
                                    cpu, histogram, ignore=(load.BACKLOG,))
        result["round_trip_ms"] = {name: report.ms(latency.percentiles(values, (50, 99)))
                                   for name, values in rtts.items()}
        if slow:
            result["switch"] = switch.figures(trace, sent["sent"], undrained, (load.BACKLOG,))
        if profilers:
            result["profile"] = {name: top_functions(p.path) for name, p in
                                 zip(("daemon", "sim"), profilers)}
        return result

    def _histogram(self):
        """HOOK: acd's own decision histogram from the daemon's /metrics, when it serves one
        (``acd_routing_decision_seconds{kind}``); None until then."""
        text = probes.scrape(f"http://127.0.0.1:{self.http_port}/metrics", self.token)
        parsed = probes.histogram(text) if text else None
        return parsed or None

    def _round_trips(self, rtts):
        """One Redis PING and one simulator ``api`` round trip, as the daemon would see them."""
        t = clock.monotonic()
        self.redis.ping()
        rtts["redis"].append(clock.monotonic() - t)
        t = clock.monotonic()
        self.driver.api("uuid_exists 00000000-0000-0000-0000-000000000000")
        rtts["sim_api"].append(clock.monotonic() - t)

    def _sample(self, samples, rtts, callers, rate, label, started):
        last = {name: stat.cpu_seconds() or 0.0 for name, stat in self.stats.items()}
        while True:
            gevent.sleep(1.0)
            t = clock.monotonic()
            waiting = self.redis.zcard(self.keys.callers(load.QUEUE))
            live = self.redis.zcard(self.keys.calls)
            samples.append((t, waiting, live))
            self._round_trips(rtts)
            now = {name: stat.cpu_seconds() or 0.0 for name, stat in self.stats.items()}
            cpu = " ".join(f"{name} {100 * (now[name] - last[name]):.0f}%" for name in now)
            last = now
            self.progress(f"{label}: {rate:g} calls/s  t={t - started:.0f}s  sent "
                          f"{callers.sent}  failed {callers.failed}  waiting {waiting}  live "
                          f"calls {live}  cpu: {cpu}")

    def _profile(self, duration):
        directory = self.args.profile
        os.makedirs(directory, exist_ok=True)
        return [Profiler(self.stats[name].pid, os.path.join(directory, f"{name}.pyspy.txt"),
                         duration) for name in ("daemon", "sim")]

    def stop(self):
        self.cleanup.close()


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _read_from(path, offset):
    with open(path, errors="replace") as f:
        f.seek(offset)
        return f.read().splitlines()




def _options(args):
    return {k: v for k, v in vars(args).items() if k not in ("func",)}


# -- running it ---------------------------------------------------------------------------------

def run(args):
    """``acd bench``: 0 when the run finished, 1 when something failed, 130 on Ctrl-C."""
    stopped = start_gevent_tool()
    from acd.esl import EslError
    from acd.redis_server import RedisStartError
    from acd.sim.process import SimStartError

    bench = Bench(args, stopped)
    status = 0
    try:
        result = bench.run()
    except Stopped:
        print("\nacd bench: interrupted", file=sys.stderr)
        status, result = 130, None
    except (BenchStartError, RedisStartError, SimStartError, EslError, OSError,
            RuntimeError) as exc:
        reason = str(exc).strip() or type(exc).__name__
        print(f"\nacd bench: failed: {reason}", file=sys.stderr)
        status, result = 1, None
    finally:
        logging.disable(logging.ERROR)  # stopping: connections closing are expected
        bench.stop()
    if bench.progress_shown and sys.stderr.isatty():
        sys.stderr.write("\n")
    if result is None:
        return status
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    print("\n".join(report.summary(result)))
    if args.json:
        print(f"report: {args.json}")
    return 0


# -- command line ---------------------------------------------------------------------------------

def _list(kind, minimum):
    def parse(text):
        if text.strip().lower() in ("", "0", "none", "off"):
            return []
        try:
            values = [kind(part) for part in text.replace(" ", "").split(",") if part]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
        if any(v < minimum for v in values):
            raise argparse.ArgumentTypeError(f"expected numbers >= {minimum}, got {text!r}")
        return values
    return parse


#: (flag, env suffix, type, default, help)
OPTIONS = [
    ("--agents", "AGENTS", number(int, 1), "10000", "agents (and phones in the simulator)"),
    ("--rate", "RATE", _list(float, 0.1), "100,300",
     "new callers per second, one step per value (comma-separated); 0 skips the load test"),
    ("--duration", "DURATION", number(float, 1), "20", "seconds per step"),
    ("--warmup", "WARMUP", number(float, 0), "3", "seconds of load at the first rate before "
     "measuring"),
    ("--talk", "TALK", number(float, 0.1), "5", "seconds an agent talks before hanging up"),
    ("--answer-after", "ANSWER_AFTER", number(float, 0), "0.2",
     "seconds an agent's phone rings before it answers"),
    ("--waiting", "WAITING", number(int, 0), "0",
     "callers kept waiting for the whole run in a queue no agent serves"),
    ("--sim-ceiling", "SIM_CEILING", number(float, 0), "5",
     "seconds to measure the simulator's own ceiling before the daemon starts; 0 skips it"),
    ("--selection", "SELECTION", _list(int, 1), "100,1000,10000,100000",
     "agent counts for the store-level selection benchmark; 0 skips it"),
    ("--selection-decisions", "SELECTION_DECISIONS", number(int, 1), "500",
     "decisions per size and round"),
    ("--selection-rounds", "SELECTION_ROUNDS", number(int, 1), "5", "interleaved rounds"),
    ("--switch-latency", "SWITCH_LATENCY", switch.parse_latency, "",
     "a slow switch: seconds each command takes in the simulator, e.g. "
     "uuid_bridge=2.0,sendmsg=0.05,originate=0.3 (an inline api or sendmsg freezes its "
     "connection that long, as on a loaded FreeSWITCH); each step then waits for its calls to "
     "end and reports bridged callers, dropped agent legs and park -> originate latency"),
    ("--event-delay", "EVENT_DELAY", number(float, 0), "0",
     "a slow switch: seconds added to the delivery of every event"),
    ("--profile", "PROFILE", str, None,
     "directory for py-spy profiles of the daemon and the simulator during each step"),
    ("--json", "JSON", str, None, "write the JSON report to this file"),
    ("--daemon-log-level", "DAEMON_LOG_LEVEL", str, "INFO",
     "the daemon's --log-level (INFO logs one line per decision, as in production)"),
]


def _add_options(p):
    for flag, env, kind, default, text in OPTIONS:
        value = os.environ.get(f"ACD_BENCH_{env}", default)
        p.add_argument(flag, type=kind, default=value,
                       help=f"{text} (env ACD_BENCH_{env}; default {default})")
    p.add_argument("--keep", action="store_true",
                   default=os.environ.get("ACD_BENCH_KEEP", "") in ("1", "true", "yes"),
                   help="keep the work directory (configs, daemon and simulator logs) "
                   "(env ACD_BENCH_KEEP=1)")
    p.add_argument("--quiet", action="store_true",
                   default=os.environ.get("ACD_BENCH_QUIET", "") in ("1", "true", "yes"),
                   help="no progress line on stderr (env ACD_BENCH_QUIET=1)")


DESCRIPTION = ("Benchmark one acd daemon: a private redis-server, the FreeSWITCH simulator and "
               "the daemon as separate processes, N agents, callers at each rate; reports "
               "sustained calls/s, decision latency measured on the simulator's side, CPU per "
               "call and peak RSS of the daemon, the simulator's own ceiling, and selection cost "
               "as agents grow. With --switch-latency/--event-delay the simulator is a slow, loaded "
               "FreeSWITCH and each step reports bridged callers and dropped agent legs. "
               "See BENCHMARKS.md.")


def add_bench_parser(sub):
    """Register ``acd bench`` on the ``acd`` command line's subparsers."""
    p = sub.add_parser("bench", help="benchmark the daemon under load", description=DESCRIPTION)
    _add_options(p)
    p.set_defaults(func=run)
    return p
