"""The simulated switch core: the channel registry and the transitions every channel shares.

Theory of operation: ``Switch`` owns the channels, the event bus, the users and the clock.
Each transition method (``running_state``, ``callstate``, ``ring_ready``, ``pre_answer``,
``answer``, ``hangup``, ``hangup_phase``, ``destroy``) changes a channel and fires the events
FreeSWITCH fires for it, in the captured order. Endpoint scripts (endpoints.py), the originate
logic (originate.py), sessions (session.py) and the API (api.py) are built from these.

All of it runs in gevent greenlets without yielding while it changes state, so no locks are
needed; waiting happens only in sessions and jobs.
"""

import logging
import re
import time

import gevent.event

from acd.sim.bus import EventBus
from acd.sim.cdr import cdr_variables
from acd.sim.channel import PCMU
from acd.sim.event import Event, Identity

log = logging.getLogger("acd.sim.switch")

CALLSTATE_NUMBERS = {"DOWN": 0, "DIALING": 1, "RINGING": 2, "EARLY": 3, "ACTIVE": 4,
                     "HELD": 5, "RING_WAIT": 6, "HANGUP": 7, "UNHELD": 8}
_PRESENCE = {  # phase -> (status, call-info-state, calling file, function, line)
    "routing": (None, None, "src/switch_core_state_machine.c", "check_presence", "521"),
    "answered": ("answered", "active", "src/switch_channel.c",
                 "switch_channel_perform_mark_answered", "3904"),
    "hangup": (None, "idle", "src/switch_core_state_machine.c", "check_presence", "521"),
}


#: Inbound legs: the call state set when the state machine enters these states.
_RINGING_AGAIN = {"CS_ROUTING": "RINGING", "CS_EXECUTE": "ACTIVE"}


