"""Recording only with consent, through the simulator: the caller's keypress after the
announcement, the agent's consent over the API, files on disk, revocation by either side,
pause/resume, a transfer to an agent without consent, a daemon restart during a recorded call,
and the audit trail an auditor reads (docs/recording.md)."""

import io
import json
import os
import time
import wave

import gevent
import pytest
import yaml

from acd.cli import build_parser
from acd.cli_recordings import run_recordings

from acd.store.recording import RecordingStore
from tests import cti_world
from tests.cti_world import PASSWORD

cti_factory = cti_world.cti_factory   # the fixture

EXTRA_EVENTS = ("CHANNEL_EXECUTE", "RECORD_START", "RECORD_STOP", "PLAYBACK_START")


def policy(tmp_path, **changes):
    return dict({"mode": "consent", "purpose": "quality assurance and training",
                 "announcement": "recording/consent-support.wav", "prompt-timeout": 1,
                 "revoked-sound": "recording/stopped.wav",
                 "path-template": f"{tmp_path}/rec/{{date}}/{{queue}}-{{call_uuid}}.wav"},
                **changes)


def make(cti_factory, tmp_path, queues, agents=None):
    world = cti_factory(queues, agents)
    for name in EXTRA_EVENTS:
        world.driver.register_handle(name, world.events.put)
    world.driver.subscribe(*EXTRA_EVENTS)
    daemon, admin = world.daemon()
    return world, daemon, admin


def consent(admin, agent, given=True):
    me = admin.as_(admin.login(agent, PASSWORD))
    answer = me.put(f"/api/v1/agents/{agent}/recording-consent", {"consent": given})
    assert answer.status == 200 and answer.json["consent"] is given, answer
    return me


def call_with_answer(world, queue, digit):
    """A caller dials the queue and answers the announcement with ``digit`` (None: silence)."""
    caller = world.call(queue, queued=False)
    world.wait(lambda e: e.name == "CHANNEL_EXECUTE" and e.uuid == caller
               and e.get("Application") == "play_and_get_digits", what="the announcement")
    if digit is not None:
        world.dtmf(caller, digit)
    world.wait_call(caller)     # queued after the answer, whatever it was
    return caller


def cli(config, *words, now=None):
    out = io.StringIO()
    args = build_parser().parse_args(["recordings", "--config", str(config), *words])
    assert run_recordings(args, stdout=out, now=now) == 0
    return out.getvalue()


def text(data):
    return data.decode() if isinstance(data, bytes) else data


def steps(world, caller):
    return [fields["step"] for _, fields in RecordingStore.of(world.store).audit_of(caller)]


def wait_steps(world, caller, *expected, timeout=5.0):
    with gevent.Timeout(timeout, AssertionError(f"{caller}: {expected} not in {steps(world, caller)}")):
        while not all(step in steps(world, caller) for step in expected):
            gevent.sleep(0.02)
    return steps(world, caller)


def record_path(world, caller):
    event = world.wait(lambda e: e.name == "RECORD_START" and e.uuid == caller)
    return event["Record-File-Path"]


def recorded_call(cti_factory, tmp_path):
    """A support call both sides consented to, bridged to 2001 and being recorded:
    ``(world, daemon, admin, 2001's client, caller uuid, file path)``."""
    world, daemon, admin = make(cti_factory, tmp_path,
                                {"support": {"tiers": ["2001"], "recording": policy(tmp_path)}})
    me = consent(admin, "2001")
    caller = call_with_answer(world, "support", "1")
    assert world.bridged(caller) == "2001"
    return world, daemon, admin, me, caller, record_path(world, caller)


