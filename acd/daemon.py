"""``acd run``: the daemon -- ESL + Redis + HTTP around the router.

Theory of operation
-------------------
Everything that changes state runs in ONE greenlet, reading an inbox: ESL events (the ESL client's
handler only posts them), background-originate results, clock ticks and resyncs. So the router
never races itself; several daemons race only through Redis, whose scripts are atomic.

Start: sync the configured agents into Redis (runtime state is kept), connect to FreeSWITCH
(retrying), subscribe, then *resync*: ``show channels as json`` plus Redis tell which callers and
agents this daemon owns. The same resync runs after every ESL reconnect, after Redis comes
back from an error, and when another Redis server answers than before (a restart, a failover:
acd.store.daemons), so a restart or a dropped connection loses no caller and leaves no agent
stuck, and an agent whose reservation Redis lost is held again (never in two calls at once).
"""

import json
import logging
import os
import socket

import gevent
import gevent.event
import gevent.queue
import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from acd import clock as clock_module
from acd.admin import Admin
from acd.callcontrol import CallControl
from acd.config import ConfigError
from acd.cti.runtime import Cti
from acd.esl import EslError, NotConnectedError, Switch
from acd.ivr import Ivr
from acd.outbound import Outbound
from acd.records import Recorder
from acd.recording import Recordings
from acd.reconfigure import Reconfigure
from acd.recovery import Recovery
from acd.router import Router
from acd.service import Service
from acd.store import Store, TierRef
from acd.store.connect import connect
from acd.store.recording import RecordingStore
from acd.wakeups import Wakeups

log = logging.getLogger("acd.daemon")

#: The events the daemon subscribes to (FreeSWITCH names).
EVENTS = ("CHANNEL_PARK", "CHANNEL_BRIDGE", "CHANNEL_HANGUP", "CHANNEL_UNBRIDGE", "DTMF",
          "CHANNEL_HOLD", "CHANNEL_UNHOLD", "BACKGROUND_JOB", "HEARTBEAT")
#: ... and, when the config has IVR menus or business hours, the IVR's prompts' results. (Every
#: application a channel runs ends with one: FreeSWITCH's busiest event, not asked for idly.)
IVR_EVENTS = ("CHANNEL_EXECUTE_COMPLETE",)


def events_for(config):
    """The event names a daemon with this config subscribes to."""
    uses_ivr = bool(config.ivrs) or any(q.schedule or q.recording.consent for q in config.queues)
    return EVENTS + (IVR_EVENTS if uses_ivr else ())
#: Seconds between ticks (wrap-up ends, leases, max-wait, announcements, periodic dispatch).
TICK = 0.25


