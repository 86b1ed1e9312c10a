"""Call control over the HTTP API, through the simulator, as a telephony engineer checks it:
click-to-dial (agent answers and the customer too, customer busy, agent never answers, a number
the dial pattern refuses), a transfer to a number, listen/whisper/barge, an agent trying to hang
up another agent's call, and the events the desktop sees (call.held, call.transferred)."""

import gevent

from tests import cti_world
from tests.cti_world import PASSWORD

cti_factory = cti_world.cti_factory   # the fixture

#: The outside world behind the gateway (sofia/gateway/pstn/<number>): customers' phones.
CUSTOMERS = {"+4930555001": {"answer-after": 0.5}, "+4930555002": {"respond": "USER_BUSY"},
             "+4930555003": {"answer-after": 0.3}}
CTI = {"break-reasons": ["lunch"], "dial-template": "sofia/gateway/pstn/{number}",
       "caller-id-number": "+4930999000"}


def make(cti_factory, queues, agents=None):
    world = cti_factory(queues, agents, sim={"users": dict(CUSTOMERS)}, cti=CTI)
    daemon, admin = world.daemon()
    return world, daemon, admin


def wait_state(world, agent, state, timeout=10.0):
    return world.wait_agent(agent, timeout, state=state)


def test_click_to_dial_rings_the_agent_then_the_customer(cti_factory):
    world, daemon, admin = make(cti_factory, {"support": {"tiers": ["2001", "2002", "2101"]}})
    token = admin.login("2001", PASSWORD)
    me = admin.as_(token)
    refused = me.post("/api/v1/calls", {"agent": "2001", "to": "+49 30 {evil}"})
    assert refused.status == 422 and "dial-pattern" in refused.json["error"]
    assert me.post("/api/v1/calls", {"agent": "2002", "to": "+4930555001"}).status == 403                       # not as another agent
    started = me.post("/api/v1/calls", {"agent": "2001", "to": "+4930555001"})
    assert started.status == 201
    leg = started.json["uuid"]
    created = world.wait(lambda e: e.name == "CHANNEL_CREATE" and e.uuid == leg)
    assert created["Caller-Caller-ID-Number"] == "+4930555001"      # the agent sees whom
    assert world.agent("2001")["state"] in ("ringing", "in-call")   # no inbound offers now
    bridge = world.wait(lambda e: e.name == "CHANNEL_BRIDGE" and e["Bridge-A-Unique-ID"] == leg)
    customer = bridge["Bridge-B-Unique-ID"]
    assert world.wait(lambda e: e.name == "CHANNEL_CREATE" and e.uuid == customer
                      )["Caller-Caller-ID-Number"] == "+4930999000"
    wait_state(world, "2001", "in-call")
    current = me.get("/api/v1/agents/2001/calls").json["current"]
    assert current["call"] == leg and current["direction"] == "outbound"
    assert current["caller_number"] == "+4930555001"
    # an inbound caller meanwhile goes to another agent
    caller = world.call("support")
    assert world.bridged(caller) in ("2002",)
    # the agent controls its outbound call like any other: hold, then hang up
    assert me.post(f"/api/v1/calls/{leg}/hold").json == {"uuid": leg, "held": True}
    assert me.post(f"/api/v1/calls/{leg}/hangup").json == {"uuid": leg, "hangup": True}
    world.hung_up(customer)
    wait_state(world, "2001", "waiting")
    with gevent.Timeout(5, AssertionError("no outbound record")):
        while True:
            recent = me.get("/api/v1/agents/2001/calls").json["recent"]
            if recent:
                break
            gevent.sleep(0.1)
    assert recent[0]["call"] == leg and recent[0]["direction"] == "outbound"
    assert recent[0]["caller_number"] == "+4930555001" and recent[0]["result"] == "answered"


def test_click_to_dial_failures_release_the_agent(cti_factory):
    world, daemon, admin = make(cti_factory, {"support": {"tiers": ["2001", "2101"]}},
                                {"2101": {"ring-timeout": 3}})
    busy = admin.post("/api/v1/calls", {"agent": "2001", "to": "+4930555002"}).json["uuid"]
    hangup = world.hung_up(busy)
    assert hangup["variable_DIALSTATUS"] == "BUSY"                  # the customer was busy
    wait_state(world, "2001", "waiting")
    unknown = admin.post("/api/v1/calls", {"agent": "2001", "to": "+4930555999"}).json["uuid"]
    world.hung_up(unknown)
    wait_state(world, "2001", "waiting")
    never = admin.post("/api/v1/calls", {"agent": "2101", "to": "+4930555001"}).json["uuid"]
    assert world.agent("2101")["state"] == "ringing"
    # the agent's phone never answers: after the ring timeout the agent is free again
    world.hung_up(never, timeout=10)
    wait_state(world, "2101", "waiting", timeout=10)
    # an agent in a call cannot dial
    caller = world.call("support")
    agent = world.bridged(caller)
    wait_state(world, agent, "in-call")
    taken = admin.post("/api/v1/calls", {"agent": agent, "to": "+4930555001"})
    assert taken.status == 409 and "in a call" in taken.json["error"]