def test_both_consents_record_a_stereo_file_with_its_sidecar_and_audit(cti_factory, tmp_path):
    world, daemon, admin = make(cti_factory, tmp_path,
                                {"support": {"tiers": ["2001"], "recording": policy(tmp_path)}})
    me = consent(admin, "2001")
    assert me.get("/api/v1/agents/2001").json["recording_consent"]["consent"] is True
    events = me.stream()
    caller = call_with_answer(world, "support", "1")
    assert world.bridged(caller) == "2001"
    path = record_path(world, caller)
    assert path == f"{tmp_path}/rec/{time.strftime('%Y-%m-%d', time.gmtime())}/support-{caller}.wav"
    started = events.next(lambda e: e["event"] == "recording.started")["data"]
    assert started["call"] == caller and started["file"] == path
    assert started["purpose"] == "quality assurance and training"
    gevent.sleep(1.0)
    world.hangup(caller)
    world.wait(lambda e: e.name == "RECORD_STOP" and e.uuid == caller)
    stopped = events.next(lambda e: e["event"] == "recording.stopped")["data"]
    assert stopped["reason"] == "caller-hung-up"
    events.check()
    assert wait_steps(world, caller, "recording-stopped") == [
        "consent-asked", "consent-accepted", "recording-started", "recording-stopped"]
    with wave.open(path, "rb") as recorded:
        assert recorded.getnchannels() == 2      # the caller left, the agent right
        assert 0.8 <= recorded.getnframes() / 8000 <= 2.0
    sidecar = json.loads(open(path + ".json").read())
    assert sidecar["purpose"] == "quality assurance and training" and sidecar["agent"] == "2001"
    assert sidecar["caller_consent"]["result"] == "accepted" and sidecar["caller_consent"]["at"]
    assert sidecar["agent_consent"]["consent"] is True
    trail = RecordingStore.of(world.store).audit_of(caller)
    assert all(f["purpose"] == "quality assurance and training" for _, f in trail)
    assert [f.get("path") for _, f in trail][2:] == [path, path]
    metrics = text(admin.get("/metrics").data)
    assert 'acd_recording_consent_total{queue="support",result="accepted"} 1.0' in metrics
    assert 'acd_recordings_total{queue="support",result="recorded"} 1.0' in metrics
    # the auditor's commands
    config = tmp_path / "acd.yaml"
    config.write_text(yaml.safe_dump(world.data))
    listed = cli(config, "list", "--agent", "2001")
    assert listed.splitlines()[1].split("\t")[1:] == [caller, "support", "2001", path, "kept"]
    assert cli(config, "list", "--queue", "sales").splitlines()[1:] == []
    shown = cli(config, "show", caller)
    assert [line.split("\t")[2] for line in shown.splitlines()[1:-1]] == [
        "consent-asked", "consent-accepted", "recording-started", "recording-stopped"]
    assert "purpose: quality assurance and training" in shown
    assert "would delete" not in cli(config, "purge")              # within retention
    later = time.time() + 91 * 86400
    assert f"would delete {path}" in cli(config, "purge", now=later)
    assert os.path.exists(path)                      # a dry run by default
    assert f"deleted {path}" in cli(config, "purge", "--yes", now=later)
    assert not os.path.exists(path) and not os.path.exists(
        path + ".json")
    assert steps(world, caller)[-1] == "recording-purged"
    assert cli(config, "list").splitlines()[1].endswith("\tpurged")


def test_no_recording_without_both_consents_and_the_record_says_why(cti_factory, tmp_path):
    world, daemon, admin = make(cti_factory, tmp_path,
                                {"support": {"tiers": ["2001"], "recording": policy(tmp_path)}})
    consent(admin, "2001")
    expected = {"2": "caller-declined", None: "caller-timeout", "5": "caller-timeout"}
    for digit, why in expected.items():
        caller = call_with_answer(world, "support", digit)
        assert world.bridged(caller) == "2001"       # routed exactly as before
        trail = RecordingStore.of(world.store).audit_of(caller)
        wait_steps(world, caller, "not-recorded")
        trail = RecordingStore.of(world.store).audit_of(caller)
        assert trail[-1][1]["reason"] == why, trail
        world.hangup(caller)
        world.wait_agent("2001", state="waiting")
    consent(admin, "2001", False)
    caller = call_with_answer(world, "support", "1")
    assert world.bridged(caller) == "2001"
    assert wait_steps(world, caller, "not-recorded") == [
        "consent-asked", "consent-accepted", "not-recorded"]
    assert RecordingStore.of(world.store).audit_of(caller)[-1][1]["reason"] == "agent-no-consent"
    world.hangup(caller)
    assert not any(e.name == "RECORD_START" for e in world.seen)
    assert not list((tmp_path / "rec").glob("**/*.wav")) if (tmp_path / "rec").exists() else True
    metrics = text(admin.get("/metrics").data)
    assert 'acd_recording_consent_total{queue="support",result="declined"} 1.0' in metrics
    assert 'acd_recording_consent_total{queue="support",result="timeout"} 2.0' in metrics
    assert 'acd_recordings_total{queue="support",result="agent-no-consent"} 1.0' in metrics


