"""The web desktop and the wallboard in a real headless Chromium, against a daemon and the
simulator: an agent signs in, goes available, a call arrives and its card shows while the phone
still rings, the agent holds, resumes, sends a digit, transfers and hangs up from the page and
dials out (also from a tel: link); a supervisor watches the wallboard change and listens in.
Screenshots go to each test's folder (tmp_path/screenshots)."""

from tests import cti_world
from tests.acd_world import CuttableProxy
from tests.browser import browser  # noqa: F401 (the fixture)
from tests.cti_client import Client
from tests.cti_world import PASSWORD

cti_factory = cti_world.cti_factory   # the fixture

CUSTOMERS = {"+4930555001": {"answer-after": 0.5}}
CTI = {"break-reasons": ["lunch", "training"], "dial-template": "sofia/gateway/pstn/{number}",
       "caller-id-number": "+4930999000"}


def sign_in(browser, url, agent, live=True):
    browser.get(url)
    browser.until(lambda: browser.visible("#login-form"), what="the sign-in form")
    browser.type("#login-agent", agent)
    browser.type("#login-password", PASSWORD)
    browser.click("#login-form button[type=submit]")
    browser.until(lambda: browser.js("return document.querySelector('#login-view').hidden"),
                  what="the sign-in form to go")
    if live:
        browser.until(lambda: browser.js("return document.querySelector('#link').dataset.state")
                      == "live", what="the event stream to be live")


def agent_answered(world, agent):
    """Did the simulator see the agent's phone answer (so far)?"""
    world.drain()
    return any(e.name == "CHANNEL_ANSWER" and e.get("variable_acd_agent") == agent
               for e in world.seen)


def test_an_agent_works_a_call_from_the_desktop(cti_factory, browser):
    world = cti_factory({"support": {"tiers": ["2201"], "ring-timeout": 10},
                         "sales": {"tiers": ["2001"]}},
                        {"2201": {"status": "logged-out"}},
                        sim={"users": dict(CUSTOMERS)}, cti=CTI)
    daemon, admin = world.daemon()
    base = f"http://127.0.0.1:{daemon.http.server_port}"
    sign_in(browser, base + "/", "2201")
    assert browser.text("#who") == "Agent 2201 (2201)"
    browser.until_text("#status-badge", "logged out")
    browser.select("#break-reason", "lunch")
    browser.click("[data-status=on-break]")
    browser.until_text("#state-text", "lunch")
    browser.click("[data-status=available]")
    browser.until_text("#status-badge", "available")
    world.wait_agent("2201", status="available")

    # the screen pop: the card is up while the phone rings (it answers after 3 s)
    caller = world.call("support", number="+4930555123", name="Erika <b>Muster</b>")
    browser.until(lambda: browser.visible("#card"), what="the caller's card")
    assert not agent_answered(world, "2201"), "the phone answered before the card showed"
    assert browser.text("#card-title") == "Erika <b>Muster</b>"     # text, never markup
    assert browser.text("#card-number") == "+4930555123"
    assert "ringing" in browser.text("#card-phase")
    assert "support" in browser.text("#card-facts")
    browser.screenshot("01-card-while-ringing")
    assert world.bridged(caller) == "2201"
    browser.until_text("#card-phase", "Talking")
    browser.screenshot("02-talking")

    browser.click("#hold")
    world.wait(lambda e: e.name == "CHANNEL_HOLD")
    browser.until_text("#card-phase", "On hold")
    assert browser.js("return document.querySelector('#hold').disabled")
    browser.screenshot("03-on-hold")
    browser.click("#unhold")
    world.wait(lambda e: e.name == "CHANNEL_UNHOLD")
    browser.until_text("#card-phase", "Talking")

    browser.click("#dtmf-pad button[aria-label='Send 5']")
    assert world.wait(lambda e: e.name == "DTMF")["DTMF-Digit"] == "5"

    # a transfer to the sales queue: 2001 takes the caller, 2201's card says so
    browser.select("#transfer-kind", "queue")
    browser.type("#transfer-to", "sales")
    browser.click("#transfer-form button[type=submit]")
    assert world.bridged_again(caller) == "2001"
    browser.until_text("#card-phase", "Transferred")
    browser.until(lambda: "answered by me" in (browser.text("#recent tbody") or ""),
                  what="the call in the recent calls")
    browser.screenshot("04-transferred")

    # a second call, hung up from the page
    second = world.call("support", number="+4930555777", name="Max")
    browser.until_text("#card-title", "Max")
    assert world.bridged(second) == "2201"
    browser.until_text("#card-phase", "Talking")
    browser.click("#hangup")
    assert world.hung_up(second)["Hangup-Cause"] == "NORMAL_CLEARING"
    browser.until_text("#card-phase", "Call ended")

    # click-to-dial from a tel: link: the number is filled in, the agent presses Dial
    world.wait_agent("2201", state="waiting")
    browser.get(base + "/?dial=tel%3A%2B49-30-555-001")
    browser.until(lambda: browser.js("return document.querySelector('#dial-to').value")
                  == "+4930555001", what="the tel: link's number in the dial box")
    browser.until(lambda: browser.js("return document.querySelector('#link').dataset.state")
                  == "live", what="the stream after the reload")
    browser.click("#dial-form button[type=submit]")
    browser.until_text("#card-phase", "Calling")
    leg = browser.js("return document.querySelector('#card').dataset.call")
    created = world.wait(lambda e: e.name == "CHANNEL_CREATE" and e.uuid == leg)
    assert created["variable_acd_agent"] == "2201"
    world.wait(lambda e: e.name == "CHANNEL_BRIDGE" and e.get("Bridge-A-Unique-ID") == leg,
               timeout=15)
    browser.until_text("#card-phase", "Talking", timeout=15)
    browser.screenshot("05-outbound")
    browser.click("#hangup")
    world.hung_up(leg)
    browser.until_text("#card-phase", "Call ended")
    assert browser.console_errors() == []


