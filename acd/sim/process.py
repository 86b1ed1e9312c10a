"""Run ``acd sim`` as a separate process (tests, demo, bench), the way one runs FreeSWITCH.

    with SimProcess(config_path) as sim:
        connect to sim.host, sim.port with sim.password
        sim.kill(); sim.start(port=sim.port)   # simulate a crash and restart on the same port
"""

import os
import select
import subprocess
import sys
import time


class SimStartError(RuntimeError):
    pass


class SimProcess:
    def __init__(self, config=None, password=None, host="127.0.0.1", env=None, log=None):
        """``log``: a file path for the simulator's log lines (default: inherit stderr)."""
        self.config = config
        self.password = password
        self.host = host
        self.port = None
        self.proc = None
        self.env = env
        self.log = log

    def start(self, port=0, timeout=20.0):
        cmd = [sys.executable, "-m", "acd", "sim", "--listen", f"{self.host}:{port}"]
        if self.config:
            cmd += ["--config", str(self.config)]
        if self.password is not None:
            cmd += ["--password", self.password]
        env = dict(os.environ, PYTHONUNBUFFERED="1", **(self.env or {}))
        log = open(self.log, "ab") if self.log else None
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=log, env=env)
        finally:
            if log is not None:
                log.close()
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.05)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith(b"listening on "):
                    host, _, p = line.decode().split()[-1].rpartition(":")
                    self.port = int(p)
                    return self
                if not line:
                    break
            if self.proc.poll() is not None:
                break
        self.stop()
        raise SimStartError(f"acd sim did not start (exit {self.proc.returncode}, "
                            f"last output {line!r})")

    def kill(self):
        """Die like a crashed FreeSWITCH: SIGKILL, no goodbye on any connection."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
