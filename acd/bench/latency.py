"""Decision latencies from the simulator's trace (``sim_trace dump``), and percentiles.

Theory of operation
-------------------
The trace is a time-ordered list of ``[kind, t, uuid, caller, queue]`` (see ``acd/sim/trace.py``).
Replaying it with the number of agents known, the pairing keeps who waits and how many agents are
busy (an agent leg is busy from its originate until its CHANNEL_HANGUP; the bench's agents have no
wrap-up, so a hung-up agent is free again):

* ``call_arrived``: a caller parks while there are more free agents than callers already waiting
  for an originate (so an agent is free for it); its latency ends when the first originate for
  that caller arrives.
* ``agent_freed``: an agent leg hangs up while more callers wait than there are free agents (so
  the freed agent is the one a waiting caller needs); its latency ends at the next originate for
  a waiting caller that did not arrive to a free agent (hangups paired oldest first).

Everything else (a caller who parks behind others, originates retried after a failed offer) is
not a decision latency and is not counted. ``ignore_queues`` leaves out callers of queues no agent
serves (the bench's backlog of waiting callers).
"""


def percentiles(values, points=(50, 95, 99)):
    """``{"count", "p50", "p95", "p99", "max", "mean"}`` in the values' unit (nearest rank)."""
    ordered = sorted(values)
    out = {"count": len(ordered)}
    if not ordered:
        return dict(out, **{f"p{p}": None for p in points}, max=None, mean=None)
    for p in points:
        rank = max(0, min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1))
        out[f"p{p}"] = ordered[rank]
    out["max"] = ordered[-1]
    out["mean"] = sum(ordered) / len(ordered)
    return out


def pair(records, agents, ignore_queues=()):
    """``{"call_arrived": [seconds...], "agent_freed": [seconds...]}`` from trace records."""
    waiting = {}        # caller uuid -> park time, in park order
    arrived = {}        # caller uuid -> park time, parked with an agent free
    freed = []          # hangup times of agents freed while callers waited, unpaired
    busy = 0
    out = {"call_arrived": [], "agent_freed": []}
    ignored = set()
    for kind, t, uuid, caller, queue in records:
        if kind == "park":
            if queue in ignore_queues:
                ignored.add(caller)
                continue
            if len(waiting) < agents - busy:
                arrived[caller] = t
            waiting[caller] = t
        elif kind == "originate":
            if caller in ignored:
                continue
            busy += 1
            if waiting.pop(caller, None) is None:
                continue                       # a retry, or a caller parked before the trace
            if caller in arrived:
                out["call_arrived"].append(t - arrived.pop(caller))
            elif freed:
                out["agent_freed"].append(t - freed.pop(0))
        elif kind == "agent-hangup":
            if len(waiting) > agents - busy:
                freed.append(t)
            busy = max(0, busy - 1)
        elif kind == "caller-hangup":
            waiting.pop(caller, None)
            arrived.pop(caller, None)
    return out