def test_a_supervisor_watches_the_wallboard_and_listens_in(cti_factory, browser):
    world = cti_factory({"support": {"tiers": ["2201"], "ring-timeout": 10}},
                        {"2201": {"status": "on-break"}, "2003": {"role": "supervisor"}}, cti=CTI)
    daemon, admin = world.daemon()
    base = f"http://127.0.0.1:{daemon.http.server_port}"
    sign_in(browser, base + "/wallboard", "2003")
    row = "#queues tr[data-queue=support]"
    browser.until(lambda: browser.visible(row), what="the support queue's row")
    assert browser.js(f"return document.querySelector('{row}').cells[1].textContent") == "0"

    caller = world.call("support", name="Waiting Caller")   # 2201 is on break: the caller waits
    browser.until(lambda: browser.js(
        f"return document.querySelector('{row}').cells[1].textContent") == "1",
        what="the waiting caller on the wallboard")
    browser.until(lambda: browser.js(f"return document.querySelector('{row} .longest')"
                                     ".textContent") not in ("–", "0:00"),
                  what="the longest wait counting")
    browser.screenshot("01-wallboard-waiting")

    admin.put("/api/v1/agents/2201/status", {"status": "available"})
    assert world.bridged(caller) == "2201"
    agent_row = "#agents tr[data-agent='2201']"
    browser.until(lambda: browser.js(
        f"return document.querySelector(\"{agent_row} [data-state]\").dataset.state") == "in-call",
        what="2201 in a call on the wallboard")
    browser.until(lambda: browser.js(
        f"return document.querySelector('{row}').cells[1].textContent") == "0",
        what="the queue empty again")
    browser.type("#sup-contact", "user/2002")
    browser.click(f"{agent_row} button[aria-label='listen to Agent 2201']")
    spy = world.wait(lambda e: e.name == "CHANNEL_CREATE" and "2002" in e.get("Channel-Name", ""))
    assert spy.get("variable_eavesdrop_whisper_bleg") is None        # listen: nobody hears it
    browser.screenshot("02-wallboard-in-call")
    assert browser.text("#board-error") == ""
    assert browser.console_errors() == []


