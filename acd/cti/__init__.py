"""CTI: what agents' desktops and supervisors' wallboards need beside the routing core.

* :mod:`acd.cti.auth` -- roles, logins, tokens, event-stream tickets, the access policy;
* :mod:`acd.cti.events` -- the router observer that turns decisions into events in Redis;
* :mod:`acd.cti.hub` -- one stream reader per daemon fanning events out to connected clients;
* :mod:`acd.cti.stats` -- today's per-queue counts and the ``queue.stats`` events;
* :mod:`acd.cti.views` -- the wallboard, an agent's calls, one call, who a call belongs to.

Nothing here speaks HTTP or ESL: the HTTP layer (acd.http) translates requests into calls on
these modules, as it does for :class:`acd.service.Service`. See docs/cti.md.
"""
