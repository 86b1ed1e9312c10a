"""The demo's live view: :class:`Tally` counts what the router decided (a Daemon observer), the
render functions turn the daemon's views and the tally into lines (pure: data in, lines out), and
:class:`Screen` draws them on the terminal's alternate screen. See acd/demo.py.
"""

import collections
import shutil

#: Seconds within which an answered call counts for the service level.
SL_THRESHOLD = 20.0
STATES = ("waiting", "reserved", "ringing", "in-call", "wrap-up")
STATUSES = ("available", "on-break", "logged-out")
SHORT_STRATEGY = {"longest-idle-agent": "longest-idle",
                  "sequentially-by-agent-order": "hunt (order)",
                  "agent-with-fewest-calls": "fewest-calls",
                  "agent-with-least-talk-time": "least-talk",
                  "ring-progressively": "progressive"}
AGENT_ROWS, AGENT_COLUMNS = 6, 3


# -- counting what the router decided -------------------------------------------------------------

class Tally:
    """Counts the router's decisions per queue; a Daemon observer: ``tally(what, call, agent,
    details)``. Answered calls count at the bridge (with their wait); the others at ``done``."""

    def __init__(self, threshold=SL_THRESHOLD):
        self.threshold = threshold
        self.offered, self.answered, self.abandoned = (collections.Counter() for _ in range(3))
        self.overflowed, self.ended_otherwise = collections.Counter(), collections.Counter()
        self.answered_in_time = 0       # answered within threshold
        self.abandoned_late = 0         # hung up after waiting longer than threshold
        self.total_wait = 0.0           # of answered calls

    def __call__(self, what, call, agent, details):
        if call is None:
            return
        if what == "enqueue":
            self.offered[call.queue] += 1
        elif what == "bridge":
            wait = float(details.get("wait", 0))
            self.answered[call.queue] += 1
            self.total_wait += wait
            self.answered_in_time += wait <= self.threshold
        elif what == "overflow":
            self.overflowed[details.get("from_queue", call.queue)] += 1
        elif what == "done":
            self._done(call.queue, details.get("result"), float(details.get("wait", 0)))

    def _done(self, queue, result, wait):
        if result == "abandoned":
            self.abandoned[queue] += 1
            self.abandoned_late += wait > self.threshold
        elif result != "answered":      # timed_out, exited, overflowed by transfer or hangup
            self.ended_otherwise[queue] += 1
            self.overflowed[queue] += result == "overflowed"

    def totals(self):
        return {name: sum(getattr(self, name).values()) for name in
                ("offered", "answered", "abandoned", "overflowed", "ended_otherwise")}

    def service_level(self):
        """Answered within threshold / (answered + abandoned after threshold), or None."""
        counted = sum(self.answered.values()) + self.abandoned_late
        return self.answered_in_time / counted if counted else None

    def average_wait(self):
        answered = sum(self.answered.values())
        return self.total_wait / answered if answered else None


# -- rendering (pure) -----------------------------------------------------------------------------

def _percent(value):
    return "-" if value is None else f"{value:.0%}"


def _secs(value):
    return "-" if value is None else f"{value:.1f} s"


