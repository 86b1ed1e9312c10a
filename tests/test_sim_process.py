"""``acd sim`` as a program: its one stdout line, logs on stderr, password, config errors, signals."""

import os
import select
import signal
import subprocess
import sys

import pytest

from tests.rawesl import RawESL, connect


def start(*args, env=None):
    cmd = [sys.executable, "-m", "acd", "sim", "--listen", "127.0.0.1:0", *args]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, **(env or {})))


def listening_line(proc, timeout=20):
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "no 'listening on' line"
    return proc.stdout.readline().decode()


class _Sim:
    def __init__(self, host, port, password):
        self.host, self.port, self.password = host, port, password


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_only_the_listening_line_on_stdout_and_a_clean_exit(signum):
    proc = start()
    line = listening_line(proc)
    assert line.startswith("listening on 127.0.0.1:") and line.endswith("\n")
    port = int(line.strip().rsplit(":", 1)[1])
    client = connect(_Sim("127.0.0.1", port, "ClueCon"))
    assert client.api("version").startswith(b"FreeSWITCH Version 1.10.12")
    client.close()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert out == b""  # nothing after the listening line
    assert b"acd.sim" in err  # logs go to stderr


def test_password_option_replaces_the_config_password():
    proc = start("--password", "s3cret")
    try:
        port = int(listening_line(proc).strip().rsplit(":", 1)[1])
        bad = RawESL("127.0.0.1", port)
        assert bad.auth("ClueCon").header("Reply-Text") == "-ERR invalid"
        good = RawESL("127.0.0.1", port)
        assert good.auth("s3cret").header("Reply-Text") == "+OK accepted"
        good.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_config_errors_exit_2_with_file_key_and_problem(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text("users:\n  '1001': {answer-after: soon}\n")
    proc = start("--config", str(path))
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and out == b""
    assert err.decode().startswith("acd sim: %s: users.1001.answer-after: expected a number" % path)


def test_several_clients_at_once(sim):
    clients = [connect(sim) for _ in range(5)]
    for client in clients:
        client.send(b"api uuid_exists nope\n\n")
    assert [client.read_reply().body for client in clients] == [b"false"] * 5
    for client in clients:
        client.close()
