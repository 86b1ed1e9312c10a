"""Documented defaults. Every CLI option can also be given as an ``ACD_*`` environment variable.

FreeSWITCH's own defaults are kept where acd talks to FreeSWITCH, so a stock
``event_socket.conf.xml`` works out of the box; change the password in production.
"""

#: Where the ESL server (FreeSWITCH or ``acd sim``) listens. Env: ACD_SIM_LISTEN for the simulator.
ESL_HOST = "127.0.0.1"
ESL_PORT = 8021
#: FreeSWITCH's stock event-socket password, defined once here. Env: ACD_ESL_PASSWORD.
ESL_PASSWORD = "ClueCon"
#: Seconds an ESL command may take before it fails with CommandTimeout.
ESL_COMMAND_TIMEOUT = 5.0
#: freeswitch.command-connections: ESL connections for inline commands beside the event
#: connection (acd/esl/switch.py); a call's commands always use the same one.
ESL_COMMAND_CONNECTIONS = 4
#: Reconnect backoff: first delay, factor, cap (seconds).
ESL_RECONNECT_INITIAL = 0.1
ESL_RECONNECT_FACTOR = 2.0
ESL_RECONNECT_MAX = 10.0

#: Seconds between HEARTBEAT events, as FreeSWITCH.
SIM_HEARTBEAT = 20.0

# --- The daemon's config file (acd.yaml); docs/config.md is the reference. ---------------------

#: freeswitch.max-inflight-originates: agent legs in flight at most (the adaptive window's
#: ceiling; acd/core/window.py). A 2-core FreeSWITCH bridged ~30 calls/s with ~1 s rings.
MAX_INFLIGHT_ORIGINATES = 200
#: Seconds the daemon's ESL commands may take: freeswitch.command-timeout (as ESL_COMMAND_TIMEOUT).
FREESWITCH_COMMAND_TIMEOUT = ESL_COMMAND_TIMEOUT
#: freeswitch.heartbeat-timeout: seconds without any event on the event connection (FreeSWITCH
#: sends HEARTBEAT every 20 s) -- or with a command unanswered -- after which acd declares the
#: connection dead, reconnects and resyncs: two heartbeats plus a margin.
FREESWITCH_HEARTBEAT_TIMEOUT = 45.0
#: redis.url: a database of a local redis-server. A password in the URL is never printed.
REDIS_URL = "redis://127.0.0.1:6379/0"
#: redis.prefix: every Redis key acd writes starts with "<prefix>:".
REDIS_PREFIX = "acd"
#: http.listen: the HTTP API (agents, supervisors, metrics); loopback only unless you open it.
HTTP_LISTEN_HOST = "127.0.0.1"
HTTP_LISTEN_PORT = 8080
#: http.admin-token: no default; from ACD_ADMIN_TOKEN when the file has none. `acd run` needs one.
HTTP_ADMIN_TOKEN = None

#: agents[].status at the daemon's first start (Redis has no status for the agent yet). A
#: configured agent is meant to take calls, so "available"; mod_callcenter starts "Logged Out".
AGENT_STATUS = "available"
#: agents[].max-no-answer: unanswered offers in a row before the agent goes on-break (0 = never).
#: mod_callcenter's default is 0; 3 keeps a caller from ringing an empty desk all day.
AGENT_MAX_NO_ANSWER = 3
#: agents[].wrap-up-time: seconds after a call before the next offer (mod_callcenter: 0).
AGENT_WRAP_UP_TIME = 10.0
#: agents[].reject-delay-time: seconds without offers after the agent rejected one
#: (CALL_REJECTED); mod_callcenter: 0.
AGENT_REJECT_DELAY_TIME = 10.0
#: agents[].busy-delay-time: seconds without offers after the agent's phone was busy
#: (USER_BUSY); mod_callcenter: 0.
AGENT_BUSY_DELAY_TIME = 60.0
#: agents[].no-answer-delay-time: seconds without offers after an unanswered offer
#: (as mod_callcenter).
AGENT_NO_ANSWER_DELAY_TIME = 0.0
#: agents[].ring-timeout: None = ring as long as the queue's ring-timeout says.
AGENT_RING_TIMEOUT = None
#: agents[].auto-answer: ask the agent's phone to answer acd's calls by itself (docs/config.md).
AGENT_AUTO_ANSWER = False

