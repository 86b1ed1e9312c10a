# acd -- two commands on a fresh machine:  make demo   |   make test
# Everything else (venv, package, redis-server) is set up on demand.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: all test test-plain test-gevent check-watchers demo bench fuzz soak redis-server venv clean
.PHONY: promtool browser softphone

all: test

venv: $(STAMP)

# Create the virtualenv (installing Debian's python3-venv first when it is missing and we are root),
# then install acd with its test extras.
$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "acd needs Python >= 3.10 ($(PYTHON) is older)"; exit 1; }
	@if [ ! -x $(PY) ]; then \
	  $(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	    rm -rf $(VENV); \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      echo ">> installing python3-venv with apt-get"; \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null || \
	        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null; }; \
	      $(PYTHON) -m venv $(VENV); \
	    else \
	      echo "error: '$(PYTHON) -m venv' failed; install python3-venv (sudo apt-get install python3-venv)"; exit 1; \
	    fi; }; \
	fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

# The tests start their own private redis-server; this only makes sure the binary exists.
redis-server:
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo ">> installing redis-server with apt-get"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null; }; \
	    command -v redis-server >/dev/null || { echo "error: could not install redis-server"; exit 1; }; \
	  else \
	    echo "error: redis-server is not installed and we are not root: run 'sudo apt-get install redis-server'"; \
	    exit 1; \
	  fi; }

# promtool checks and unit-tests deploy/prometheus/acd-alerts.yml (tests/test_deploy.py). Debian's
# prometheus package ships it; only the binary is taken out of the package (installing it would
# also set up and start a Prometheus server) and put in /usr/local/bin.
promtool:
	@command -v promtool >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo ">> installing promtool from Debian's prometheus package"; \
	    tmp=$$(mktemp -d) && chmod 755 $$tmp && cd $$tmp && \
	    { apt-get download -q prometheus >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && apt-get download -q prometheus >/dev/null; }; } && \
	    dpkg-deb -x prometheus_*.deb root && install -m 0755 root/usr/bin/promtool /usr/local/bin/promtool; \
	    cd / && rm -rf $$tmp; \
	    command -v promtool >/dev/null || { echo "error: could not install promtool"; exit 1; }; \
	  else \
	    echo "error: promtool is not installed and we are not root: run 'sudo apt-get install prometheus'"; \
	    exit 1; \
	  fi; }

# The desktop's browser tests (tests/test_desktop.py) drive Debian's chromium through its
# chromium-driver with Selenium; no browser is ever downloaded.
browser:
	@{ command -v chromium >/dev/null && command -v chromedriver >/dev/null; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo ">> installing chromium and chromium-driver with apt-get"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }; \
	    { command -v chromium >/dev/null && command -v chromedriver >/dev/null; } || \
	      { echo "error: could not install chromium and chromium-driver"; exit 1; }; \
	  else \
	    echo "error: chromium is not installed and we are not root: run 'sudo apt-get install chromium chromium-driver'"; \
	    exit 1; \
	  fi; }

# The desktop's softphone library: JsSIP from the npm registry, pinned by web/package-lock.json
# (npm ci), bundled for the browser with the pinned esbuild into acd/http/static/vendor/ (git-ignored,
# not committed; the package data takes it when it is there). Without it the desktop runs without
# the softphone and says so.
SOFTPHONE := acd/http/static/vendor/jssip.min.js
softphone: $(SOFTPHONE)

$(SOFTPHONE): web/package.json web/package-lock.json
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo ">> installing npm with apt-get (it fetches the desktop's softphone library)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm >/dev/null; }; \
	  fi; \
	  command -v npm >/dev/null || { \
	    echo "error: npm is not installed; it fetches the desktop's softphone library (JsSIP)."; \
	    echo "       Install Node.js and npm (sudo apt-get install npm) and run make again."; exit 1; }; }
	cd web && npm ci --ignore-scripts --no-audit --no-fund
	@mkdir -p $(dir $@)
	web/node_modules/.bin/esbuild web/node_modules/jssip/lib/JsSIP.js --bundle --minify \
	  --format=iife --global-name=JsSIP --target=es2019 --log-level=warning --outfile=$@.tmp
	cp web/node_modules/jssip/LICENSE.md $(dir $@)jssip-LICENSE.md
	@mv $@.tmp $@