class Daemon:
    def __init__(self, config, *, clock=clock_module.now, owner=None, tick=TICK, http=True,
                 observers=(), metrics=True, config_path=None, config_data=None):
        """``metrics``: keep Prometheus metrics (acd.metrics; served at GET /metrics). Call
        records go to Redis unless ``records.max-length`` is 0. ``config_path``: the acd.yaml
        to reload (default: ``config.source`` when it is a file); ``config_data``: its mapping
        (default: read from it) -- the base of run-time changes (acd.reconfigure)."""
        self.config = config
        self.clock = clock
        self.tick_interval = tick
        fs = config.freeswitch
        self.owner = owner or f"{socket.gethostname()}/{fs.host}:{fs.port}"
        client = connect(
            config.redis, socket_timeout=5, socket_connect_timeout=2,
            health_check_interval=10,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2))  # fail fast: resync heals
        self.store = Store(client, config.redis.prefix, tiers_of=self._tiers_of)
        self.redis_errors = 0
        observers = list(observers)
        self.metrics = None
        if metrics:
            from acd.metrics import Metrics  # the routing core never imports prometheus_client
            self.metrics = Metrics(config, clock=clock, owner=self.owner)
            observers.append(self.metrics.observe)
        if config.records.max_length:
            observers.append(Recorder(config, self.store, clock, self.owner))
        self.cti = Cti(lambda: self.config, self.store, clock, self.owner)  # events, day counts
        observers += self.cti.observers
        self.esl = Switch(fs.host, fs.port, fs.password, connections=fs.command_connections,
                          command_timeout=fs.command_timeout,
                          heartbeat_timeout=fs.heartbeat_timeout,
                          on_connect=lambda: self.post(self.resync),
                          on_command=self._command_timed, on_event=self._event_received)
        self.inbox = gevent.queue.Queue()
        self.router = Router(config, self.store, self.esl, self.owner, clock, post=self.post,
                             observers=observers)
        self._crm(client)
        self._handlers = {"CHANNEL_PARK": self.router.on_park,
                          "CHANNEL_BRIDGE": self.router.on_bridge,
                          "CHANNEL_HANGUP": self.router.on_hangup,
                          "CHANNEL_UNBRIDGE": self.router.on_unbridge, "DTMF": self.router.on_dtmf,
                          "CHANNEL_HOLD": self.router.on_hold, "CHANNEL_UNHOLD": self.router.on_hold}
        self.outbound = self.router.outbound = Outbound(config, self.store, self.esl, clock,
                                                        self.post, self.owner, self.router)
        self.control = CallControl(config, self.router, self.store, self.esl, self.post,
                                   self.outbound)
        # the IVR sees parks, hangups, digits first and passes on what is not its callers'
        self.ivr = Ivr(config, self.router, self.esl, clock)
        self.recordings = Recordings(config, self.router, RecordingStore.of(self.store),
                                     self.esl, clock, self.post)
        self.router.observers.append(self.recordings.observe)
        self.router.recordings = self.ivr.recordings = self.control.recordings = self.recordings
        self._handlers.update({"CHANNEL_PARK": self._on_park,
                               "CHANNEL_HANGUP": self._on_hangup, "DTMF": self.ivr.on_dtmf,
                               "CHANNEL_EXECUTE_COMPLETE": self.ivr.on_execute_complete})
        self.service = Service(config, self.store, clock,
                               on_agent_change=lambda agent_id: self.post(self._agent_changed, agent_id),
                               health_checks=[self._esl_health],
                               on_agent_status=lambda agent_id, details: self.post(
                                   self.cti.agent_status, self.router, agent_id, details))
        if self.metrics is not None:
            self.metrics.bind(self)
            self.service.metrics = self.metrics
        self.wakeups = Wakeups(self.store, self.owner,
                               lambda queue: self.post(self.router.woken, queue))
        self._reconfiguring(config_path, config_data)
        self.http_enabled = http
        self.http = None
        self.needs_resync = False
        #: set by the first complete resync: ESL and Redis answered, agents synced
        self.ready = gevent.event.Event()
        #: called with the daemon on every tick, in the loop (acd/systemd_notify.py's watchdog)
        self.tick_hooks = []
        self._greenlets = []
        self._stopped = gevent.event.Event()

    def _crm(self, client):
        """The CRM lookup (acd.crm, when configured) and the wrap-up codes (acd.wrapup) as
        more router observers."""
        from acd.store.crm import CrmStore
        from acd.wrapup import WrapUps
        store = CrmStore(client, self.store.keys)
        self.router.observers.append(WrapUps(self.config, store, self.cti.events, self.clock))
        self.webhooks = self.crm = None
        if self.config.webhooks:
            from acd.webhooks import Webhooks
            self.webhooks = Webhooks(self.config, client, self.store.keys, self.owner,
                                     self.store.hold_lease)
            self.cti.events.taps.append(self.webhooks.tap)
        if self.config.crm is not None:
            from acd.crm import CrmLookup
            self.crm = CrmLookup(self.config.crm, self.router, self.cti.events, store)
            self.router.observers.append(self.crm)

    def _reconfiguring(self, path, data):
        """Reloads and run-time changes (acd.reconfigure, acd.admin)."""
        if path is None and os.path.isfile(self.config.source):
            path = self.config.source
        try:
            self.reconfigure = Reconfigure(self, path, data)
        except ConfigError as exc:   # the file went away since it was loaded
            log.error("no reloads or run-time changes: %s", exc)
            self.reconfigure = Reconfigure(self, None, None)
        self.admin = Admin(self.reconfigure, self.service, self.post)

    def reload(self):
        """SIGHUP: read acd.yaml again and apply it; a broken file changes nothing. Returns
        why it was refused, or None."""
        try:
            changes = self.reconfigure.reload()
        except ConfigError as exc:
            log.error("reload refused, nothing changed:\n%s", exc)
            return str(exc).splitlines()[0] if str(exc) else "invalid configuration"
        self.reconfigure.publish(changes, "reload")
        return None

    def _tiers_of(self, agent_id):
        return [TierRef(q.name, q.strategy, t.level, t.position, q.skill_order,
                        self.config.match_sets(q.name))
                for q, t in self.config.queues_of(agent_id)]

    def _command_timed(self, name, seconds):
        """A command answered (a job: run) after ``seconds``: metrics and the originate window."""
        self.router.window.command(name, seconds, self.clock())
        if self.metrics is not None:
            self.metrics.on_command(name, seconds)

    def _event_received(self, name, lag):
        """An event arrived ``lag`` seconds after FreeSWITCH stamped it (None: no stamp)."""
        if lag is None:
            return
        self.router.window.event(lag, self.clock())
        if self.metrics is not None:
            self.metrics.on_event(name, lag)

    def _esl_health(self):
        if self.esl.connected:
            return "esl", True, ""
        return "esl", False, f"not connected to FreeSWITCH at {self.esl.host}:{self.esl.port}"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, wait_connected=None):
        self.reconfigure.start()
        self.sync_agents()
        events = events_for(self.config)
        for name in events:
            self.esl.register_handle(name, self._on_event)
        self.esl.subscribe(*events)
        self._greenlets = [gevent.spawn(self._loop), gevent.spawn(self._ticker)]
        self.wakeups.start()
        if self.webhooks is not None:
            self.webhooks.start()
        if self.http_enabled:
            from acd.http import serve
            desk = self.cti.start(self.service, self.config.http.admin_token, self.control)
            desk.admin = self.admin
            self.http = serve(self.service, self.config.http.listen_host,
                              self.config.http.listen_port, self.config.http.admin_token, desk)
        self.esl.start()
        if wait_connected is not None and not self.esl.wait_connected(wait_connected):
            raise ConnectionError(f"FreeSWITCH at {self.esl.host}:{self.esl.port} is not reachable")
        return self

    def stop(self):
        self._stopped.set()
        # routing ends first: a tick still in the inbox would mark this daemon alive again after
        # mark_gone, and its parked callers would hold the other daemons' queue order for
        # ALIVE_FOR seconds more (seen in CI: 2.3 s)
        gevent.killall([g for g in self._greenlets if g is not gevent.getcurrent()], block=True,
                       timeout=2)
        self.wakeups.stop()
        try:
            self.store.mark_gone(self.owner)  # its callers stop holding other daemons' order
        except redis.RedisError:
            pass
        self.esl.stop()
        if self.http is not None:
            self.http.stop(timeout=1)
        self.cti.stop()
        if self.webhooks is not None:
            self.webhooks.stop()
        if self.crm is not None:
            self.crm.stop()

    def run_forever(self):
        self._stopped.wait()

    def post(self, fn, *args):
        self.inbox.put((fn, args))

    def _loop(self):
        for fn, args in self.inbox:
            try:
                fn(*args)
            except redis.RedisError as exc:
                self.needs_resync = True
                self.redis_errors += 1
                log.error("redis error in %s: %s (will resync)", getattr(fn, "__name__", fn), exc)
            except Exception:
                log.exception("error in %s", getattr(fn, "__name__", fn))

    def _ticker(self):
        while not self._stopped.is_set():
            gevent.sleep(self.tick_interval)
            self.post(self._tick)

    def _tick(self):
        for hook in self.tick_hooks:
            try:
                hook(self)
            except Exception:
                log.exception("error in tick hook %s", hook)
        if self.store.lost_sync(self.owner) and not self.needs_resync:
            log.warning("redis may have lost acd's latest writes (restarted, failed over): "
                        "resyncing")
            self.needs_resync = True
        if self.needs_resync and self.esl.connected:
            self.needs_resync = False
            self.resync()
            return
        self.reconfigure.tick()
        self.router.tick()
        self.recordings.tick()

    # -- inputs -------------------------------------------------------------------------------

    def _on_event(self, event):
        handler = self._handlers.get(event.name)
        if handler is not None:
            self.post(handler, event)

    def _on_park(self, event):
        """A parked channel: ours when its ``acd_instance`` is this deployment's (or our own
        agent's leg); another deployment's callers are left alone (and counted)."""
        if (self.config.serves(event.get("variable_acd_instance"))
                or event.uuid in self.router.legs):
            self.ivr.on_park(event)
        elif event.get("variable_acd_queue") or event.get("variable_acd_ivr"):
            self.router.ignore(event)

    def _on_hangup(self, event):
        self.ivr.on_hangup(event)
        self.recordings.on_hangup(event.uuid)

    def _agent_changed(self, agent_id):
        self.router.dispatch([q.name for q, _ in self.config.queues_of(agent_id)])

    # -- state --------------------------------------------------------------------------------

    def sync_agents(self):
        now = self.clock()
        configured = {a.id for a in self.config.agents}
        self.store.sync_agents([(agent.id, {
            "name": agent.name, "contact": agent.contact, "max_no_answer": agent.max_no_answer,
            "wrap_up_time": agent.wrap_up_time, "reject_delay_time": agent.reject_delay_time,
            "busy_delay_time": agent.busy_delay_time,
            "no_answer_delay_time": agent.no_answer_delay_time,
            "ring_timeout": agent.ring_timeout, "skills": dict(agent.skills)}, agent.status)
            for agent in self.config.agents], now)
        for agent_id in self.store.agent_ids():
            if agent_id not in configured:
                self.store.remove_agent(agent_id, now)
        self.store.mark_synced(self.owner, now)

    def resync(self):
        try:
            listing = self.esl.api("show channels as json", timeout=30)
            rows = json.loads(listing).get("rows", []) if listing.startswith("{") else None
        except (EslError, NotConnectedError, ValueError) as exc:
            log.warning("resync postponed: %s", exc)
            self.needs_resync = True
            return
        if rows is None:
            log.warning("resync postponed: show channels answered %r", listing[:80])
            self.needs_resync = True
            return
        channels = {row["uuid"]: row for row in rows if row.get("uuid")}
        self.sync_agents()  # a Redis that restarted empty gets its agents back
        self.ivr.resync(channels)  # callers in the IVR (or at a closed queue) are the IVR's
        Recovery(self.router).resync({uuid: row for uuid, row in channels.items()
                                      if uuid not in self.ivr.sessions})
        self.recordings.resync(channels)
        self.ready.set()
        log.info("resynced: %d channels on FreeSWITCH, %d calls handled here", len(channels),
                 len(self.router.calls))


def run(config, log_format="text"):
    """``acd run``: start and serve until SIGTERM/SIGINT."""
    import signal

    from acd.systemd_notify import Systemd

    systemd = Systemd()   # Type=notify: READY, STATUS, WATCHDOG from the loop, STOPPING
    daemon = Daemon(config)
    daemon.systemd = systemd
    daemon.tick_hooks.append(systemd.tick)
    daemon.start()
    log.info("acd daemon %s up: FreeSWITCH %s:%s, redis prefix %s, http %s:%s", daemon.owner,
             config.freeswitch.host, config.freeswitch.port, config.redis.prefix,
             config.http.listen_host, daemon.http.server_port if daemon.http else "-")

    def stop():
        systemd.stopping()
        daemon.stop()

    def reload():  # SIGHUP: acd reload / systemctl reload acd
        systemd.reloading()
        daemon.post(lambda: systemd.reloaded(daemon.reload()))

    gevent.signal_handler(signal.SIGTERM, stop)
    gevent.signal_handler(signal.SIGINT, stop)
    gevent.signal_handler(signal.SIGHUP, reload)
    daemon.run_forever()
    systemd.close()
    return 0