#: queues[].strategy: as mod_callcenter.
QUEUE_STRATEGY = "longest-idle-agent"
#: With strategy skills: best-match (highest total proficiency) or longest-idle among qualified.
QUEUE_SKILL_ORDER = "best-match"
#: queues[].ring-timeout: seconds an offer rings an agent before it counts as no answer.
QUEUE_RING_TIMEOUT = 15.0
#: queues[].moh-sound: what waiting callers hear (FreeSWITCH's stock local_stream).
QUEUE_MOH_SOUND = "local_stream://moh"
#: queues[].max-wait-time: seconds in the queue before overflow (0 = unlimited, as mod_callcenter).
QUEUE_MAX_WAIT_TIME = 0.0
#: queues[].max-wait-time-with-no-agent: seconds the queue may be without a logged-in agent
#: before its callers overflow (0 = off, as mod_callcenter).
QUEUE_MAX_WAIT_TIME_WITH_NO_AGENT = 0.0
#: queues[].max-wait-time-with-no-agent-time-reached: once that has happened, how long new
#: callers wait before they overflow too (as mod_callcenter).
QUEUE_MAX_WAIT_TIME_WITH_NO_AGENT_TIME_REACHED = 5.0
#: queues[].announce-frequency / announce-position: seconds between announcements (0 = off).
QUEUE_ANNOUNCE_FREQUENCY = 0.0
QUEUE_ANNOUNCE_POSITION = 0.0
#: queues[].tier-rules-apply, tier-rule-wait-second: mod_callcenter's tier rules, off by default;
#: 30 s per level when switched on (mod_callcenter: 0).
QUEUE_TIER_RULES_APPLY = False
QUEUE_TIER_RULE_WAIT_SECOND = 30.0
#: queues[].discard-abandoned-after: seconds an abandoned caller may come back and keep the
#: place (as mod_callcenter); abandoned-resume-allowed switches that on (as mod_callcenter).
QUEUE_DISCARD_ABANDONED_AFTER = 60.0
QUEUE_ABANDONED_RESUME_ALLOWED = False
#: queues[].tiers[].level and position (as mod_callcenter).
TIER_LEVEL = 1
TIER_POSITION = 1
#: The cause of a {hangup: } action that names none, and of the hangup of a caller who reaches
#: a queue's wait limit when the queue has no overflow (docs/config.md).
HANGUP_CAUSE = "NORMAL_CLEARING"
#: unknown-queue: a call for this deployment (its acd_instance) naming a queue that does not
#: exist is hung up with this cause (FreeSWITCH's own for a destination nobody serves).
UNKNOWN_QUEUE_CAUSE = "NO_ROUTE_DESTINATION"

# -- IVR menus (docs/ivr.md) ------------------------------------------------------------------
#: ivr[].timeout: seconds to wait for the first digit after the greeting (FreeSWITCH's
#: play_and_get_digits waits at least 1 s).
IVR_TIMEOUT = 5.0
#: ivr[].digit-timeout: seconds to wait for each further digit (collect).
IVR_DIGIT_TIMEOUT = 2.0
#: ivr[].max-failures: invalid or missing inputs before on-failure.
IVR_MAX_FAILURES = 3
#: ivr[].invalid-sound: FreeSWITCH's stock "that was an invalid entry".
IVR_INVALID_SOUND = "ivr/ivr-that_was_an_invalid_entry.wav"
#: What {lang} in a sound path becomes when neither the caller (acd_language) nor the menu
#: (language) chose one.
IVR_LANGUAGE = "en"
#: collect: the most digits when max is not given (play_and_get_digits takes up to 128).
IVR_COLLECT_MAX = 32
# --- Observability (docs/metrics.md) -----------------------------------------------------------

#: metrics.per-agent: also export series labelled with each agent's id (one set per agent: off by
#: default so a center of thousands of agents stays cheap to scrape).
METRICS_PER_AGENT = False
#: metrics.service-level-window: seconds of calls acd_queue_service_level_ratio looks back on.
METRICS_SERVICE_LEVEL_WINDOW = 900.0
#: Seconds the Redis lease lasts that makes one daemon the exporter of the shared agent gauges;
#: renewed at every scrape, so scrape more often than this.
METRICS_EXPORTER_LEASE = 60.0
#: Seconds a scrape waits for Redis' PING before it reports acd_redis_up 0.
METRICS_REDIS_PING_TIMEOUT = 0.5
#: records.max-length: call records kept in the Redis stream at most (about; 0 = no records).
RECORDS_MAX_LENGTH = 100_000
#: records.retention: seconds a call record is kept (0 = only max-length trims). 30 days.
RECORDS_RETENTION = 30 * 86400.0
#: queues[].service-level-threshold: a call answered within this many seconds meets the
#: service level (the 20 of "80/20").
QUEUE_SERVICE_LEVEL_THRESHOLD = 20.0
#: queues[].service-level-count-short-abandons: whether a caller who hangs up within the
#: threshold counts as met (Asterisk's SL2) instead of missed.
QUEUE_SERVICE_LEVEL_COUNT_SHORT_ABANDONS = False