def _clock(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _label(agent):
    if agent["state"] == "waiting" and agent["status"] != "available":
        return agent["status"]
    return agent["state"]


def _count(agents, key, names):
    found = collections.Counter(agent[key] for agent in agents)
    return "  ".join(f"{name} {found[name]}" for name in names)


def render_screen(queues, agents, tally, info):
    """The live view, one line per string, at most 80 columns, no ANSI. ``queues``/``agents`` as
    ``Service.queues_view()``/``agents_view()`` return them, ``tally`` a :class:`Tally`, ``info``:
    elapsed, rate, seed, api, token_file (and optional remaining)."""
    remaining = info.get("remaining")
    lines = [f"acd demo  up {_clock(info['elapsed'])}  {info['rate']:g} calls/s  seed "
             f"{info['seed']}  " + (f"ends in {remaining:.0f} s" if remaining else "Ctrl-C stops"),
             f"API {info['api']}  token in {info['token_file']}"]
    if info.get("desktop"):
        lines.append(f"desktop {info['desktop']}")
    lines.append("")
    row = "{:<10}{:<13}{:>7}{:>8}{:>7}{:>8}{:>9}{:>9}{:>9}"
    lines.append(row.format("queue", "strategy", "queued", "longest", "avail", "offered",
                            "answered", "abandon", "overflow"))
    for q in queues:
        longest = f"{q['longest_wait']:.0f} s" if q["waiting"] else "-"
        lines.append(row.format(
            q["name"][:9], SHORT_STRATEGY.get(q["strategy"], q["strategy"])[:12], q["waiting"],
            longest, f"{q['agents']['available']}/{q['agents']['total']}", tally.offered[q["name"]],
            tally.answered[q["name"]], tally.abandoned[q["name"]], tally.overflowed[q["name"]]))
    lines += ["", f"agents  {_count(agents, 'state', STATES)}",
              f"        {_count(agents, 'status', STATUSES)}"]
    cells = [f"{a['id']:<5.5} {a['name']:<8.8} {_label(a):<10}" for a in agents]
    shown = AGENT_ROWS * AGENT_COLUMNS
    if len(cells) > shown:
        cells[shown - 1:] = [f"... {len(cells) - shown + 1} more"]
    for i in range(0, len(cells), AGENT_COLUMNS):
        lines.append("  " + " ".join(cells[i:i + AGENT_COLUMNS]).rstrip())
    totals = tally.totals()
    lines += ["", f"calls   offered {totals['offered']}  answered {totals['answered']}  abandoned "
                  f"{totals['abandoned']}  overflowed {totals['overflowed']}  waiting now "
                  f"{sum(q['waiting'] for q in queues)}",
              f"service level {_percent(tally.service_level())} answered within "
              f"{tally.threshold:g} s   average wait {_secs(tally.average_wait())} (answered)",
              f"        (SL counts answered + abandoned after {tally.threshold:g} s; "
              "earlier abandons not)"]
    return lines


def render_line(queues, agents, tally, elapsed):
    """One ``key=value`` line (when stdout is not a terminal, or with --no-screen)."""
    totals, states = tally.totals(), collections.Counter(a["state"] for a in agents)
    waiting = " ".join(f"{q['name']}={q['waiting']}" for q in queues)
    longest = max((q["longest_wait"] for q in queues), default=0.0)
    on_break = sum(a["status"] == "on-break" for a in agents)
    return (f"t={elapsed:.0f}s waiting: {waiting} longest={longest:.0f}s | agents: idle="
            f"{states['waiting']} ringing={states['ringing'] + states['reserved']} in-call="
            f"{states['in-call']} wrap-up={states['wrap-up']} on-break={on_break} | offered="
            f"{totals['offered']} answered={totals['answered']} abandoned={totals['abandoned']} "
            f"overflowed={totals['overflowed']} sl{tally.threshold:g}="
            f"{_percent(tally.service_level())} avg_wait={_secs(tally.average_wait())}")


def render_summary(tally, elapsed):
    """The lines printed at the end."""
    t = tally.totals()
    open_calls = t["offered"] - t["answered"] - t["abandoned"] - t["ended_otherwise"]
    return [f"acd demo summary after {elapsed:.0f} s: offered {t['offered']}, answered "
            f"{t['answered']}, abandoned {t['abandoned']}, overflowed {t['overflowed']} "
            f"({open_calls} still waiting at the end)",
            f"service level {_percent(tally.service_level())} answered within "
            f"{tally.threshold:g} s (of answered + abandoned after {tally.threshold:g} s; earlier "
            f"abandons not counted), average wait {_secs(tally.average_wait())}"]


class Screen:
    """The terminal's alternate screen (left on exit, so what was printed before reappears);
    each frame is drawn from the top-left corner, clearing what the last one left."""

    def __init__(self, out):
        self.out = out
        out.write("\x1b[?1049h\x1b[?25l\x1b[2J")

    def draw(self, lines):
        columns, rows = shutil.get_terminal_size()
        body = "".join(line[:columns] + "\x1b[K\n" for line in lines[:rows - 1])
        self.out.write("\x1b[H" + body + "\x1b[J")
        self.out.flush()

    def close(self):
        self.out.write("\x1b[?25h\x1b[?1049l")
        self.out.flush()
