"""acd: automatic call distribution for FreeSWITCH.

Module map (see README "Architecture"):

- ``acd.esl``  -- ESL client on top of greenswitch: frame parser, command builders, connection.
- ``acd.sim``  -- a FreeSWITCH simulator speaking the ESL wire protocol (our test world).
- ``acd.redis_server`` -- start/stop a private redis-server (tests, demo, bench).
- ``acd.clock`` -- the one place that reads the wall clock.
"""

__version__ = "0.1.0"