def test_the_caller_revokes_and_the_file_is_gone_within_a_second(cti_factory, tmp_path):
    world, daemon, admin, _, caller, path = recorded_call(cti_factory, tmp_path)
    gevent.sleep(0.5)
    pressed = time.monotonic()
    world.dtmf(caller, "*9")
    world.wait(lambda e: e.name == "RECORD_STOP" and e.uuid == caller)
    with gevent.Timeout(1.0, AssertionError("the revoked file still exists after 1 s")):
        while os.path.exists(path):
            gevent.sleep(0.01)
    assert time.monotonic() - pressed < 1.0
    world.wait(lambda e: e.name == "PLAYBACK_START" and e.get("Playback-File-Path")
               == "recording/stopped.wav", what="the revoked sound")
    trail = wait_steps(world, caller, "recording-deleted")
    assert trail[2:] == ["recording-started", "consent-revoked", "recording-stopped",
                         "recording-deleted"]
    revoked = RecordingStore.of(world.store).audit_of(caller)[3][1]
    assert (revoked["by"], revoked["how"]) == ("caller", "dtmf")
    world.dtmf(caller, "*9")                    # a revoked recording never restarts
    gevent.sleep(0.3)
    assert steps(world, caller) == trail and not os.path.exists(path + ".json")


def test_the_agent_pauses_resumes_and_withdraws_its_consent(cti_factory, tmp_path):
    world, daemon, admin = make(cti_factory, tmp_path, {"support": {
        "tiers": ["2001"], "recording": policy(tmp_path, **{"on-revoke": "keep-until-revoke"})}})
    me = consent(admin, "2001")
    caller = call_with_answer(world, "support", "1")
    assert world.bridged(caller) == "2001"
    path = record_path(world, caller)
    gevent.sleep(0.4)
    assert me.post(f"/api/v1/calls/{caller}/recording/pause").json == {
        "uuid": caller, "recording": "paused"}
    assert me.post(f"/api/v1/calls/{caller}/recording/pause").status == 409
    gevent.sleep(0.6)
    assert me.post(f"/api/v1/calls/{caller}/recording/resume").json["recording"] == "recording"
    gevent.sleep(0.4)
    consent(admin, "2001", False)                # withdrawn: stopped now, kept until then
    world.wait(lambda e: e.name == "RECORD_STOP" and e.uuid == caller, timeout=1.0)
    trail = wait_steps(world, caller, "recording-stopped")
    assert trail[2:] == ["recording-started", "recording-paused", "recording-resumed",
                         "consent-revoked", "recording-stopped"]
    with wave.open(path, "rb") as recorded:
        frames = recorded.readframes(recorded.getnframes())
    samples = [int.from_bytes(frames[i:i + 2], "little", signed=True)
               for i in range(0, len(frames), 4)]          # the caller's channel
    assert 1.0 <= len(samples) / 8000 <= 2.5
    assert not any(samples[int(0.55 * 8000):int(0.9 * 8000)])   # paused: silent
    assert any(samples[:int(0.3 * 8000)]) and any(samples[-int(0.2 * 8000):])
    sidecar = json.loads(open(path + ".json").read())
    assert sidecar["revoked"] == {"by": "2001", "how": "consent-withdrawn"}
    assert len(sidecar["paused"]) == 1
    assert me.post(f"/api/v1/calls/{caller}/recording/resume").status == 409