def test_agents_control_only_their_calls_and_the_stream_says_what_happened(cti_factory):
    world, daemon, admin = make(cti_factory, {"support": {"tiers": ["2001"]},
                                              "sales": {"tiers": ["2002"]}})
    anna = admin.as_(admin.login("2001", PASSWORD))
    ben = admin.as_(admin.login("2002", PASSWORD))
    events = anna.stream()
    caller = world.call("support")
    assert world.bridged(caller) == "2001"
    wait_state(world, "2001", "in-call")
    assert ben.post(f"/api/v1/calls/{caller}/hangup").status == 403
    assert world.driver.api(f"uuid_exists {caller}") == "true"          # unharmed
    anna.post(f"/api/v1/calls/{caller}/hold")
    held = events.next(lambda e: e["event"] == "call.held")
    assert held["data"]["call"] == caller and held["data"]["agent"] == "2001"
    anna.post(f"/api/v1/calls/{caller}/unhold")
    events.next(lambda e: e["event"] == "call.unheld")
    anna.post(f"/api/v1/calls/{caller}/transfer", {"queue": "sales"})
    moved = events.next(lambda e: e["event"] == "call.transferred")
    assert moved["data"]["to"] == {"queue": "sales"}
    assert world.bridged_again(caller) == "2002"
    events.close()


def test_transfer_to_a_number_and_listen_whisper_barge(cti_factory):
    world, daemon, admin = make(cti_factory, {"support": {"tiers": ["2001"]}},
                                {"2003": {"role": "supervisor"}})
    caller = world.call("support")
    assert world.bridged(caller) == "2001"
    wait_state(world, "2001", "in-call")
    leg = world.store.call(caller)["agent_leg"]
    sup = admin.as_(admin.login("2003", PASSWORD))
    listened = sup.post(f"/api/v1/calls/{caller}/whisper", {"contact": "user/2002"}).json
    assert listened["mode"] == "whisper"
    spy = world.wait(lambda e: e.name == "CHANNEL_CREATE" and e.uuid == listened["leg"])
    assert spy["variable_eavesdrop_whisper_bleg"] == "true"
    anna = admin.as_(admin.login("2001", PASSWORD))
    assert anna.post(f"/api/v1/calls/{caller}/barge", {"contact": "user/2002"}).status == 403                     # agents cannot listen
    anna.post(f"/api/v1/calls/{caller}/transfer", {"number": "+4930555003"})
    world.hung_up(leg)                                              # the agent is let go
    wait_state(world, "2001", "waiting")
    bridge = world.wait(lambda e: e.name == "CHANNEL_BRIDGE" and e["Bridge-A-Unique-ID"] == caller
                        and e["Bridge-B-Unique-ID"] != leg, timeout=15)
    outside = bridge["Bridge-B-Unique-ID"]
    assert world.wait(lambda e: e.name == "CHANNEL_CREATE" and e.uuid == outside
                      )["Caller-Destination-Number"].endswith("4930555003")
    gevent.sleep(0.5)
    assert world.store.call(caller) is None                          # it left acd
    world.hangup(outside)
    assert world.hung_up(caller)["Hangup-Cause"] == "NORMAL_CLEARING"   # no park, no requeue


def test_a_restarted_daemon_keeps_an_outbound_call_and_frees_the_agent_at_its_end(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"]}}, sim={"users": dict(CUSTOMERS)}, cti=CTI)
    daemon, admin = world.daemon(owner="box-1")
    leg = admin.post("/api/v1/calls", {"agent": "2001", "to": "+4930555001"}).json["uuid"]
    bridge = world.wait(lambda e: e.name == "CHANNEL_BRIDGE" and e["Bridge-A-Unique-ID"] == leg)
    wait_state(world, "2001", "in-call")
    daemon.stop()
    world.daemons.remove(daemon)
    again, admin = world.daemon(owner="box-1")
    gevent.sleep(1.0)                                   # the resync has run
    assert world.driver.api(f"uuid_exists {leg}") == "true"   # the conversation goes on
    assert world.agent("2001")["state"] == "in-call"
    admin.post(f"/api/v1/calls/{leg}/hangup")
    world.hung_up(bridge["Bridge-B-Unique-ID"])
    wait_state(world, "2001", "waiting")
