"""``make fuzz``: each fuzz target for a fixed time budget (FUZZ_SECONDS, default 60 s each).

    python -m fuzz.run [--seconds N] [--seed N] [TARGET ...]

Targets: acd's ESL frame parser and the simulator's command reader and argument parsers
(fuzz/esl_targets.py), the HTTP API of a live ``acd run`` (fuzz/http_targets.py). A failure
prints the shrunk example and exits 1; a case found this way becomes a regular test in
tests/test_fuzz_regressions.py (part of ``make test``).
"""

import argparse
import os
import sys
import tempfile
import time

from fuzz import esl_targets
from fuzz.harness import run_for


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fuzz.run")
    parser.add_argument("--seconds", type=float,
                        default=float(os.environ.get("FUZZ_SECONDS", "60")),
                        help="budget per target (env FUZZ_SECONDS, default 60)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("targets", nargs="*",
                        help=f"default: all of {sorted(esl_targets.TARGETS) + ['http-api']}")
    args = parser.parse_args(argv)
    chosen = args.targets or sorted(esl_targets.TARGETS) + ["http-api"]
    failed = []
    for name in chosen:
        started = time.monotonic()
        try:
            examples = _run(name, args.seconds, args.seed)
        except Exception as exc:  # noqa: BLE001 - report each target's failure, run the rest
            failed.append(name)
            print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
            for note in getattr(exc, "__notes__", []):
                print(f"     {note}", flush=True)
            continue
        print(f"ok   {name}: {examples} examples in {time.monotonic() - started:.0f} s",
              flush=True)
    return 1 if failed else 0


def _run(name, seconds, seed):
    if name in esl_targets.TARGETS:
        return run_for(esl_targets.TARGETS[name], seconds, seed)
    if name != "http-api":
        raise SystemExit(f"unknown target {name!r}")
    from fuzz import http_targets
    with tempfile.TemporaryDirectory(prefix="acd-fuzz-") as tmp:
        api = http_targets.LiveApi(tmp)
        try:
            examples = run_for(http_targets.make_target(api), seconds, seed)
            api.wait_healthy(timeout=10)
            return examples
        except Exception:
            print("---- acd run's log (last lines) ----\n" + api.log_tail(), flush=True)
            raise
        finally:
            api.stop()


if __name__ == "__main__":
    sys.exit(main())