def test_the_agent_stops_from_the_desktop_and_the_file_is_deleted(cti_factory, tmp_path):
    world, daemon, admin, me, caller, path = recorded_call(cti_factory, tmp_path)
    assert me.post(f"/api/v1/calls/{caller}/recording/stop").json["recording"] == "revoked"
    trail = wait_steps(world, caller, "recording-deleted")
    assert trail[-3:] == ["consent-revoked", "recording-stopped", "recording-deleted"]
    assert not os.path.exists(path)
    assert me.post(f"/api/v1/calls/{caller}/recording/stop").status == 409


def test_a_transfer_to_an_agent_without_consent_is_not_recorded(cti_factory, tmp_path):
    world, daemon, admin = make(cti_factory, tmp_path,
                                {"support": {"tiers": ["2001", "2002"],
                                             "recording": policy(tmp_path)}})
    me = consent(admin, "2001")
    admin.put("/api/v1/agents/2002/status", {"status": "logged-out"})
    caller = call_with_answer(world, "support", "1")
    assert world.bridged(caller) == "2001"
    path = record_path(world, caller)
    admin.put("/api/v1/agents/2002/status", {"status": "available"})
    assert me.post(f"/api/v1/calls/{caller}/transfer", {"agent": "2002"}).status == 200
    assert world.bridged_again(caller) == "2002"
    trail = wait_steps(world, caller, "not-recorded")
    assert trail == ["consent-asked", "consent-accepted", "recording-started",
                     "recording-stopped", "not-recorded"]
    last = RecordingStore.of(world.store).audit_of(caller)[-1][1]
    assert (last["agent"], last["reason"]) == ("2002", "agent-no-consent")
    assert json.loads(open(path + ".json").read())["agent"] == "2001"   # 2001's part kept
    world.hangup(caller)


def test_a_daemon_restart_during_a_recorded_call_keeps_state_and_audit(cti_factory, tmp_path):
    world, daemon, admin, _, caller, path = recorded_call(cti_factory, tmp_path)
    daemon.stop()
    world.daemons.remove(daemon)
    world.daemon(owner=daemon.owner)             # the same daemon, started again
    gevent.sleep(0.5)
    world.dtmf(caller, "*9")                     # the new daemon follows the recording
    trail = wait_steps(world, caller, "recording-deleted")
    assert trail[2:] == ["recording-started", "consent-revoked", "recording-stopped",
                         "recording-deleted"]
    assert not os.path.exists(path)


def test_a_recorded_call_that_ends_while_the_daemon_is_away_is_closed_in_the_audit(
        cti_factory, tmp_path):
    world, daemon, admin, _, caller, path = recorded_call(cti_factory, tmp_path)
    daemon.stop()
    world.daemons.remove(daemon)
    world.hangup(caller)
    world.wait(lambda e: e.name == "RECORD_STOP" and e.uuid == caller)
    world.daemon(owner=daemon.owner)
    trail = wait_steps(world, caller, "recording-stopped")
    assert trail[-1] == "recording-stopped"
    assert RecordingStore.of(world.store).audit_of(caller)[-1][1]["reason"] == "hangup-while-away"
    assert os.path.exists(path) and os.path.exists(path + ".json")


@pytest.mark.parametrize("agent_kind", ["supervisor", "admin"])
def test_consent_cannot_be_given_on_someones_behalf(cti_factory, tmp_path, agent_kind):
    world, daemon, admin = make(cti_factory, tmp_path, {"support": {"tiers": ["2001", "2003"]}},
                                {"2003": {"role": "supervisor"}})
    asker = admin if agent_kind == "admin" else admin.as_(admin.login("2003", PASSWORD))
    refused = asker.put("/api/v1/agents/2001/recording-consent", {"consent": True})
    assert refused.status == 403
    assert admin.get("/api/v1/agents/2001").json["recording_consent"] == {
        "consent": False, "at": None, "at_epoch": None}


# -- the property: no recording without both consents, no file without its audit trail ----------

ACTIONS = ("agent-on", "agent-off", "revoke-dtmf", "stop", "pause", "resume", "transfer", "wait")


