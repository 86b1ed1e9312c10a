"""Recording with consent in Redis: the audit trail, each call's recording state, the agents'
consent (docs/recording.md).

Theory of operation
-------------------
* The **audit trail** is one append-only stream (``Keys.recording_audit``): acd only appends
  (XADD, never trimmed, never edited); each entry is one step -- consent asked, given,
  declined, timed out, revoked; recording started, paused, resumed, stopped, deleted, not
  started -- with the call, queue, agent, purpose, file and time. Each call's entry ids are
  also listed under the call (``Keys.recording_audit_call``): ``acd recordings show`` is one
  LRANGE plus the entries, not a scan.
* A call's **recording state** (``Keys.recording``) changes only together with the audit
  entry that explains it (``lua/recording/step.lua``): a restarted daemon reads it back, and
  there is never a state -- or a file -- without its entry. Calls with a state are listed in
  ``Keys.recordings`` until their recording ended.
* An **agent's consent** (``Keys.agent_consent``) is given or withdrawn with its audit entry
  (``lua/recording/agent_consent.lua``).

Times are passed in (``now``, epoch seconds).
"""

import datetime

from acd.store.scripted import ScriptedStore


class RecordingStore(ScriptedStore):
    folder = "recording"

    # -- steps --------------------------------------------------------------------------------

    def step(self, call_uuid, now, audit, state=None, live=""):
        """Append ``audit`` (a dict; ``call`` and ``time`` added) and set ``state`` fields of
        the call's recording; ``live``: "add" / "remove" (also drops the state). Returns the
        entry id."""
        entry = _entry(dict(audit, call=call_uuid), now)
        pairs = [str(x) for kv in entry.items() for x in kv]
        state_pairs = [str(x) for kv in (state or {}).items() for x in kv]
        return self._scripts["step"](
            keys=[self.keys.recording_audit, self.keys.recording_audit_call(call_uuid),
                  self.keys.recording(call_uuid), self.keys.recordings],
            args=[call_uuid, now, live, len(entry)] + pairs + state_pairs)

    def state(self, call_uuid):
        """The call's recording state (a dict; empty when none)."""
        return self.redis.hgetall(self.keys.recording(call_uuid))

    def drop(self, call_uuid):
        """The call is over: its recording state goes (its audit trail stays)."""
        pipe = self.redis.pipeline()
        pipe.zrem(self.keys.recordings, call_uuid)
        pipe.delete(self.keys.recording(call_uuid))
        pipe.execute()

    def live(self):
        """Call uuids with a recording state."""
        return self.redis.zrange(self.keys.recordings, 0, -1)

    # -- agents' consent ----------------------------------------------------------------------

    def set_agent_consent(self, agent_id, consent, now, by):
        audit = _entry({"step": "agent-consent-given" if consent else "agent-consent-withdrawn",
                        "agent": agent_id, "by": by, "how": "desktop"}, now)
        pairs = [str(x) for kv in audit.items() for x in kv]
        return self._scripts["agent_consent"](
            keys=[self.keys.agent_consent(agent_id), self.keys.recording_audit],
            args=["1" if consent else "0", now, by] + pairs)

    def agent_consent(self, agent_id):
        """(consent, at epoch or None): no consent until the agent gave it."""
        raw = self.redis.hgetall(self.keys.agent_consent(agent_id))
        return raw.get("consent") == "1", float(raw["at"]) if raw.get("at") else None

    # -- the auditor's queries ----------------------------------------------------------------

    def audit(self, start=None, end=None, count=None):
        """Audit entries (id, fields) between epoch seconds ``start`` and ``end``."""
        low = "-" if start is None else str(int(start * 1000))
        high = "+" if end is None else str(int(end * 1000))
        return self.redis.xrange(self.keys.recording_audit, low, high, count=count)

    def audit_of(self, call_uuid):
        """Every audit entry of one call, in order."""
        ids = self.redis.lrange(self.keys.recording_audit_call(call_uuid), 0, -1)
        pipe = self.redis.pipeline()
        for entry_id in ids:
            pipe.xrange(self.keys.recording_audit, entry_id, entry_id)
        return [found[0] for found in pipe.execute() if found]


def _entry(fields, now):
    """An audit entry: every value as text, no empty ones, and the time twice."""
    entry = {k: str(v) for k, v in fields.items() if v not in (None, "")}
    entry.update(time=iso_utc(now), time_epoch=f"{now:.3f}")
    return entry


def iso_utc(epoch):
    """Epoch seconds -> ``2027-01-15T08:00:00.000Z``."""
    moment = datetime.datetime.fromtimestamp(float(epoch), datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