def test_an_agent_cannot_open_the_wallboard_and_the_pages_forbid_foreign_scripts(cti_factory,
                                                                                 browser):
    world = cti_factory({"support": {"tiers": ["2001"]}}, cti=CTI)
    daemon, admin = world.daemon()
    base = f"http://127.0.0.1:{daemon.http.server_port}"
    sign_in(browser, base + "/wallboard", "2001", live=False)
    browser.until_text("main", "The wallboard is for supervisors")
    assert not browser.visible("#board-view")
    page = Client(daemon.http.server_port, None, False)           # pages need no token
    answer = page.request("GET", "/")
    assert answer.status == 200 and b"agent desktop" in answer.data
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert page.request("GET", "/static/../acd.yaml").status == 404
    assert page.request("GET", "/static/nosuch.js").status == 404
    assert page.request("GET", "/static/desktop.js").headers["content-type"].startswith(
        "text/javascript")


def test_the_desktop_shows_a_lost_connection_and_misses_no_event(cti_factory, browser):
    """The HTTP server goes away (a network blip, a restarting proxy) while a call is offered:
    the page says it is reconnecting, and once back the card of the call it missed shows."""
    world = cti_factory({"support": {"tiers": ["2201"], "ring-timeout": 10}},
                        {"2201": {"status": "on-break"}}, cti=CTI)
    daemon, admin = world.daemon()
    network = CuttableProxy(daemon.http.server_port)
    sign_in(browser, f"http://127.0.0.1:{network.port}/", "2201")
    network.refusing = True
    network.cut()
    browser.until(lambda: browser.js("return document.querySelector('#link').dataset.state")
                  == "reconnecting", what="the page to notice the lost connection")
    assert "reconnecting" in browser.text("#link")
    browser.screenshot("01-reconnecting")
    # meanwhile: the agent is made available and a call is offered to it
    daemon.service.set_agent_status("2201", "available")
    caller = world.call("support", number="+4930555999", name="Missed While Away")
    world.wait(lambda e: e.name == "CHANNEL_CREATE" and e.get("variable_acd_agent") == "2201")
    network.refusing = False                                # the network is back
    browser.until(lambda: browser.js("return document.querySelector('#link').dataset.state")
                  == "live", timeout=20, what="the stream to come back")
    browser.until_text("#card-title", "Missed While Away")
    browser.until_text("#status-badge", "available")
    assert world.bridged(caller) == "2201"
    browser.until_text("#card-phase", "Talking")
    browser.screenshot("02-back-with-the-call")
    network.stop()


