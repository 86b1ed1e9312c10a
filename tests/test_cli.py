"""The ``acd`` command line: entry points, version, help, option errors."""

import subprocess
import sys

import acd
from acd.cli import main


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "acd", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_version_and_help():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"acd {acd.__version__}"
    result = run("--help")
    assert result.returncode == 0 and "sim" in result.stdout


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: acd" in capsys.readouterr().out


def test_bad_listen_address_is_a_clear_error():
    result = run("sim", "--listen", "localhost")
    assert result.returncode == 2 and "expected HOST:PORT" in result.stderr


def test_listen_from_environment(monkeypatch):
    import os
    env = dict(os.environ, ACD_SIM_LISTEN="nonsense")
    result = run("sim", env=env)
    assert result.returncode == 2 and "expected HOST:PORT, got 'nonsense'" in result.stderr
