"""Recording only with consent: when a call is recorded, paused, stopped and deleted.

Theory of operation
-------------------
Everything here runs in the daemon's routing greenlet: the IVR reports the caller's answer
(:meth:`Recordings.caller_asked` / :meth:`Recordings.caller_answered`), the router's decisions
arrive as an observer (``bridge``: a conversation starts, ``call-ended``: it ends, also for a
transfer), the caller's DTMF on the bridged call through :meth:`Recordings.on_dtmf`, the agent's
desktop through :meth:`Recordings.control` (posted by the HTTP layer), hangups and ticks from
the daemon. A call's recording is in one of the states of :data:`TRANSITIONS`; the table is
the only way between them:

* ``idle`` -- nothing is being recorded (the caller's answer is kept with the call);
* ``recording`` -- ``uuid_record start`` was sent; ``paused`` -- ``mask``ed: silent in the file;
* ``revoked`` -- a party revoked: never recorded again in this call.

A recording starts at a bridge only when both consents hold at that moment: the caller
``accepted`` for this queue's purpose, and the agent's consent is on record
(acd.store.recording). Otherwise the call is not recorded and the audit says why. Every step is
first written to the audit trail together with the new state (one Lua step), then sent to
FreeSWITCH: the trail can show a recording that failed to start, never a file without its entry.

The file is written by FreeSWITCH on the caller's channel (``RECORD_STEREO``: the caller left,
the agent right). A revoked recording is stopped at once and, with ``on-revoke: delete``,
deleted on the switch host (``system rm -f -- PATH``, then ``file_exists`` checked) and both
parties hear ``revoked-sound``. A kept recording gets a sidecar ``<file>.json`` (consents,
purpose) written by acd at the same path: acd and FreeSWITCH must share the recordings
directory (docs/recording.md).
"""

import datetime
import json
import logging
import os

import gevent

from acd.config_recording import SAFE_PATH
from acd.esl import commands as cmd

log = logging.getLogger("acd.recording")
decisions = logging.getLogger("acd.decisions")

IDLE, RECORDING, PAUSED, REVOKED = "idle", "recording", "paused", "revoked"
#: (state, event) -> next state; anything else is refused (:class:`NotNow`).
TRANSITIONS = {
    (IDLE, "start"): RECORDING, (RECORDING, "pause"): PAUSED, (PAUSED, "resume"): RECORDING,
    (RECORDING, "stop"): IDLE, (PAUSED, "stop"): IDLE,
    (IDLE, "revoke"): REVOKED, (RECORDING, "revoke"): REVOKED, (PAUSED, "revoke"): REVOKED,
}
#: The caller's answers (``consent-<answer>`` in the audit trail).
ACCEPTED, DECLINED, TIMEOUT = "accepted", "declined", "timeout"
#: Seconds between two digits of revoke-digits before the caller starts again.
DIGIT_GAP = 3.0


class NotNow(Exception):
    """A request that the recording's state does not allow (HTTP 409)."""
    status = 409


class CallRecording:
    """One caller's recording state (mirrored in Redis: acd.store.recording)."""

    def __init__(self, uuid, queue="", purpose="", caller="", caller_at=None, state=IDLE,
                 path="", agent="", segment=0, started_at=None, **_):
        self.uuid, self.queue, self.purpose = uuid, queue, purpose
        self.caller, self.caller_at = caller, _float(caller_at)
        self.state, self.path, self.agent = state, path, agent
        self.segment, self.started_at = int(segment or 0), _float(started_at)
        self.paused_at = None
        self.pauses = []            # [(from, to)] of the current file
        self.digits, self.digit_at = "", 0.0

    def move(self, event):
        new = TRANSITIONS.get((self.state, event))
        if new is None:
            raise NotNow(f"the recording of call {self.uuid} is {self.state}: cannot {event}")
        self.state = new
        return new

    def as_state(self):
        return {"queue": self.queue, "purpose": self.purpose, "caller": self.caller,
                "caller_at": self.caller_at or "", "state": self.state, "path": self.path,
                "agent": self.agent, "segment": self.segment, "started_at": self.started_at or ""}


