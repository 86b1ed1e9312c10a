"""The CRM lookup end to end: a real local HTTP server plays the CRM (tests/crm_servers.py), the
simulator plays FreeSWITCH, the desktop's event stream shows the card."""

import json
import re
import urllib.parse

import gevent
import pytest

from acd.config import ConfigError, parse_config
from acd.config_crm import CrmConfig
from acd.crm import LookupError_, fetch, make_card, render_url, resolve
from tests import cti_world
from tests.blocking import blocking
from tests.crm_servers import Crm
from tests.cti_world import PASSWORD

cti_factory = cti_world.cti_factory   # the fixture

FIELDS = {"name": "$.name", "company": "$.company.name", "tier": "$.tier",
          "open-url": "$.links.web"}
ENV = {"CRM_TOKEN": "s3cret-crm-token"}


@pytest.fixture
def crm():
    other = Crm()
    server = Crm(slow=1.0, other=other.url.replace("127.0.0.1", "localhost"))
    yield server
    server.stop()
    other.stop()


def fetched(url):
    """fetch() off this greenlet (tests.blocking), while this process's hub serves the CRM."""
    return blocking(fetch, CrmConfig(url), url)


def with_crm(world, url, **settings):
    world.data["crm"] = dict({"lookup-url": url, "headers": {"Authorization": "Bearer ${CRM_TOKEN}"},
                              "timeout-ms": 400, "cache-ttl": 300, "fields": FIELDS,
                              "card-title": "{name} \u2014 {company}"}, **settings)
    world.world.config = parse_config(world.data, source="test.yaml", env=ENV)
    return world


def metric(client, result):
    text = client.get("/metrics").data.decode()
    found = re.search(rf'acd_crm_lookups_total{{result="{result}"}} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def test_the_card_reaches_the_desktop_while_the_phone_rings(cti_factory, crm):
    world = with_crm(cti_factory({"support": {"ring-timeout": 10, "tiers": ["2201"]}}),
                     crm.url + "/contacts?phone={caller_number}&dnis={destination}")
    _, admin = world.daemon()
    agent = admin.as_(admin.login("2201", PASSWORD))
    stream = agent.stream()
    caller = world.call("support", number="+4930111222", name="Max")
    offered = stream.next(lambda e: e["event"] == "call.offered")
    card = offered["data"].get("crm") or stream.next(
        lambda e: e["event"] == "call.updated")["data"]["crm"]
    assert card == {"title": "Max Mustermann \u2014 ACME GmbH",
                    "fields": {"name": "Max Mustermann", "company": "ACME GmbH", "tier": "gold"},
                    "open_url": "https://crm.example/contacts/42"}
    assert admin.get(f"/api/v1/calls/{caller}").json["crm"] == card
    # the CRM got the header from the environment, the number URL-encoded
    asked = crm.requests[0]
    assert asked["authorization"] == "Bearer s3cret-crm-token"
    assert urllib.parse.parse_qs(asked["query"])["phone"] == ["+4930111222"]
    assert "%2B4930111222" in asked["query"]
    assert world.bridged(caller) == "2201"
    assert metric(admin, "ok") == 1
    world.hangup(caller)
    world.wait_agent("2201", state="waiting")
    # the call record keeps the card
    with gevent.Timeout(5):
        while not world.store.redis.xlen("acd:records"):
            gevent.sleep(0.05)
    record = world.store.redis.xrange("acd:records")[-1][1]
    assert json.loads(record["crm"]) == card
    # the same caller again: from the cache (Redis), the CRM is not asked
    second = world.call("support", number="+4930111222", name="Max")
    assert stream.next(lambda e: e["event"] in ("call.updated", "call.offered") and e["data"][
        "call"] == second and "crm" in e["data"])["data"]["crm"] == card
    assert len(crm.requests) == 1 and metric(admin, "cached") == 1
    stream.check()
    stream.close()


def test_a_waiting_caller_is_offered_with_its_card(cti_factory, crm):
    world = with_crm(cti_factory({"support": {"ring-timeout": 10, "tiers": ["2001"]}},
                                 {"2001": {"status": "on-break"}}),
                     crm.url + "/contacts?phone={caller_number}")
    _, admin = world.daemon()
    stream = admin.stream()
    caller = world.call("support", number="+4930111222")
    with gevent.Timeout(5, AssertionError("no card attached to the waiting call")):
        while not (admin.get(f"/api/v1/calls/{caller}").json or {}).get("crm"):
            gevent.sleep(0.05)
    assert admin.put("/api/v1/agents/2001/status", {"status": "available"}).status == 200
    offered = stream.next(lambda e: e["event"] == "call.offered")
    assert offered["data"]["crm"]["title"] == "Max Mustermann \u2014 ACME GmbH"
    assert world.bridged(caller) == "2001"
    stream.close()


def test_a_slow_crm_never_delays_the_offer_and_its_card_comes_later(cti_factory, crm):
    world = with_crm(cti_factory({"support": {"ring-timeout": 10, "tiers": ["2201"]}}),
                     crm.url + "/slow?phone={caller_number}", **{"timeout-ms": 200})
    _, admin = world.daemon()
    stream = admin.stream()
    caller = world.call("support", number="+4930111222")
    offered = stream.next(lambda e: e["event"] == "call.offered")
    assert "crm" not in offered["data"]
    updated = stream.next(lambda e: e["event"] == "call.updated", timeout=5)
    assert updated["data"]["call"] == caller and updated["data"]["crm"]["fields"]["tier"] == "gold"
    assert updated["at"] - offered["at"] > 0.5      # the CRM took 1 s
    assert metric(admin, "timeout") == 1 and metric(admin, "ok") == 0
    assert world.bridged(caller) == "2201"
    stream.close()


def test_a_failing_crm_breaks_nothing(cti_factory, crm):
    world = with_crm(cti_factory({"support": {"tiers": ["2001"]}}),
                     crm.url + "/500?phone={caller_number}")
    _, admin = world.daemon()
    caller = world.call("support", number="+4930111222")
    assert world.bridged(caller) == "2001"
    with gevent.Timeout(5):
        while metric(admin, "error") < 1:
            gevent.sleep(0.05)
    assert admin.get(f"/api/v1/calls/{caller}").json["crm"] is None


@pytest.mark.parametrize("number", ["+49/../admin?phone=1#x", "1@evil.example:80/x",
                                    "%2F..%2Fsecret&phone=2", "x y\u00e4"])
def test_hostile_caller_ids_stay_inside_their_query_value(crm, number):
    template = crm.url + "/contacts?phone={caller_number}&dnis={destination}"
    url = render_url(template, {"caller_number": number, "destination": "5000"})
    parts = urllib.parse.urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", f"127.0.0.1:{crm.port}",
                                                         "/contacts")
    assert urllib.parse.parse_qs(parts.query)["phone"] == [number]
    assert parts.fragment == ""
    fetched(url)    # the real server is asked, at /contacts
    assert crm.requests[-1]["path"] == "/contacts"
    assert urllib.parse.parse_qs(crm.requests[-1]["query"])["phone"] == [number]


