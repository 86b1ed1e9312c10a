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
#: Reconnect backoff: first delay, factor, cap (seconds).
ESL_RECONNECT_INITIAL = 0.1
ESL_RECONNECT_FACTOR = 2.0
ESL_RECONNECT_MAX = 10.0

#: Seconds between HEARTBEAT events, as FreeSWITCH.
SIM_HEARTBEAT = 20.0