class Recordings:
    """``router``: acd.router.Router (its decisions, calls and ESL); ``store``: an
    acd.store.recording.RecordingStore."""

    def __init__(self, config, router, store, esl, clock, post):
        self.config, self.router, self.store = config, router, store
        self.esl, self.clock, self.post = esl, clock, post
        self.calls = {}             # caller uuid -> CallRecording

    def policy(self, queue_name):
        """The queue's recording config when it records with consent, else None."""
        if not self.config.has_queue(queue_name):
            return None
        rec = self.config.queue(queue_name).recording
        return rec if rec.consent else None

    # -- steps: the audit entry and the state together ----------------------------------------

    def _step(self, rec, step, what=None, live="", **details):
        now = self.clock()
        audit = {"step": step, "queue": rec.queue, "agent": rec.agent, "purpose": rec.purpose,
                 "path": rec.path if step.startswith("recording") else "", **details}
        kept = rec.uuid in self.calls and live != "remove"   # a call that is over keeps none
        self.store.step(rec.uuid, now, audit, rec.as_state() if kept else None, live)
        shown = " ".join(f"{k}={v}" for k, v in details.items() if v)
        log.info("audit %s call=%s queue=%s agent=%s %s", step, rec.uuid, rec.queue,
                 rec.agent or "-", shown)
        if what is not None:  # a decision line and the observers (metrics, CTI events)
            decisions.info("%s call=%s queue=%s agent=%s %s", what, rec.uuid, rec.queue,
                           rec.agent or "-", shown)
            self.router._observe(what, self.router.calls.get(rec.uuid), rec.agent or "-",
                                 {"call_uuid": rec.uuid, "queue": rec.queue, "path": rec.path,
                                  "purpose": rec.purpose,
                                  **{k: v for k, v in details.items() if v}})
        return now

    def _get(self, uuid):
        rec = self.calls.get(uuid)
        if rec is None:
            state = self.store.state(uuid)
            if state:
                rec = self.calls[uuid] = CallRecording(uuid, **state)
        return rec

    # -- the caller's consent (acd.ivr asks) --------------------------------------------------

    def caller_asked(self, uuid, queue_name):
        policy = self.policy(queue_name)
        rec = self.calls[uuid] = CallRecording(uuid, queue_name, policy.purpose)
        rec.caller = "asked"
        self._step(rec, "consent-asked", live="add", by="caller",
                   announcement=policy.announcement)

    def caller_answered(self, uuid, answer):
        rec = self._get(uuid)
        if rec is None:
            return
        rec.caller, rec.caller_at = answer, self.clock()
        self._step(rec, f"consent-{answer}", "recording-consent", by="caller", how="dtmf",
                   result=answer)

    # -- the router's decisions ---------------------------------------------------------------

    def observe(self, what, call, agent, details):
        if call is None:
            return
        if what == "bridge":
            self.bridged(call.uuid, call.queue, agent)
        elif what == "call-ended":
            self.ended(call.uuid, details.get("why", ""))

    def bridged(self, uuid, queue_name, agent):
        policy = self.policy(queue_name)
        rec = self._get(uuid)
        if policy is None and rec is None:
            return  # a queue that does not record, and no consent was asked
        if rec is None:
            rec = self.calls[uuid] = CallRecording(uuid, queue_name, policy.purpose)
        if rec.state in (RECORDING, PAUSED) and rec.agent == agent:
            return  # a repeated fact (a restarted daemon recovering the call)
        rec.agent = agent
        why = self._why_not(rec, policy, agent)
        if why:
            self._step(rec, "not-recorded", "recording-not-started", live="add", reason=why)
            return
        self._start(rec, policy)

    def _why_not(self, rec, policy, agent):
        if rec.state == REVOKED:
            return "revoked"
        if policy is None:
            return "queue-does-not-record"
        if rec.caller != ACCEPTED:
            return {DECLINED: "caller-declined", TIMEOUT: "caller-timeout"}.get(
                rec.caller, "caller-not-asked")
        if policy.purpose != rec.purpose:
            return "purpose-differs"
        if not self.store.agent_consent(agent)[0]:
            return "agent-no-consent"
        return ""

    def _start(self, rec, policy):
        rec.segment += 1
        try:
            rec.path = self.path_for(policy, rec)
        except ValueError as exc:
            self._step(rec, "not-recorded", "recording-not-started", reason="bad-path")
            log.error("call %s: %s", rec.uuid, exc)
            return
        rec.move("start")
        rec.started_at, rec.pauses = self.clock(), []
        self._step(rec, "recording-started", "recording-started", live="add",
                   agent_consent_at=_iso(self.store.agent_consent(rec.agent)[1]),
                   caller_consent_at=_iso(rec.caller_at))
        if policy.stereo:
            self.esl.fire(cmd.uuid_setvar(rec.uuid, "RECORD_STEREO", "true"), call=rec.uuid)
        self.esl.fire(cmd.uuid_record(rec.uuid, "start", rec.path), call=rec.uuid)

    def path_for(self, policy, rec):
        """The file of this recording: the template expanded; the call's second and later
        recordings (after a transfer) get ``-2``, ``-3`` ... before the extension."""
        day = datetime.datetime.fromtimestamp(self.clock(), datetime.timezone.utc).date()
        path = policy.path_template.format(date=day.isoformat(), call_uuid=rec.uuid,
                                           queue=rec.queue, agent=rec.agent)
        if rec.segment > 1:
            stem, dot, ext = path.rpartition(".")
            path = f"{stem}-{rec.segment}.{ext}" if dot and "/" not in ext else \
                f"{path}-{rec.segment}"
        if not SAFE_PATH.match(path) or "/../" in path:
            raise ValueError(f"unsafe recording path {path!r}")
        return path

    def ended(self, uuid, why):
        """The conversation ended (hangup, transfer): a running recording is complete."""
        rec = self.calls.get(uuid)
        if rec is None or rec.state not in (RECORDING, PAUSED):
            return
        self._stop(rec, why or "ended")

    def _stop(self, rec, reason):
        if rec.state == PAUSED:
            rec.pauses.append((rec.paused_at, self.clock()))
        rec.move("stop")
        self.esl.fire(cmd.uuid_record(rec.uuid, "stop", rec.path), call=rec.uuid)
        now = self._step(rec, "recording-stopped", "recording-stopped", reason=reason)
        self._sidecar(rec, now)

    # -- revocation, pause and resume ---------------------------------------------------------

    def on_dtmf(self, call, digit):
        """A digit of the caller on the bridged call: revoke-digits revoke."""
        rec = self.calls.get(call.uuid)
        policy = self.policy(rec.queue) if rec is not None else None
        if policy is None or rec.state == REVOKED or not digit:
            return
        now = self.clock()
        if now - rec.digit_at > DIGIT_GAP:
            rec.digits = ""
        rec.digits, rec.digit_at = (rec.digits + digit)[-len(policy.revoke_digits):], now
        if rec.digits == policy.revoke_digits:
            self.revoke(call.uuid, "caller", "dtmf")

    def control(self, uuid, action, by):
        """The desktop (POST /api/v1/calls/{uuid}/recording/stop|pause|resume)."""
        rec = self.calls.get(uuid)
        if rec is None or uuid not in self.router.calls:
            raise NotNow(f"call {uuid} is not recorded")
        if action == "stop":
            if rec.state not in (RECORDING, PAUSED):
                raise NotNow(f"the recording of call {uuid} is {rec.state}: cannot stop")
            self.revoke(uuid, by, "desktop")
        else:
            self._mask(rec, action, by)
        return {"uuid": uuid, "recording": rec.state}

    def _mask(self, rec, action, by):
        rec.move(action)
        now = self.clock()
        if action == "pause":
            rec.paused_at = now
        else:
            rec.pauses.append((rec.paused_at, now))
        self._step(rec, f"recording-{action}d", f"recording-{action}d", by=by, how="desktop")
        verb = "mask" if action == "pause" else "unmask"
        self.esl.fire(cmd.uuid_record(rec.uuid, verb, rec.path), call=rec.uuid)

    def revoke(self, uuid, by, how):
        """A party revokes its consent: stop now, delete (on-revoke: delete), tell both; the
        call is never recorded again."""
        rec = self._get(uuid)
        if rec is None or rec.state == REVOKED:
            return
        policy = self.policy(rec.queue)
        was = rec.state
        if was == PAUSED:
            rec.pauses.append((rec.paused_at, self.clock()))
        rec.move("revoke")
        if was in (RECORDING, PAUSED):
            self.esl.fire(cmd.uuid_record(uuid, "stop", rec.path), call=uuid)
        self._step(rec, "consent-revoked", None, by=by, how=how)
        if was not in (RECORDING, PAUSED):
            return
        now = self._step(rec, "recording-stopped", "recording-stopped", reason="revoked",
                         by=by, how=how)
        if policy is not None and policy.revoked_sound:
            self.esl.fire(cmd.uuid_broadcast(uuid, policy.revoked_sound, "both"), call=uuid)
        if policy is None or policy.on_revoke == "delete":
            gevent.spawn(self._delete, rec, by)
        else:
            self._sidecar(rec, now, revoked={"by": by, "how": how})

    def _delete(self, rec, by):
        """Off the routing loop: delete the file on the switch host and check it is gone."""
        gone = CallRecording(rec.uuid, rec.queue, rec.purpose, state=REVOKED, path=rec.path,
                             agent=rec.agent)
        reply = self.esl.api_reply(cmd.delete_file(gone.path), call=rec.uuid).strip()
        exists = self.esl.api_reply(cmd.file_exists(gone.path), call=rec.uuid).strip()
        self.post(self._deleted, gone, by, reply, exists)

    def _deleted(self, rec, by, reply, exists):
        deleted = exists == "false"
        self._step(rec, "recording-deleted" if deleted else "recording-delete-failed",
                   "recording-deleted" if deleted else None, by=by, reply=reply[:80],
                   exists=exists[:16])
        if not deleted:
            log.error("recording %s of call %s was NOT deleted: %s / file_exists %s", rec.path,
                      rec.uuid, reply, exists)

    # -- agents -------------------------------------------------------------------------------

    def agent_withdrew(self, agent_id):
        """The agent withdrew its consent: each recording with it is revoked now."""
        for rec in list(self.calls.values()):
            if rec.agent == agent_id and rec.state in (RECORDING, PAUSED):
                self.revoke(rec.uuid, agent_id, "consent-withdrawn")

    def tick(self):
        """Consent withdrawn through another daemon: revoked at the next tick."""
        running = [r for r in self.calls.values() if r.state in (RECORDING, PAUSED)]
        for rec in running:
            if not self.store.agent_consent(rec.agent)[0]:
                self.revoke(rec.uuid, rec.agent, "consent-withdrawn")

    # -- the call's end and restarts ----------------------------------------------------------

    def on_hangup(self, uuid):
        """The caller's channel is gone: its recording (if any) ended with it."""
        rec = self.calls.pop(uuid, None)
        if rec is None:
            return
        if rec.state in (RECORDING, PAUSED):
            self.calls[uuid] = rec
            self.ended(uuid, "hangup")
            self.calls.pop(uuid, None)
        self.store.drop(uuid)

    def resync(self, channels):
        """After a restart: recordings of calls still up are followed again; those whose
        caller hung up meanwhile are closed in the audit (FreeSWITCH finished the file)."""
        for uuid in self.store.live():
            rec = self._get(uuid)
            if rec is None:
                self.store.drop(uuid)
            elif uuid not in channels:
                if rec.state in (RECORDING, PAUSED):
                    self._stop_gone(rec)
                self.calls.pop(uuid, None)
                self.store.drop(uuid)

    def _stop_gone(self, rec):
        rec.move("stop")
        now = self._step(rec, "recording-stopped", "recording-stopped",
                         reason="hangup-while-away")
        self._sidecar(rec, now)

    # -- the sidecar --------------------------------------------------------------------------

    def _sidecar(self, rec, now, revoked=None):
        consent, consent_at = self.store.agent_consent(rec.agent)
        data = {"call": rec.uuid, "queue": rec.queue, "purpose": rec.purpose,
                "file": rec.path, "agent": rec.agent,
                "caller_consent": {"result": rec.caller, "at": _iso(rec.caller_at),
                                   "how": "dtmf"},
                "agent_consent": {"consent": consent, "at": _iso(consent_at), "how": "desktop"},
                "started_at": _iso(rec.started_at), "stopped_at": _iso(now),
                "paused": [[_iso(a), _iso(b)] for a, b in rec.pauses],
                "revoked": revoked, "audit": f"acd recordings show {rec.uuid}"}
        try:
            folder = os.path.dirname(rec.path)
            os.makedirs(folder, exist_ok=True)
            with open(rec.path + ".json", "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2, sort_keys=True)
        except OSError as exc:
            log.warning("cannot write the sidecar of %s: %s", rec.path, exc)


def _float(value):
    return float(value) if value not in (None, "") else None


def _iso(epoch):
    if epoch is None:
        return None
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
