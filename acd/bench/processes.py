"""The processes a bench run starts besides redis-server and the simulator: the daemon, py-spy.

Theory of operation: :class:`DaemonProcess` runs ``acd run --config FILE`` as a subprocess (its
log lines, one per routing decision, go to a file the bench reads), waits until ``/healthz``
answers 200 and its log says the first resync is done, and stops it with SIGTERM, then SIGKILL. Anything that fails to start raises
:class:`BenchStartError` with the tail of the process's log. :class:`Profiler` runs ``py-spy
record`` on a pid for a while (raw collapsed stacks) and :func:`top_functions` sums them up.
"""

import collections
import os
import shutil
import subprocess
import sys
import time

from acd.bench.probes import scrape
from acd.redis_server import stop_process


class BenchStartError(RuntimeError):
    """A piece of the bench did not start."""


def log_tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


class DaemonProcess:
    def __init__(self, config_path, log_path, http_port, log_level="INFO"):
        self.config_path, self.log_path = config_path, log_path
        self.http_port, self.log_level = http_port, log_level
        self.proc = None
        self.ready_after = None

    @property
    def pid(self):
        return self.proc.pid

    def start(self, timeout=120.0):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "acd", "run", "--config", self.config_path,
                 "--log-level", self.log_level],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchStartError(f"acd run exited with {self.proc.returncode}:\n"
                                      + log_tail(self.log_path))
            if (scrape(f"http://127.0.0.1:{self.http_port}/healthz", timeout=1) is not None
                    and (self.log_level != "INFO" or self._resynced())):
                self.ready_after = time.monotonic() - started
                return self
            time.sleep(0.2)
        self.stop()
        raise BenchStartError(f"acd run not healthy within {timeout:.0f} s:\n"
                              + log_tail(self.log_path))

    def _resynced(self):
        """The daemon's first resync is done (it syncs every agent again first: with 10,000
        agents that takes seconds, during which events wait in its inbox)."""
        try:
            with open(self.log_path, errors="replace") as f:
                return any(" acd.daemon: resynced: " in line for line in f)
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        stop_process(self.proc)


class Profiler:
    """``py-spy record`` of one process for ``duration`` seconds (raw collapsed stacks)."""

    def __init__(self, pid, path, duration, rate=200):
        self.path = path
        binary = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
        if not os.path.exists(binary):
            raise BenchStartError("--profile needs py-spy (pip install 'acd[bench]')")
        self.proc = subprocess.Popen(
            [binary, "record", "--pid", str(pid), "--duration", str(int(duration)),
             "--rate", str(rate), "--format", "raw", "--output", path, "--nonblocking"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait(self, timeout=60.0):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        stop_process(self.proc)
        if self.proc.stderr:
            self.proc.stderr.close()

    def stop(self):
        stop_process(self.proc)


def top_functions(path, limit=20):
    """From py-spy's raw output: ``{"samples", "self": [[frame, share]...], "total": [...]}``
    (share of all samples; ``total`` counts a frame once per stack it appears in)."""
    own, total, samples = collections.Counter(), collections.Counter(), 0
    try:
        with open(path, errors="replace") as f:
            for line in f:
                stack, _, count = line.rstrip("\n").rpartition(" ")
                if not stack or not count.isdigit():
                    continue
                frames = [_short(frame) for frame in stack.split(";")]
                n = int(count)
                samples += n
                own[frames[-1]] += n
                for frame in set(frames):
                    total[frame] += n
    except OSError:
        return None
    share = lambda c: [[frame, round(n / samples, 4)] for frame, n in c.most_common(limit)]  # noqa
    return {"samples": samples, "self": share(own) if samples else [],
            "total": share(total) if samples else []}


def _short(frame):
    """``func (/long/path/acd/router.py:123)`` -> ``func (acd/router.py:123)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("/site-packages/", "/acd/", "/lib/python"):
        if marker in where:
            head = "acd/" if marker == "/acd/" else ""
            where = head + where.rsplit(marker, 1)[1]
            break
    return f"{name} ({where})" if where else name
