"""acd as users install it: the sdist and the wheel built from it, the wheel installed into a
fresh venv outside the source tree, and the installed ``acd`` run for real.

``pip install -e`` (what ``make test`` uses) reads the source tree, so a module or data file
missing from the package would never show there: acd.core once had no ``__init__.py`` and every
installed acd died at import. These tests catch that whole class of defect: a package, a Lua
script, the simulator's default world, a static file left out of the sdist or the wheel.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile

import pytest

from tests import rawesl

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _run(*cmd, cwd, timeout=600, **kw):
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, **kw)
    assert done.returncode == 0, f"{cmd} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def _package_files():
    """Every file of the acd package in the source tree (what git tracks, else what is there)."""
    try:
        listed = subprocess.run(["git", "ls-files", "acd"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        listed = [str(p.relative_to(ROOT)) for p in (ROOT / "acd").rglob("*") if p.is_file()]
    return sorted(f for f in listed if "__pycache__" not in f and not f.endswith(".pyc"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sdist, then the wheel built FROM the sdist (as pip does for a user without a wheel)."""
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT, cwd=out)
    [sdist] = out.glob("acd-*.tar.gz")
    [wheel] = out.glob("acd-*.whl")
    return sdist, wheel


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory):
    """A fresh venv, outside the source tree, with the wheel (and its dependencies) installed."""
    _, wheel = built
    home = tmp_path_factory.mktemp("user")
    venv = home / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=home)
    _run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
         wheel, cwd=home)
    return venv, home


def test_the_sdist_holds_the_package_tests_and_docs(built):
    sdist, _ = built
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    missing = [f for f in _package_files() if f not in names]
    assert not missing, f"package files missing from the sdist: {missing}"
    for needed in ("README.md", "Makefile", "setup.cfg", "pyproject.toml", "MANIFEST.in",
                   "docs/config.md", "freeswitch/dialplan/acd.xml", "tests/conftest.py",
                   "tests/data/agent_answer.recv", "tests/data/hold_unhold.recv",
                   "deploy/prometheus/acd-alerts.yml", "deploy/systemd/acd.service",
                   "deploy/systemd/acd.sysusers", "CHANGELOG.md", "docs/operations.md",
                   "tests/data/callcenter/stock.conf.xml"):
        assert needed in names, f"{needed} missing from the sdist"
    assert not any("__pycache__" in n or n.startswith("bench/results") for n in names)


def test_the_wheel_holds_every_package_file(built):
    _, wheel = built
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    missing = [f for f in _package_files() if f not in names]
    assert not missing, f"package files missing from the wheel: {missing}"
    assert not any(n.startswith("tests/") for n in names)
    # what is there but not tracked counts too: Lua scripts in any subfolder, and the desktop's
    # static files with the softphone's bundle (git-ignored, made by make softphone)
    present = [str(p.relative_to(ROOT)) for folder in ("acd/store/lua", "acd/http/static")
               for p in (ROOT / folder).rglob("*") if p.is_file()]
    assert any("/lua/cti/" in f for f in present) and any("/static/" in f for f in present)
    missing = [f for f in present if f not in names]
    assert not missing, f"Lua scripts or static files missing from the wheel: {missing}"


def test_installed_acd_runs_outside_the_source_tree(installed, redis_server):
    venv, home = installed
    acd = venv / "bin" / "acd"
    python = venv / "bin" / "python"
    where = _run(python, "-c", "import acd, acd.core.model, acd.store; print(acd.__file__)",
                 cwd=home).stdout.strip()
    assert str(ROOT) not in where and str(venv) in where, where
    version = _run(acd, "--version", cwd=home).stdout.strip()
    tree = _run(sys.executable, "-c", "import acd; print(acd.__version__)", cwd=ROOT).stdout
    assert version == f"acd {tree.strip()}"
    assert f"## [{tree.strip()}]" in (ROOT / "CHANGELOG.md").read_text()

    stock = ROOT / "tests" / "data" / "callcenter" / "stock_examples.conf.xml"
    imported = _run(acd, "import-callcenter", stock, cwd=home)
    (home / "imported.yaml").write_text(imported.stdout)
    assert "1000@default" in imported.stdout
    _run(acd, "check-config", "imported.yaml", cwd=home)

    doc = (ROOT / "docs" / "config.md").read_text()
    example = doc.split("## Example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (home / "acd.yaml").write_text(example)
    checked = _run(acd, "check-config", "acd.yaml", cwd=home,
                   env=dict(os.environ, ACD_ESL_PASSWORD="x", ACD_ADMIN_TOKEN="y"))
    assert checked.stdout.startswith("acd.yaml: OK")

    sim = subprocess.Popen([acd, "sim", "--listen", "127.0.0.1:0"], cwd=home, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    daemon = None
    try:
        line = sim.stdout.readline()
        assert line.startswith("listening on "), (line, sim.stderr.read() if sim.poll() else "")
        sim_port = int(line.rsplit(":", 1)[1])
        esl = rawesl.RawESL("127.0.0.1", sim_port)
        esl.auth("ClueCon")   # the default world (acd/sim/default.yaml, from the package)
        status = esl.api("status").decode()
        assert status.startswith("UP ") and "FreeSWITCH" in status
        esl.close()

        http_port = _free_port()
        (home / "run.yaml").write_text(json.dumps({
            "freeswitch": {"host": "127.0.0.1", "port": sim_port, "password": "ClueCon"},
            "redis": {"url": redis_server.url, "prefix": "installed"},
            "http": {"listen": f"127.0.0.1:{http_port}", "admin-token": "install-test"},
            "agents": [{"id": "1001", "contact": "user/1001"}],
            "queues": [{"name": "support", "tiers": [{"agent": "1001"}]}]}))
        daemon = subprocess.Popen([acd, "run", "--config", "run.yaml"], cwd=home, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        health = _wait_healthy(http_port, daemon)
        assert health["status"] == "ok" and health["checks"]["esl"]["ok"], health
        # the desktop's static files, from the installed package
        pages = [("/", b"agent desktop"), ("/wallboard", b"wallboard"),
                 ("/static/desktop.js", b"call.offered"), ("/static/acd.css", b"--accent")]
        if (ROOT / "acd/http/static/vendor/jssip.min.js").exists():   # make softphone ran
            pages.append(("/static/vendor/jssip.min.js", b"JsSIP"))
        for path, wanted in pages:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}{path}", timeout=5) as r:
                assert r.status == 200 and wanted in r.read(), path
    finally:
        for proc in (daemon, sim):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)
    output = daemon.stdout.read()
    assert "Traceback" not in output and "MonkeyPatchWarning" not in output, output


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(port, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"acd run exited {proc.returncode}:\n{proc.stdout.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return json.loads(resp.read())
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"/healthz never answered 200: {last}")