def test_the_agent_consents_and_pauses_and_stops_a_recording_from_the_desktop(cti_factory,
                                                                              browser, tmp_path):
    policy = {"mode": "consent", "purpose": "quality assurance and training",
              "announcement": "recording/consent-support.wav", "prompt-timeout": 3,
              "revoked-sound": "recording/stopped.wav",
              "path-template": f"{tmp_path}/rec/{{date}}/{{call_uuid}}.wav"}
    world = cti_factory({"support": {"tiers": ["2201"], "ring-timeout": 10, "recording": policy}},
                        cti=CTI)
    world.driver.register_handle("CHANNEL_EXECUTE", world.events.put)
    world.driver.subscribe("CHANNEL_EXECUTE")
    daemon, admin = world.daemon()
    sign_in(browser, f"http://127.0.0.1:{daemon.http.server_port}/", "2201")
    assert not browser.js("return document.querySelector('#consent').checked")
    browser.click("#consent")
    world.wait_agent("2201")      # the desk is ready
    browser.until(lambda: admin.get("/api/v1/agents/2201").json["recording_consent"]["consent"],
                  what="the agent's consent in acd")

    caller = world.call("support", queued=False)
    world.wait(lambda e: e.name == "CHANNEL_EXECUTE" and e.uuid == caller
               and e.get("Application") == "play_and_get_digits", what="the announcement")
    world.dtmf(caller, "1")                                  # the caller consents
    assert world.bridged(caller) == "2201"
    browser.until_text("#rec", "Recording")
    browser.screenshot("01-recording")
    browser.click("#rec-pause")
    browser.until_text("#rec", "paused")
    browser.click("#rec-resume")
    browser.until(lambda: browser.text("#rec") == "● Recording", what="the recording resumed")
    files = list((tmp_path / "rec").rglob("*.wav"))
    assert len(files) == 1
    browser.click("#rec-stop")
    browser.until_text("#rec", "deleted")
    assert not files[0].exists()                             # on-revoke: delete
    browser.screenshot("02-recording-stopped")
    assert browser.js("return document.querySelector('#rec-controls').hidden")
    assert browser.console_errors() == []


def test_the_crm_card_is_on_screen_before_the_phone_answers(cti_factory, browser):
    from tests.crm_servers import Crm
    from tests.test_crm import with_crm

    crm = Crm()
    try:
        world = with_crm(cti_factory({"support": {"tiers": ["2201"], "ring-timeout": 10}},
                                     cti=CTI), crm.url + "/contacts?phone={caller_number}")
        daemon, _ = world.daemon()
        sign_in(browser, f"http://127.0.0.1:{daemon.http.server_port}/", "2201")
        world.call("support", number="+4930111222", name="Max")
        browser.until_text("#crm-title", "Max Mustermann \u2014 ACME GmbH")
        assert not agent_answered(world, "2201"), "the phone answered before the CRM card showed"
        browser.screenshot("01-crm-card-while-ringing")
        assert browser.js("return [...document.querySelectorAll('#crm-fields dt, #crm-fields dd')]"
                          ".map(n => n.textContent)") == [
            "name", "Max Mustermann", "company", "ACME GmbH", "tier", "gold"]
        link = "document.querySelector('#crm-open')"
        assert browser.js(f"return {link}.href") == "https://crm.example/contacts/42"
        assert browser.js(f"return [{link}.target, {link}.rel, {link}.hidden]") == [
            "_blank", "noopener noreferrer", False]
    finally:
        crm.stop()


def test_the_desktop_asks_for_the_wrap_up_code(cti_factory, browser):
    world = cti_factory({"support": {"tiers": ["2001"], "wrap-up-codes": ["sale", "callback"],
                                     "wrap-up-code-required": True, "wrap-up-code-wins": True}},
                        {"2001": {"wrap-up-time": 1}}, cti=CTI)
    daemon, _ = world.daemon()
    sign_in(browser, f"http://127.0.0.1:{daemon.http.server_port}/", "2001")
    caller = world.call("support", number="+4930111222")
    assert world.bridged(caller) == "2001"
    browser.until(lambda: browser.js("return document.querySelector('#card').dataset.phase")
                  == "talking", what="the call answered on the desktop")
    world.hangup(caller)
    browser.until(lambda: browser.visible("#wrap-up-form"), what="the wrap-up form")
    browser.screenshot("01-wrap-up-form")
    browser.select("#wrap-up-code", "callback")
    browser.type("#wrap-up-note", "call back at 5")
    browser.click("#wrap-up-form button[type=submit]")
    browser.until(lambda: not browser.visible("#wrap-up-form"), what="the code saved")
    entries = world.store.redis.xrange("acd:wrap-ups")
    assert [(e["code"], e["note"], e["agent"]) for _, e in entries] == [
        ("callback", "call back at 5", "2001")]
    world.wait_agent("2001", state="waiting", timeout=5)
