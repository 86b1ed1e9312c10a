"""Start and stop a private ``redis-server`` (tests, ``acd demo``, ``acd bench``).

It binds 127.0.0.1 on a free port, keeps its files in a fresh temporary directory,
persists nothing, and is stopped (and its directory removed) by ``stop()``. It never
touches a Redis it did not start.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time


class RedisStartError(RuntimeError):
    """redis-server is missing or did not come up."""


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def stop_process(proc, timeout=5.0):
    """SIGTERM, and SIGKILL if it is still there after ``timeout`` s (None or ended: nothing)."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class RedisServer:
    def __init__(self, binary=None, host="127.0.0.1", args=()):
        """``args``: more redis-server options (``--replicaof``, ``--cluster-enabled``: see
        acd/redis_ha.py)."""
        self.binary = binary or os.environ.get("ACD_REDIS_SERVER") or shutil.which("redis-server")
        self.host = host
        self.args = list(args)
        self.port = None
        self.dir = None
        self.proc = None

    @property
    def url(self):
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout=10.0, port=None):
        if not self.binary or not os.path.exists(self.binary):
            raise RedisStartError(
                "redis-server not found (install it: apt-get install redis-server, "
                "or set ACD_REDIS_SERVER to its path); `make test` installs it when run as root")
        self.dir = self.dir or tempfile.mkdtemp(prefix="acd-redis-")
        self.port = port or free_port(self.host)
        args = [self.binary, "--bind", self.host, "--port", str(self.port), "--dir", self.dir,
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--protected-mode", "yes", "--logfile", os.path.join(self.dir, "redis.log")]
        args += self.args
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")
                log = self._log_tail()
                self.stop()
                raise RedisStartError(f"redis-server exited with {self.proc.returncode}: {err}{log}")
            if self._ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RedisStartError(f"redis-server did not answer PING on {self.host}:{self.port} "
                              f"within {timeout} s")

    def _ping(self):
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def _log_tail(self):
        try:
            with open(os.path.join(self.dir, "redis.log"), errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self):
        stop_process(self.proc)
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def kill(self):
        """SIGKILL: the server dies at once (its directory stays until ``stop()``)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, snapshot=False):
        """Die (SIGKILL) and come back on the same port: empty (no persistence), or with
        ``snapshot`` from the last ``SAVE``'s dump.rdb, without what was written after it --
        what a restart with RDB persistence, or a failover to a replica that lagged, loses."""
        port = self.port
        self.kill()
        if snapshot:
            if self.proc and self.proc.stderr:
                self.proc.stderr.close()
        else:
            self.stop()
        return self.start(port=port)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