class Switch:
    def __init__(self, config, clock=time.time, identity=None):
        self.config = config
        self.clock = clock
        self.identity = identity or Identity(clock=clock)
        self.bus = EventBus()
        self.channels = {}
        self.users = dict(config.users)
        self.patterns = [(re.compile(key), apps) for key, apps in config.dialplan.items()
                         if key.startswith("^")]
        self.started = clock()
        self.session_ids = 0
        self.sessions_since_startup = 0
        self.peak_sessions = 0

    # --- clock, ids ------------------------------------------------------------------------

    def now_us(self):
        return int(self.clock() * 1000000)

    def next_session_id(self):
        self.session_ids += 1
        return self.session_ids

    def add_channel(self, ch):
        self.channels[ch.uuid] = ch
        ch.signal = gevent.event.Event()
        self.sessions_since_startup += 1
        self.peak_sessions = max(self.peak_sessions, len(self.channels))

    def extension_for(self, destination, context="default", ch=None):
        """The simulated XML dialplan of context ``default``: destination -> [(application,
        argument), ...] or None. An exact key wins; then the ``^regex`` keys in their order
        (a catch-all such as the vanilla ``^(.*)$``), whose captures ($0, $1, ...) go to the
        channel ``ch`` as ``DP_MATCH``. Any other context has no extensions."""
        if context != "default":
            return None
        apps = self.config.dialplan.get(destination)
        if apps is None and not destination.startswith("^"):
            for pattern, candidate in self.patterns:
                match = pattern.search(destination)
                if match:
                    apps = candidate
                    if ch is not None:
                        ch.unset_var("DP_MATCH")
                        for group in (match.group(0),) + match.groups():
                            ch.push_var("DP_MATCH", group or "")
                    break
        return list(apps) if apps is not None else None

    def find(self, uuid):
        ch = self.channels.get((uuid or "").strip())
        return None if ch is None or ch.destroyed else ch

    # --- firing ----------------------------------------------------------------------------

    def fire(self, name, build, subclass=None, body=None, calling=None, now=None):
        """Fire a non-channel event; ``build()`` returns its own headers (after the standard)."""
        if not self.bus.wants(name, subclass):
            return None
        std = self.identity.standard_headers(name, calling or subclass, now)
        headers = [("Event-Subclass", subclass)] + std if subclass else std
        event = Event(name, headers + build(), body, subclass)
        self.bus.publish(event)
        return event

    def fire_channel(self, ch, name, pre=(), post=(), calling=None, with_vars=None, body=None,
                     lead=()):
        """A channel event; ``lead`` headers go before even the standard ones."""
        if not self.bus.wants(name):
            return None
        std = self.identity.standard_headers(name, calling)
        if lead:
            std = list(lead) + std
        headers, lines = ch.event(std, name, pre, post, with_vars)
        event = Event(name, headers, body, lines=lines)
        self.bus.publish(event)
        return event

    # --- states ----------------------------------------------------------------------------

    def create(self, ch):
        """CHANNEL_CREATE; the core's channel list remembers the profile from here."""
        ch.first_profile = ch.listed_profile = ch.profile.clone()
        self.fire_channel(ch, "CHANNEL_CREATE")

    def running_state(self, ch, state):
        """The channel's state machine ran ``state``: CHANNEL_STATE. An inbound leg rings
        again when it (re)enters CS_ROUTING and is ACTIVE again once it runs an answered
        extension (a transferred caller: ACTIVE -> RINGING -> ACTIVE, as captured)."""
        ch.set_state(state, state)
        if ch.direction == "inbound" and state in _RINGING_AGAIN:
            self.callstate(ch, _RINGING_AGAIN[state] if state == "CS_ROUTING" or ch.answered
                           else ch.callstate)
        self.fire_channel(ch, "CHANNEL_STATE")

    def callstate(self, ch, new):
        if ch.callstate == new:
            return
        original, ch.callstate = ch.callstate, new
        self.fire_channel(ch, "CHANNEL_CALLSTATE", pre=[
            ("Original-Channel-Call-State", original),
            ("Channel-Call-State-Number", str(CALLSTATE_NUMBERS[new]))])

    def presence(self, ch, phase):
        status, info, file_, func, line = _PRESENCE[phase]
        if info is None:   # routing: what the call is by now
            info = "active" if ch.answered else (
                "alerting" if ch.direction == "inbound" else "progressing")
        count = ch.presence_count
        ch.presence_count += 1
        self.fire_channel(ch, "PRESENCE_IN", with_vars=False, post=[
            ("proto", "any"), ("login", "src/switch_channel.c"), ("from", ch.presence_id),
            ("rpid", "unknown"), ("status", status or ch.running), ("event_type", "presence"),
            ("alt_event_type", "dialog"), ("presence-call-info-state", info),
            ("presence-call-direction", ch.direction), ("event_count", str(count)),
            ("Presence-Calling-File", file_), ("Presence-Calling-Function", func),
            ("Presence-Calling-Line", line)])

    def codec_events(self, ch, codec, real_read=False):
        """CODEC twice: the read codec is set, then the write codec (as the core does)."""
        if real_read:
            for name, value in (("read_codec", codec.name), ("original_read_codec", codec.name),
                                ("read_rate", codec.rate), ("original_read_rate", codec.rate),
                                ("write_codec", codec.name), ("write_rate", codec.rate)):
                ch.set_var(name, value)
            ch.write_codec = codec
        ch.read_codec = codec
        self.fire_channel(ch, "CODEC", calling="CODEC_REAL_READ" if real_read else "CODEC",
                          with_vars=False, post=[
                              ("channel-read-codec-name", codec.name),
                              ("channel-read-codec-rate", codec.rate),
                              ("channel-read-codec-bit-rate", codec.bit_rate)])
        ch.write_codec = codec
        self.fire_channel(ch, "CODEC", calling="CODEC_WRITE", with_vars=False, post=[
            ("Channel-Write-Codec-Name", codec.name), ("Channel-Write-Codec-Rate", codec.rate),
            ("Channel-Write-codec-bit-rate", codec.bit_rate)])

    # --- call progress ---------------------------------------------------------------------

    def ring_ready(self, ch):
        """180 Ringing: CHANNEL_PROGRESS, then CALLSTATE RINGING. Loopback rings its A leg too."""
        if ch.progress_us or ch.answered or ch.hung_up:
            return
        ch.progress_us = ch.profile.times.progress = self.now_us()
        if ch.is_sip and not ch.profile.network_addr:
            ch.profile.network_addr = "127.0.0.1"
        if ch.peer is not None and ch.direction == "inbound":
            self.ring_ready(ch.peer)
        self.fire_channel(ch, "CHANNEL_PROGRESS")
        self.callstate(ch, "RINGING")
        self._notify(ch)

    def pre_answer(self, ch):
        """183 with media: CHANNEL_PROGRESS_MEDIA, CALLSTATE EARLY (an inbound SIP caller's
        media is set up first: CODEC x2)."""
        if ch.answer_state != "ringing" or ch.hung_up:
            return
        if ch.peer is not None and ch.direction == "inbound":
            self.pre_answer(ch.peer)
        if ch.kind == "sip" and ch.read_codec is None:
            self.codec_events(ch, PCMU, real_read=True)
        ch.answer_state = "early"
        ch.profile.times.progress_media = self.now_us()
        ch.set_var("endpoint_disposition", "EARLY MEDIA")
        self.fire_channel(ch, "CHANNEL_PROGRESS_MEDIA")
        self.callstate(ch, "EARLY")
        self._notify(ch)

    def answer(self, ch):
        """CHANNEL_ANSWER (+ CODEC before and PRESENCE_IN after on SIP legs), CALLSTATE ACTIVE.
        An inbound SIP caller is answered as FreeSWITCH does it: 183 with media, then 200."""
        if ch.answered or ch.hung_up:
            return False
        if ch.peer is not None and ch.direction == "inbound":
            self.answer(ch.peer)
        if ch.kind == "sip":
            self.pre_answer(ch)
        elif ch.is_sip:
            self.codec_events(ch, PCMU, real_read=True)
        ch.answered_us = ch.profile.times.answered = self.now_us()
        ch.answer_state = "answered"
        self.fire_channel(ch, "CHANNEL_ANSWER")
        ch.set_var("endpoint_disposition", "ANSWER")
        if ch.presence_id:
            self.presence(ch, "answered")
        self.callstate(ch, "ACTIVE")
        self._notify(ch)
        return True

    def flip_cid(self, ch, calling="CALL_UPDATE", swap=False):
        """An outbound leg swaps caller and callee ids after answer: CALL_UPDATE RECV.
        ``swap``: the callee id exists even where it is empty (a transferred leg's flip)."""
        p = ch.profile
        old_name, old_number = p.cid_name, p.cid_number
        if p.callee_name or swap:
            ch.set_var("pre_transfer_caller_id_name", old_name)
            p.cid_name = p.callee_name
        if p.callee_number or swap:
            ch.set_var("pre_transfer_caller_id_number", old_number)
            p.cid_number = p.callee_number
        p.callee_name, p.callee_number = old_name, old_number
        ch.hit_dialplan = True
        ch.listed_profile = p.clone()
        ch.set_var("channel_cid_flipped", "yes")
        self.fire_channel(ch, "CALL_UPDATE", calling=calling, pre=[("Direction", "RECV")])

    # --- hangup ----------------------------------------------------------------------------

    def hangup(self, ch, cause="NORMAL_CLEARING"):
        """CHANNEL_HANGUP now; the rest of the teardown is run by the owner of the channel."""
        if ch.hung_up or ch.destroyed:
            return False
        ch.hangup_cause = cause
        ch.answer_state = "hangup"
        ch.state = 10
        ch.profile.times.hungup = self.now_us()
        bridged = ch.partner is not None and not ch.partner.hung_up
        if bridged:
            ch.partner.set_var("last_bridge_hangup_cause", cause)
            ch.set_var("last_bridge_role", "originator" if ch.other_type == "originatee"
                       else "originatee")
        self.fire_channel(ch, "CHANNEL_HANGUP")
        if bridged:   # the hung-up leg keeps it while its application winds down
            ch.partner.unset_var("bridge_to")
        if ch.peer is not None and not ch.peer.hung_up:
            self._hangup_peer(ch.peer, cause)
        if ch.partner is not None and ch.other_type == "originatee":
            self.hangup(ch.partner, cause)
        if ch.partner is not None:
            ch.partner.signal.set()
        for watcher in ch.watchers:
            watcher.signal.set()
        self._notify(ch)
        return True

    def _hangup_peer(self, peer, cause):
        """Loopback: the other leg hangs up with the same cause. The A leg (outbound) first
        leaves what it runs (UNPARK before HANGUP, as captured); the B leg hangs up at once."""
        session = peer.session
        if (peer.direction == "outbound" and session is not None and session.running
                and not session.finishing):
            session.hangup_when_idle(cause)
        else:
            self.hangup(peer, cause)

    def hangup_phase(self, ch):
        """CS_HANGUP .. CHANNEL_HANGUP_COMPLETE (the reporting state)."""
        ch.unset_var("bridge_to")
        self.running_state(ch, "CS_HANGUP")
        if ch.session is not None:
            ch.session.close_media("success-silence")
        self.callstate(ch, "HANGUP")
        ch.state = 11
        if ch.presence_id:
            self.presence(ch, "hangup")
        self.running_state(ch, "CS_REPORTING")
        self._cdr_variables(ch)
        self.fire_channel(ch, "CHANNEL_HANGUP_COMPLETE", pre=[("Hangup-Cause", ch.hangup_cause)])
        if ch.partner is not None:
            ch.partner.signal.set()

    def destroy(self, ch):
        """CHANNEL_DESTROY and CS_DESTROY; the channel is gone afterwards."""
        if ch.destroyed:
            return
        ch.state = 12
        self.fire_channel(ch, "CHANNEL_DESTROY")
        self.running_state(ch, "CS_DESTROY")
        ch.destroyed = True
        self.channels.pop(ch.uuid, None)
        for timer in ch.timers:
            timer.kill(block=False)

    def _notify(self, ch):
        ch.signal.set()
        if ch.originating is not None:
            ch.originating.changed.set()

    def _cdr_variables(self, ch):
        ch.set_vars(cdr_variables(ch, self.now_us()))
        if ch.kind == "loopback":
            ch.set_var("is_loopback", 1)
        if ch.completed_elsewhere:
            ch.set_var("call_completed_elsewhere", "true")
