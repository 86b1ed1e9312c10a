"""Private Redis groups for tests and the soak: a Sentinel-watched primary with a replica, and a
Redis Cluster -- real ``redis-server`` processes on free ports in temporary directories, never
a Redis we did not start (as acd.redis_server).

* :class:`SentinelGroup`: a primary, a replica (``--replicaof``) and three sentinels
  (``redis-server sentinel.conf --sentinel``, what Debian's ``redis-sentinel`` runs) watching
  it as ``service``, with a short ``down-after-milliseconds`` so a failover takes seconds.
  ``kill_primary()`` SIGKILLs the primary; ``wait_failover()`` waits until the sentinels name
  another one.
* :class:`ClusterGroup`: three primaries (``--cluster-enabled yes``), with a replica each if
  asked, joined with ``redis-cli --cluster create``. ``kill_primary_of(key)`` SIGKILLs the
  primary serving the key's slot; ``wait_failover()`` waits until a replica serves it.

``redis_section`` is the ``redis`` section of acd.yaml that reaches the group.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

from acd.redis_server import RedisServer, RedisStartError, free_port, stop_process


def _command(port, *words, timeout=1.0):
    """One RESP command to 127.0.0.1:port; the raw reply text ('' when it cannot connect)."""
    payload = f"*{len(words)}\r\n" + "".join(f"${len(w.encode())}\r\n{w}\r\n" for w in words)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(payload.encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                data += chunk
                if not chunk or len(chunk) < 65536:
                    return data.decode(errors="replace")
    except OSError:
        return ""


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RedisStartError(f"{what} within {timeout} s")


class _Sentinel:
    def __init__(self, binary, primary_port, service, down_after_ms, failover_timeout_ms):
        self.binary, self.port = binary, free_port()
        self.dir = tempfile.mkdtemp(prefix="acd-sentinel-")
        self.conf = os.path.join(self.dir, "sentinel.conf")
        with open(self.conf, "w") as f:
            f.write(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\ndaemonize no\n"
                    f"logfile {os.path.join(self.dir, 'sentinel.log')}\n"
                    f"sentinel monitor {service} 127.0.0.1 {primary_port} 2\n"
                    f"sentinel down-after-milliseconds {service} {down_after_ms}\n"
                    f"sentinel failover-timeout {service} {failover_timeout_ms}\n"
                    f"sentinel parallel-syncs {service} 1\n")
        self.proc = subprocess.Popen([binary, self.conf, "--sentinel"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: _command(self.port, "PING").startswith("+PONG"), 10,
              f"redis sentinel did not answer on {self.port}")

    def primary_port(self, service):
        reply = _command(self.port, "SENTINEL", "get-master-addr-by-name", service)
        lines = reply.split("\r\n")
        return int(lines[4]) if len(lines) > 4 and lines[4].isdigit() else None

    def stop(self):
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class SentinelGroup:
    def __init__(self, service="acd", down_after_ms=1000, failover_timeout_ms=3000):
        self.service = service
        self.down_after_ms, self.failover_timeout_ms = down_after_ms, failover_timeout_ms
        self.primary = self.replica = None
        self.sentinels = []

    def start(self):
        try:
            self.primary = RedisServer().start()
            self.replica = RedisServer(args=["--replicaof", "127.0.0.1", str(self.primary.port)]
                                       ).start()
            _wait(self._replica_in_sync, 15, "the replica did not sync with the primary")
            self.sentinels = [_Sentinel(self.primary.binary, self.primary.port, self.service,
                                        self.down_after_ms, self.failover_timeout_ms)
                              for _ in range(3)]
            _wait(self._sentinels_see_everything, 15, "the sentinels did not find each other")
        except BaseException:
            self.stop()
            raise
        return self

    def _replica_in_sync(self):
        return "master_link_status:up" in _command(self.replica.port, "INFO", "replication")

    def _sentinels_see_everything(self):
        for sentinel in self.sentinels:
            info = _command(sentinel.port, "INFO", "sentinel")
            if "slaves=1" not in info or "sentinels=3" not in info:
                return False
        return True

    @property
    def redis_section(self):
        return {"sentinels": [f"127.0.0.1:{s.port}" for s in self.sentinels],
                "service": self.service}

    def primary_port(self):
        """The port the sentinels name as primary (the first that answers)."""
        for sentinel in self.sentinels:
            port = sentinel.primary_port(self.service)
            if port:
                return port
        return None

    def kill_primary(self):
        """SIGKILL the primary; returns its port."""
        port = self.primary_port()
        server = self.primary if self.primary.port == port else self.replica
        server.kill()
        return port

    def wait_failover(self, old_port, timeout=30):
        """Wait until every sentinel names a primary other than ``old_port`` and it accepts
        writes; returns its port."""
        def promoted():
            ports = {s.primary_port(self.service) for s in self.sentinels}
            return (len(ports) == 1 and old_port not in ports and None not in ports and
                    "role:master" in _command(ports.pop(), "INFO", "replication"))
        _wait(promoted, timeout, "no failover")
        return self.primary_port()

    def stop(self):
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in (self.replica, self.primary):
            if server is not None:
                server.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class ClusterGroup:
    def __init__(self, primaries=3, replicas=0, node_timeout_ms=2000):
        self.count, self.replicas, self.node_timeout_ms = primaries, replicas, node_timeout_ms
        self.nodes = []

    def start(self):
        cli = os.environ.get("ACD_REDIS_CLI") or shutil.which("redis-cli")
        if not cli:
            raise RedisStartError("redis-cli not found (it comes with Debian's redis-tools, "
                                  "installed with redis-server)")
        try:
            for _ in range(self.count * (1 + self.replicas)):
                self.nodes.append(RedisServer(args=[
                    "--cluster-enabled", "yes", "--cluster-node-timeout", str(self.node_timeout_ms),
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-port", str(free_port())]).start())   # (default: port + 10000)
            created = subprocess.run(
                [cli, "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in self.nodes],
                 "--cluster-replicas", str(self.replicas), "--cluster-yes"], stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
            if created.returncode:
                raise RedisStartError("redis-cli --cluster create failed: "
                                      + created.stdout.decode(errors="replace")[-2000:])
            _wait(self._ok, 20, "the cluster did not become ok")
            _wait(self._replicas_ready, 20, "the replicas did not sync")
        except BaseException:
            self.stop()
            raise
        return self

    def _ok(self):
        return all("cluster_state:ok" in _command(n.port, "CLUSTER", "INFO") for n in self.nodes
                   if n.proc.poll() is None)

    def _replicas_ready(self):
        """Every replica synced, and known as a replica of its primary to every node (a
        replica fails over only then)."""
        replicas = 0
        for node in self.nodes:
            info = _command(node.port, "INFO", "replication")
            if "role:slave" in info:
                if "master_link_status:up" not in info:
                    return False
                replicas += 1
        return replicas == self.count * self.replicas and all(
            sum("slave" in line.split()[2] for line in _command(n.port, "CLUSTER", "NODES")
                .splitlines() if len(line.split()) >= 8) == replicas for n in self.nodes)

    def _live(self):
        return next(n for n in self.nodes if n.proc.poll() is None)

    def primary_of(self, key):
        """The port of the (healthy) primary serving ``key``'s slot, or None."""
        reply = _command(self._live().port, "CLUSTER", "KEYSLOT", key)
        slot = int(reply.strip().lstrip(":"))
        for line in _command(self._live().port, "CLUSTER", "NODES").splitlines():
            words = line.split()
            if len(words) < 9 or "master" not in words[2] or "fail" in words[2]:
                continue
            for served in words[8:]:
                low, _, high = served.partition("-")
                if low.isdigit() and int(low) <= slot <= int(high or low):
                    return int(words[1].split("@")[0].rpartition(":")[2])
        return None

    def kill_primary_of(self, key):
        """SIGKILL the primary serving ``key``; returns its port."""
        port = self.primary_of(key)
        next(n for n in self.nodes if n.port == port).kill()
        return port

    def wait_failover(self, key, old_port, timeout=30):
        """Wait until another primary serves ``key`` and the cluster is ok; its port."""
        _wait(lambda: self.primary_of(key) not in (None, old_port) and self._ok(), timeout,
              "no cluster failover")
        return self.primary_of(key)

    @property
    def redis_section(self):
        return {"cluster": [f"127.0.0.1:{n.port}" for n in self.nodes]}

    def stop(self):
        for node in self.nodes:
            node.stop()
        self.nodes = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
