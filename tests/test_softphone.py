"""The desktop's softphone in a real headless Chromium with fake media devices, against a test
SIP-over-WebSocket endpoint (RFC 7118, subprotocol ``sip``) that records what arrives and plays
the switch's part: it accepts the REGISTER, then sends INVITEs. A call with ``Call-Info:
...;answer-after=0`` is answered by the page by itself (200 OK with SDP); a call without it only
rings (180) until the agent acts. Also: without the library the page says so."""

import re
import selectors
import threading
import types
import uuid

import gevent
import pytest
import websockets.sync.server
from websockets.sync.server import serve

from acd.http import pages
from tests import cti_world
from tests.browser import media_browser  # noqa: F401 (the fixture)
from tests.test_desktop import sign_in

cti_factory = cti_world.cti_factory   # the fixture
DOMAIN = "pbx.test"
#: A WebRTC offer as FreeSWITCH's would look (one Opus audio stream, DTLS-SRTP, ICE); the
#: fingerprint is never checked: no media flows in this test.
OFFER = "\r\n".join([
    "v=0", "o=FreeSWITCH 1 2 IN IP4 127.0.0.1", "s=FreeSWITCH", "t=0 0",
    "a=group:BUNDLE 0", "a=msid-semantic: WMS fs",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 8", "c=IN IP4 127.0.0.1", "a=mid:0", "a=sendrecv",
    "a=rtcp-mux", "a=ice-ufrag:acdtestufrag0001", "a=ice-pwd:acdtestpasswordpassword0001",
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32), "a=setup:actpass",
    "a=rtpmap:111 opus/48000/2", "a=rtpmap:8 PCMA/8000",
    "a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host", ""])


class SipEndpoint:
    """A WebSocket endpoint speaking ``sip``: records every message; OKs REGISTERs."""

    def __init__(self):
        self.received, self.lock, self.socket = [], threading.Lock(), None
        self.server = serve(self._session, "127.0.0.1", 0, subprotocols=["sip"])
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _session(self, socket):
        self.socket = socket
        for message in socket:
            with self.lock:
                self.received.append(message)
            if message.startswith("REGISTER "):
                socket.send(self._ok(message))

    @staticmethod
    def _ok(request):
        head = dict(line.split(": ", 1) for line in request.split("\r\n")[1:] if ": " in line)
        return "\r\n".join([
            "SIP/2.0 200 OK", f"Via: {head['Via']}", f"From: {head['From']}",
            f"To: {head['To']};tag=acdtest", f"Call-ID: {head['Call-ID']}",
            f"CSeq: {head['CSeq']}", f"Contact: {head['Contact']};expires=600",
            "Content-Length: 0", "", ""])

    def wait(self, predicate, timeout=15.0, what="a SIP message"):
        deadline = gevent.get_hub().loop.now() + timeout
        while gevent.get_hub().loop.now() < deadline:
            with self.lock:
                found = [m for m in self.received if predicate(m)]
            if found:
                return found[0]
            gevent.sleep(0.05)
        raise AssertionError(f"no {what} within {timeout} s; got {self.received!r:.2000}")

    def invite(self, contact, headers, acd_call):
        call_id = uuid.uuid4().hex
        message = "\r\n".join([
            f"INVITE {contact} SIP/2.0",
            f"Via: SIP/2.0/WS 127.0.0.1:{self.port};branch=z9hG4bK{call_id[:12]}",
            "Max-Forwards: 70", f"To: <sip:2301@{DOMAIN}>",
            f'From: "Erika Muster" <sip:+4930555123@{DOMAIN}>;tag=fs{call_id[:8]}',
            f"Call-ID: {call_id}", "CSeq: 1 INVITE",
            f"Contact: <sip:mod_sofia@127.0.0.1:{self.port};transport=ws>",
            f"X-Acd-Call: {acd_call}", *headers,
            "Content-Type: application/sdp", f"Content-Length: {len(OFFER.encode())}", "", OFFER])
        self.socket.send(message)
        return call_id

    def close(self):
        self.server.shutdown()


#: What websockets' ``serve_forever`` polls with. Its own choice, ``DefaultSelector``, is gevent's
#: selector under monkey-patching, which keeps a libev watcher running on every registered fd
#: that did not fire; ``serve_forever`` never closes its selector, and ``shutdown()`` closes the
#: listening socket and the wake-up pipe under those watchers. A watcher left on a closed fd is
#: harmless until libev rebuilds its epoll set (it does after an event for an fd closed in this
#: process but still open in a forked child, as gevent.subprocess's children are for a moment):
#: then it aborts the whole test process ("libev: I/O watcher with invalid fd found in
#: epoll_ctl", seen in test_watchdog). ``SelectSelector`` makes its watchers for each select()
#: and closes them all when it returns.
ONE_SHOT_SELECTORS = types.SimpleNamespace(DefaultSelector=selectors.SelectSelector,
                                           EVENT_READ=selectors.EVENT_READ)