# The suite runs twice: as is, and under gevent monkey-patching (as the daemon runs).
test: test-plain test-gevent

test-plain: venv redis-server promtool browser softphone
	$(PY) -m pytest $(PYTEST_ARGS)

# --capture=sys: what C code writes to stderr (libev's and glibc's messages before an abort) goes
# straight to the terminal instead of into a capture file lost with the process.
test-gevent: venv redis-server promtool browser softphone
	ACD_TEST_GEVENT=1 $(PY) tests/run_patched.py --capture=sys $(PYTEST_ARGS)

# The gevent half on gevent's CFFI loop, failing on any libev I/O watcher left running on a closed
# fd (what aborted the gevent half: tests/watchers_guard.py). Slower; not part of `make test`.
check-watchers: venv redis-server promtool browser softphone
	PYTHONPATH=. GEVENT_LOOP=libev-cffi ACD_TEST_GEVENT=1 $(PY) tests/run_patched.py \
	  -p tests.watchers_guard --capture=sys $(PYTEST_ARGS)

# A whole call center on this machine: private redis-server, the FreeSWITCH simulator, the daemon,
# callers at a steady rate, a live view. Ctrl-C (or DEMO_ARGS='--duration 60') stops it.
DEMO_ARGS ?=
demo: venv redis-server softphone
	$(VENV)/bin/acd demo $(DEMO_ARGS)

# The ESL parser bench, then a representative `acd bench` run (load test with 10,000 agents at
# 100 and 300 calls/s plus 2,000 waiting callers, simulator ceiling, selection cost up to 100,000
# agents), then one queue order across two FreeSWITCH hosts (bench/bench_hosts.py). JSON under
# bench/results/. Override with BENCH_ARGS='--duration 60' (or ACD_BENCH_*).
BENCH_ARGS ?=
bench: venv redis-server
	@mkdir -p bench/results
	$(PY) bench/bench_parser.py --json bench/results/parser.json
	$(VENV)/bin/acd bench --agents 10000 --rate 100,300 --duration 30 --waiting 2000 \
	  --json bench/results/acd-bench.json $(BENCH_ARGS)
	$(PY) bench/bench_hosts.py --calls 1000 --rate 6 --agents 10 --json bench/results/hosts.json

# Fuzzing (fuzz/run.py): each target for FUZZ_SECONDS (default 60): the ESL parsers (acd's and the
# simulator's) and the HTTP API of a live acd run. Found cases become tests/test_fuzz_regressions.py.
FUZZ_SECONDS ?= 60
FUZZ_ARGS ?=
fuzz: venv redis-server
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(PY) -m fuzz.run $(FUZZ_ARGS)

# The soak (acd/bench/soak.py, python -m acd.bench.soak; minutes, not part of make test): two simulators, two daemons on one
# Redis, SOAK_RATE calls/s for SOAK_SECONDS with SOAK_AGENTS agents, faults on a schedule. Report
# and JSON under bench/results/. SOAK_ARGS='--sentinel' for the Redis failover in Sentinel mode,
# SOAK_ARGS='--rollback 1' for a Redis that goes back 1 s in time at each failover.
SOAK_SECONDS ?= 600
SOAK_RATE ?= 50
SOAK_AGENTS ?= 500
SOAK_ARGS ?=
soak: venv redis-server
	@mkdir -p bench/results
	$(PY) -m acd.bench.soak --duration $(SOAK_SECONDS) --rate $(SOAK_RATE) --agents $(SOAK_AGENTS) \
	  --json bench/results/soak-$$(date +%Y%m%d-%H%M).json $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info web/node_modules acd/http/static/vendor
