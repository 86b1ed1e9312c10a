"""acd's FreeSWITCH simulator: an inbound event-socket server with simulated calls.

Run it with ``acd sim`` (see docs/simulator.md); ``acd.sim.process.SimProcess`` runs it as a
subprocess. It is an independent implementation of the protocol and imports nothing from
``acd.esl``.
"""