# --- queues[].recording: recording only with consent (docs/recording.md) -----------------------
#: The key a caller presses to consent to the recording after the announcement.
RECORDING_ACCEPT_DIGIT = "1"
#: The key a caller presses to decline.
RECORDING_DECLINE_DIGIT = "2"
#: Seconds acd waits for the caller's key; no answer is no consent.
RECORDING_PROMPT_TIMEOUT = 8.0
#: Keys the caller presses during the conversation to stop the recording.
RECORDING_REVOKE_DIGITS = "*9"
#: What happens to a revoked recording: delete | keep-until-revoke.
RECORDING_ON_REVOKE = "delete"
#: Where FreeSWITCH writes a recording ({date} is the UTC day of the recording's start).
RECORDING_PATH_TEMPLATE = "/var/lib/acd/recordings/{date}/{call_uuid}.wav"
#: Two channels: the caller left, the agent right.
RECORDING_STEREO = True
#: Days a recording is kept before ``acd recordings purge`` deletes it.
RECORDING_RETENTION_DAYS = 90

# --- CTI: logins, tokens, the live event stream (docs/cti.md) ----------------------------------
#: http.session-ttl: seconds a login token is valid (a shift and then some).
HTTP_SESSION_TTL = 12 * 3600.0
#: Seconds a ticket for the event stream (POST /api/v1/events/ticket) is valid; used once.
EVENT_TICKET_TTL = 30
#: cti.event-retention: seconds of events kept in the Redis stream for reconnecting clients.
CTI_EVENT_RETENTION = 600.0
#: cti.event-max-length: events kept in the stream at most (about), whatever their age.
CTI_EVENT_MAX_LENGTH = 100_000
#: cti.heartbeat: seconds between the stream's comment lines when nothing else is sent.
CTI_HEARTBEAT = 15.0
#: cti.timezone: the zone whose midnight starts "today" on the wallboard.
CTI_TIMEZONE = "UTC"
#: cti.dial-template: where click-to-dial and transfers to a number ring ({number}: as dialled).
CTI_DIAL_TEMPLATE = "sofia/gateway/pstn/{number}"
#: cti.dial-pattern: what a number to dial must look like (anything else: 422, nothing sent).
CTI_DIAL_PATTERN = r"^\+?[0-9]{2,15}$"
#: Wrong passwords allowed per agent / per client address before logins slow down; then each
#: further attempt waits LOGIN_DELAY * 2**(failures beyond) seconds, at most LOGIN_DELAY_MAX.
LOGIN_FREE_FAILURES_AGENT = 5
LOGIN_FREE_FAILURES_ADDRESS = 30
LOGIN_DELAY = 1.0
LOGIN_DELAY_MAX = 300.0
#: Seconds without a wrong password after which the counts start again.
LOGIN_FAILURE_WINDOW = 900.0
#: Events a slow stream client may have waiting before it is cut off (it reconnects with
#: Last-Event-ID and replays what it missed).
CTI_CLIENT_BACKLOG = 2000

# -- CRM integration (acd/crm.py, acd/webhooks.py, docs/crm.md) ---------------------------------
#: Milliseconds a CRM lookup may take; later answers are pushed as call.updated.
CRM_TIMEOUT_MS = 400
#: Seconds a CRM answer is cached per caller number in Redis (0: no cache).
CRM_CACHE_TTL = 300
#: Bytes of a CRM answer read at most; a longer answer is an error.
CRM_MAX_BODY = 256 * 1024
#: Redirects followed at most (to the lookup URL's own scheme, host and port only).
CRM_MAX_REDIRECTS = 3
#: Seconds a webhook event is retried before it goes to the dead letters.
WEBHOOK_MAX_AGE = 24 * 3600.0
#: Seconds before the first retry; each next waits twice as long (plus jitter), at most the cap.
WEBHOOK_RETRY_BASE = 1.0
WEBHOOK_RETRY_CAP = 600.0
#: Seconds one delivery may take (connect + answer).
WEBHOOK_TIMEOUT = 10.0
#: Entries kept in the webhook stream and in the dead-letter stream at most.
WEBHOOK_STREAM_MAX_LENGTH = 100_000
#: Seconds of the delivery lease (one daemon delivers; another takes over when it dies).
WEBHOOK_LEASE = 15.0