def test_any_interleaving_records_only_while_both_consents_hold(cti_factory, tmp_path):
    """Hypothesis draws the caller's answer, the agents' consents and a sequence of consent
    changes, revocations, pauses, transfers; each example is one call through the simulator.
    Then: every file on disk has a complete audit trail (started and stopped, the caller's
    acceptance and the agent's consent before the start), and each recording stopped no later
    than the first moment one of its consents ended."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    world, daemon, admin = make(cti_factory, tmp_path, {"support": {
        "tiers": ["2001", "2002"], "recording": policy(tmp_path, **{
            "on-revoke": "keep-until-revoke", "revoked-sound": None})}})
    desks = {agent: admin.as_(admin.login(agent, PASSWORD)) for agent in ("2001", "2002")}
    store = RecordingStore.of(world.store)

    @settings(max_examples=6, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(answer=st.sampled_from(["1", "1", "1", "2"]), consents=st.tuples(st.booleans(), st.booleans()),
           actions=st.lists(st.sampled_from(ACTIONS), max_size=5))
    def one_call(answer, consents, actions):
        for agent, given in zip(("2001", "2002"), consents):
            desks[agent].put(f"/api/v1/agents/{agent}/recording-consent", {"consent": given})
        caller = call_with_answer(world, "support", answer)
        agent = world.bridged(caller)
        for action in actions:
            agent = act(world, desks, caller, agent, action)
        world.hangup(caller)
        world.hung_up(caller)
        for other in ("2001", "2002"):
            world.wait_agent(other, state="waiting")
        gevent.sleep(0.2)
        check_files(store, tmp_path)

    one_call()


def act(world, desks, caller, agent, action):
    """One step of an example; returns the agent now in the call."""
    if action in ("agent-on", "agent-off"):
        desks[agent].put(f"/api/v1/agents/{agent}/recording-consent",
                         {"consent": action == "agent-on"})
    elif action == "revoke-dtmf":
        world.dtmf(caller, "*9")
    elif action in ("stop", "pause", "resume"):
        assert desks[agent].post(f"/api/v1/calls/{caller}/recording/{action}").status in (200, 409)
    elif action == "transfer":
        other = "2002" if agent == "2001" else "2001"
        world.wait_agent(other, state="waiting")
        if desks[agent].post(f"/api/v1/calls/{caller}/transfer", {"agent": other}).status == 200:
            assert world.bridged_again(caller) == other
            return other
    gevent.sleep(0.15)
    return agent


def check_files(store, tmp_path):
    entries = [f for _, f in store.audit()]
    for wav in (tmp_path / "rec").glob("**/*.wav") if (tmp_path / "rec").exists() else ():
        path = str(wav)
        started = [f for f in entries if f["step"] == "recording-started" and f["path"] == path]
        assert len(started) == 1, f"{path}: no (single) recording-started in the audit"
        start = started[0]
        call, at = start["call"], float(start["time_epoch"])
        mine = [f for f in entries if f.get("call") == call]
        assert any(f["step"] == "recording-stopped" and f.get("path") == path for f in mine), \
            f"{path}: never stopped in the audit"
        # what was written before the start, in the audit stream's own order (two steps can
        # carry the same time)
        earlier = entries[:next(i for i, f in enumerate(entries) if f is start)]
        before = [f for f in earlier if f.get("call") == call]
        assert [f["step"] for f in before if f["step"].startswith("consent-")][-1] == \
            "consent-accepted"
        given = [f for f in earlier if f.get("agent") == start["agent"] and f["step"].startswith(
            "agent-consent-")]
        assert given and given[-1]["step"] == "agent-consent-given"
        stopped = next(float(f["time_epoch"]) for f in mine if f["step"] == "recording-stopped"
                       and f.get("path") == path and float(f["time_epoch"]) >= at)
        ended = [float(f["time_epoch"]) for f in entries if float(f["time_epoch"]) > at and (
            (f.get("agent") == start["agent"] and f["step"] == "agent-consent-withdrawn")
            or (f.get("call") == call and f["step"] == "consent-revoked"))]
        if ended:
            assert stopped <= min(ended) + 1.0, f"{path}: recorded after a consent ended"
        with wave.open(path, "rb") as recorded:
            assert recorded.getnframes() / 8000 <= stopped - at + 0.5
