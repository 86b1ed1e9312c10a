"""Benchmark: ESL event parsing speed (target: >= 20,000 typical ~150-header CHANNEL events/s on one core).

What is measured, on real FreeSWITCH 1.10.12 events from tests/data (the ~150-header CHANNEL_*
events, SIP and loopback legs):

* ``reader``: the client's whole receive path -- FrameParser.feed() over a byte stream of event
  frames, then Event.from_frame() for each (split, URL-decode every value, build the immutable
  event). Values repeat across a real stream (host, caller, SDP), so the decode cache helps.
* ``reader-cold``: the same with the decode cache emptied before every event (worst case: every
  value seen for the first time).
* ``greenswitch``: greenswitch 0.0.19's ESLEvent parsing of the same bodies, for the ratio (it
  also decodes wrongly; only its speed is compared).

Each figure is the median of several rounds of CPU time (``time.process_time``), so a busy
machine slows the wall clock but not the figure much. Run: ``make bench`` or
``python bench/bench_parser.py [--rounds N] [--json FILE]``.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from acd.esl import protocol  # noqa: E402
from acd.esl.protocol import Event, FrameParser  # noqa: E402

DATA = ROOT / "tests" / "data"


def typical_events(low=140, high=170):
    """Raw event frames (bytes) of CHANNEL_* events with low..high headers, from all captures."""
    frames = []
    for path in sorted(DATA.glob("*.recv")):
        data = path.read_bytes()
        for frame in FrameParser().feed(data):
            if frame.content_type != "text/event-plain":
                continue
            lines = frame.body.split(b"\n\n", 1)[0].count(b"\n") + 1
            if low <= lines <= high and frame.body.startswith(b"Event-Name: CHANNEL_"):
                frames.append(b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s"
                              % (len(frame.body), frame.body))
    return frames


#: What acd's ESL handlers read from a channel event (routing core glue, issue "ACD core").
ACD_READS = ("Unique-ID", "Channel-Call-UUID", "Answer-State", "Channel-State",
             "Caller-Caller-ID-Number", "Caller-Caller-ID-Name", "Caller-Destination-Number",
             "Call-Direction", "Hangup-Cause", "Other-Leg-Unique-ID", "variable_acd_queue",
             "variable_acd_role", "variable_acd_priority", "Event-Date-Timestamp")


def run_reader(stream, cold=False, everything=False):
    """Frame + event + the reads acd's handlers make (or every header, ``everything``)."""
    parser = FrameParser()
    cache = protocol._decode_cache
    count = 0
    t0 = time.process_time()
    for frame in parser.feed(stream):
        if cold:
            cache.clear()
        event = Event.from_frame(frame)
        if everything:
            dict(event.headers)
        else:
            for name in ACD_READS:
                event.get(name)
        count += 1
    return count, time.process_time() - t0


def run_greenswitch(bodies):
    from greenswitch.esl import ESLEvent
    t0 = time.process_time()
    for body in bodies:
        ESLEvent(body.decode())
    return len(bodies), time.process_time() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--repeat", type=int, default=60, help="copies of the event set per round")
    ap.add_argument("--json", help="write the results as JSON to this file")
    args = ap.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    frames = typical_events()
    headers = [f.split(b"\n\n", 2)[1].count(b"\n") + 1 for f in frames]
    stream = b"".join(frames) * args.repeat
    bodies = [f.split(b"\n\n", 1)[1] for f in frames] * args.repeat
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {_cpu_model()}",
        "python": platform.python_version(),
        "events_in_set": len(frames),
        "headers_per_event_median": statistics.median(headers),
        "bytes_per_event_median": statistics.median(len(f) for f in frames),
        "rounds": args.rounds,
    }
    variants = {
        "reader": lambda: run_reader(stream),
        "reader-cold": lambda: run_reader(stream, cold=True),
        "all-headers": lambda: run_reader(stream, everything=True),
        "all-headers-cold": lambda: run_reader(stream, cold=True, everything=True),
        "greenswitch": lambda: run_greenswitch(bodies),
    }
    rates = {name: [] for name in variants}
    for _ in range(args.rounds):  # interleaved, so a noisy moment hits every variant alike
        for name, fn in variants.items():
            count, seconds = fn()
            rates[name].append(count / seconds)
    for name, values in rates.items():
        results[name] = {"events_per_s_median": round(statistics.median(values)),
                         "min": round(min(values)), "max": round(max(values))}
    ratios = [a / b for a, b in zip(rates["reader"], rates["greenswitch"])]
    results["speedup_vs_greenswitch"] = round(statistics.median(ratios), 2)
    results["full_parse_vs_greenswitch"] = round(statistics.median(
        [a / b for a, b in zip(rates["all-headers"], rates["greenswitch"])]), 2)
    results["load_average"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    results["target_events_per_s"] = 20000
    results["target_met"] = results["reader"]["events_per_s_median"] >= 20000

    print(f"ESL event parsing, {results['events_in_set']} typical CHANNEL events "
          f"(median {results['headers_per_event_median']} headers, "
          f"{results['bytes_per_event_median']} bytes), one core, CPU time, median of {args.rounds}")
    for name in ("reader", "reader-cold", "all-headers", "all-headers-cold", "greenswitch"):
        r = results[name]
        print(f"  {name:12s} {r['events_per_s_median']:>8,} events/s  "
              f"(min {r['min']:,}, max {r['max']:,})")
    print(f"  per-round ratios to greenswitch: reader {results['speedup_vs_greenswitch']}x, "
          f"all headers {results['full_parse_vs_greenswitch']}x")
    print(f"  target 20,000/s "
          f"(reader: frame + event + the {len(ACD_READS)} headers acd reads): "
          f"{'met' if results['target_met'] else 'NOT met'}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def _cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