def test_a_placeholder_in_the_path_cannot_leave_its_segment(crm):
    url = render_url(crm.url + "/contacts/{caller_number}", {"caller_number": "../../admin"})
    assert urllib.parse.urlsplit(url).path == "/contacts/..%2F..%2Fadmin"


@pytest.mark.parametrize("path, problem", [("/500", "HTTP 500"), ("/malformed", "not JSON"),
                                           ("/huge", "longer than"),
                                           ("/redirect", "another host")])
def test_unusable_answers_are_errors(crm, path, problem):
    url = f"{crm.url}{path}?phone=%2B4930111222"
    with pytest.raises(LookupError_, match=problem):
        fetched(url)


def test_a_redirect_to_the_same_host_is_followed(crm):
    url = f"{crm.url}/same?phone=%2B4930111222"
    assert fetched(url)["name"] == "Max Mustermann"


def test_the_card_shows_only_http_links_and_plain_text():
    crm = CrmConfig("http://x/", fields=tuple(FIELDS.items()), card_title="{name} \u2014 {company}")
    card = make_card(crm, {"name": "Eve", "company": {"name": "<b>Corp</b>"},
                           "links": {"web": "javascript:alert(1)"}})
    assert card == {"title": "Eve \u2014 <b>Corp</b>", "open_url": None,
                    "fields": {"name": "Eve", "company": "<b>Corp</b>"}}
    assert make_card(crm, {})["title"] == ""
    assert resolve({"a": [{"b": 1}]}, "$.a[0].b") == 1 and resolve({"a": []}, "$.a[3]") is None


def test_config_checks_the_crm_section():
    base = {"agents": [], "queues": []}
    with pytest.raises(ConfigError) as problem:
        parse_config(dict(base, crm={"lookup-url": "http://{caller_number}.evil/x",
                                     "headers": {"X-Token": "${NOT_SET}"},
                                     "fields": {"name": "name"}}), "t.yaml", env={})
    text = str(problem.value)
    assert "crm.lookup-url: placeholders may be used only in the path and query" in text
    assert "environment variable NOT_SET is not set" in text
    assert "crm.fields.name: expected a path such as $.company.name" in text
    with pytest.raises(ConfigError, match="expected an http:// or https:// URL"):
        parse_config(dict(base, crm={"lookup-url": "file:///etc/passwd"}), "t.yaml", env={})
    config = parse_config(dict(base, crm={"lookup-url": "https://crm/x?p={caller_number}",
                                          "headers": {"Authorization": "Bearer ${T}"}}),
                          "t.yaml", env={"T": "tok"})
    assert config.crm.headers == (("Authorization", "Bearer tok"),)
    assert "tok" not in repr(config.crm) and config.crm.timeout == 0.4