@pytest.fixture
def sip_endpoint(monkeypatch):
    monkeypatch.setattr(websockets.sync.server, "selectors", ONE_SHOT_SELECTORS)
    endpoint = SipEndpoint()
    yield endpoint
    endpoint.close()


def replies(endpoint, call_id, status):
    return lambda m: m.startswith(f"SIP/2.0 {status} ") and f"Call-ID: {call_id}" in m


def test_the_softphone_registers_rings_and_answers_auto_answer_calls(cti_factory, media_browser,
                                                                    sip_endpoint):
    browser = media_browser
    phone = {"ws-url": f"ws://127.0.0.1:{sip_endpoint.port}", "domain": DOMAIN}
    world = cti_factory({"support": {"tiers": ["2301"]}}, cti={"softphone": phone})
    daemon, _ = world.daemon()
    sign_in(browser, f"http://127.0.0.1:{daemon.http.server_port}/", "2301")
    browser.until(lambda: browser.visible("#phone-login"), what="the softphone's password form")
    assert browser.text("#phone-uri") == f"sip:2301@{DOMAIN}"
    browser.type("#phone-password", "sip-secret")
    browser.click("#phone-login button[type=submit]")

    # RFC 7118: Via over WS, the agent's AOR, a Contact reachable over this WebSocket
    register = sip_endpoint.wait(lambda m: m.startswith("REGISTER "), what="a REGISTER")
    lines = register.split("\r\n")
    assert lines[0] == f"REGISTER sip:{DOMAIN} SIP/2.0"
    head = {line.split(": ", 1)[0].lower(): line.split(": ", 1)[1] for line in lines[1:] if ": " in line}
    assert head["via"].startswith("SIP/2.0/WS ")
    assert f"<sip:2301@{DOMAIN}>" in head["from"] and f"<sip:2301@{DOMAIN}>" in head["to"]
    contact = re.match(r"<([^>]+)>", head["contact"]).group(1)
    assert "transport=ws" in contact
    browser.until_text("#phone-state", "Registered")
    assert browser.js("return sessionStorage.getItem('acd.sip-password')") == "sip-secret"

    # a call without auto-answer rings: 180, no 200, until the agent rejects it
    acd_call = str(uuid.uuid4())
    plain = sip_endpoint.invite(contact, [], acd_call)
    sip_endpoint.wait(replies(sip_endpoint, plain, 180), what="180 Ringing")
    browser.until(lambda: browser.visible("#phone-answer"), what="the Answer button")
    assert browser.text("#phone-phase") == "Ringing"
    assert browser.js("return document.querySelector('#phone-call').dataset.acdCall") == acd_call
    gevent.sleep(2)
    with sip_endpoint.lock:
        assert not any(replies(sip_endpoint, plain, 200)(m) for m in sip_endpoint.received)
    browser.click("#phone-reject")
    sip_endpoint.wait(replies(sip_endpoint, plain, 486), what="486 after Reject")
    browser.until(lambda: not browser.visible("#phone-call"), what="the call to go")

    # a call with Call-Info answer-after=0 is answered by the page: 200 OK with an SDP answer
    auto = sip_endpoint.invite(contact, [f"Call-Info: <sip:{DOMAIN}>;answer-after=0"],
                               str(uuid.uuid4()))
    ok = sip_endpoint.wait(replies(sip_endpoint, auto, 200), what="200 OK to the auto-answer call")
    head, _, body = ok.partition("\r\n\r\n")
    assert "Content-Type: application/sdp" in head
    assert "m=audio" in body and "a=fingerprint:sha-256" in body
    browser.until_text("#phone-phase", "Talking")
    assert not browser.console_errors() or all("jssip" not in e["message"].lower()
                                               for e in browser.console_errors())


def test_without_the_library_the_desktop_says_so(cti_factory, media_browser, monkeypatch):
    files = {k: v for k, v in pages.static_files().items() if not k.startswith("vendor/")}
    monkeypatch.setattr(pages, "static_files", lambda: files)
    phone = {"ws-url": "wss://pbx.example.net:7443", "domain": "pbx.example.net"}
    world = cti_factory({"support": {"tiers": ["2302"]}}, cti={"softphone": phone})
    daemon, _ = world.daemon()
    sign_in(media_browser, f"http://127.0.0.1:{daemon.http.server_port}/", "2302")
    media_browser.until_text("#phone-state", "not installed")
    assert not media_browser.visible("#phone-login")
