"""Run-time administration: agents, tiers and queue parameters changed over the admin API.

Theory of operation
-------------------
Each operation (acd.http.admin translates requests into them) builds the overlay entries it
wants (acd.config_overlay), then :meth:`Admin._commit`:

1. reads the overlay and its version from Redis, puts the entries on it and validates the whole
   -- the file's mapping with every run-time change -- with ``acd.config.parse_config``: the same
   code and rules as ``acd check-config``; a problem answers 422 with ``key.path: problem``;
2. writes the entries if the overlay is still at that version (else reads again: two admins'
   changes are validated one after the other);
3. has the daemon's loop apply it (acd.reconfigure) before answering, so the next decision here
   uses it; other daemons see the version move at their next tick (a fraction of a second);
4. publishes ``agent.updated`` / ``queue.updated``.

A password is hashed here (Argon2id, acd.cti.passwords) and stored only as its hash; it is never
echoed. An agent is removed only when it is not in a call, logged out first.
"""

import gevent.event

from acd import config_overlay as ov
from acd.config import ConfigError
from acd.config_queues import NAME
from acd.config_reader import as_text
from acd.reconfigure import diff

#: Tries of a change that keeps meeting other changes.
TRIES = 5
BUSY_STATES = ("reserved", "ringing", "in-call")


class AdminError(Exception):
    def __init__(self, status, message, problems=()):
        super().__init__(message)
        self.status, self.message = status, message
        #: every "FILE: key.path: problem" (a 422 has at least its message)
        self.problems = list(problems) or ([message] if status == 422 else [])


class Admin:
    """``reconfigure``: the daemon's acd.reconfigure.Reconfigure; ``service``: its Service;
    ``post``: runs a function on the daemon's loop."""

    def __init__(self, reconfigure, service, post):
        self.reconfigure, self.service, self.post = reconfigure, service, post

    @property
    def config(self):
        return self.service.config

    # -- agents ---------------------------------------------------------------------------------

    def add_agent(self, body, by):
        body = _object(body)
        agent_id = as_text(body.get("id"))
        if not agent_id or not NAME.match(agent_id):
            raise AdminError(422, "id: required: an agent id of letters, digits and "
                                  "_ . @ + - only")
        if self.config.has_agent(agent_id):
            raise AdminError(409, f"agent {agent_id!r} exists; change it with PATCH")
        fields = _hashed({k: v for k, v in body.items() if k != "id"})
        self._commit(lambda overlay: {ov.agent_entry(agent_id): {"fields": fields,
                                                                  "replace": True}}, by)
        return self.service.agent_view(agent_id)

    def change_agent(self, agent_id, body, by):
        self._agent(agent_id)
        body = _object(body, empty=False)
        if "id" in body:
            raise AdminError(422, "id: cannot change (remove the agent and add it again)")
        fields = _hashed(body)

        def entries(overlay):
            entry = dict(overlay.get(ov.agent_entry(agent_id)) or {})
            entry.pop("deleted", None)
            entry["fields"] = _patched(entry.get("fields"), fields)
            return {ov.agent_entry(agent_id): entry}

        self._commit(entries, by)
        return self.service.agent_view(agent_id)

    def remove_agent(self, agent_id, by):
        self._agent(agent_id)
        self._not_busy(agent_id)
        self.service.set_agent_status(agent_id, "logged-out", by=by)
        self._not_busy(agent_id, " (it is logged out now)")

        def entries(overlay):
            drop = {name: None for name in overlay if name.startswith(ov.TIER + ov.SEPARATOR)
                    and name.endswith(ov.SEPARATOR + agent_id)}
            return dict(drop, **{ov.agent_entry(agent_id): {"deleted": True}})

        self._commit(entries, by)
        return {"agent": agent_id, "removed": True}

    def _agent(self, agent_id):
        if not self.config.has_agent(agent_id):
            raise AdminError(404, f"unknown agent {agent_id!r}")

    def _not_busy(self, agent_id, note=""):
        state = (self.service.store.agent(agent_id) or {}).get("state", "waiting")
        if state in BUSY_STATES:
            raise AdminError(409, f"agent {agent_id!r} is {state}: remove it when the call is "
                                  f"over{note}")

    # -- queues and tiers -------------------------------------------------------------------------

    def change_queue(self, name, body, by):
        self._queue(name)
        body = _object(body, empty=False)
        fixed = [key for key in body if key in ov.QUEUE_FIXED]
        if fixed:
            raise AdminError(422, f"{fixed[0]}: not changed here (tiers: "
                                  "/api/v1/queues/{name}/tiers/{agent}; a queue's name is "
                                  "the file's)")

        def entries(overlay):
            entry = overlay.get(ov.queue_entry(name)) or {}
            return {ov.queue_entry(name): {"fields": _patched(entry.get("fields"), body)}}

        self._commit(entries, by)
        return self.service.queue_view(name)

    def set_tier(self, name, agent_id, body, by, create):
        """POST (``create``: 409 if it exists) or PATCH (404 if it does not) a tier."""
        self._queue(name)
        self._agent(agent_id)
        body = _object(body, empty=create)
        if "agent" in body:
            raise AdminError(422, "agent: given by the path")
        exists = any(t.agent == agent_id for t in self.config.queue(name).tiers)
        if create and exists:
            raise AdminError(409, f"agent {agent_id!r} has a tier in queue {name!r}; change "
                                  "it with PATCH")
        if not create and not exists:
            raise AdminError(404, f"agent {agent_id!r} has no tier in queue {name!r}")

        def entries(overlay):
            entry = {} if create else overlay.get(ov.tier_entry(name, agent_id)) or {}
            return {ov.tier_entry(name, agent_id): {"fields": _patched(entry.get("fields"), body)}}

        self._commit(entries, by)
        return self.tier_view(name, agent_id)

    def remove_tier(self, name, agent_id, by):
        self._queue(name)
        if not any(t.agent == agent_id for t in self.config.queue(name).tiers):
            raise AdminError(404, f"agent {agent_id!r} has no tier in queue {name!r}")
        self._commit(lambda overlay: {ov.tier_entry(name, agent_id): {"deleted": True}}, by)
        return {"queue": name, "agent": agent_id, "removed": True}

    def tier_view(self, name, agent_id):
        tier = next(t for t in self.config.queue(name).tiers if t.agent == agent_id)
        return {"queue": name, "agent": agent_id, "level": tier.level,
                "position": tier.position}

    def _queue(self, name):
        if not self.config.has_queue(name):
            raise AdminError(404, f"unknown queue {name!r}")

    # -- reload ---------------------------------------------------------------------------------

    def reload(self, by):
        """``acd reload`` over the API: the changes made; AdminError 422 when the file does not
        validate (nothing changed)."""
        try:
            changes = self._on_loop(self.reconfigure.reload)
        except ConfigError as exc:
            raise AdminError(422, "the config file was not reloaded: " + exc.problems[0],
                             exc.problems) from None
        self.reconfigure.publish(changes, by)
        return {"reloaded": self.reconfigure.source, "changes": changes}

    # -- the commit -----------------------------------------------------------------------------

    def _commit(self, entries_of, by):
        """Validate and write the entries ``entries_of(overlay)`` gives ({entry: dict or None
        to drop it}); apply them here; publish what changed."""
        if self.reconfigure.data is None:
            raise AdminError(503, "run-time changes need the daemon's config file")
        store = self.reconfigure.admin
        for _ in range(TRIES):
            version, overlay = store.read()
            entries = entries_of(overlay)
            changed = {k: v for k, v in dict(overlay, **entries).items() if v is not None}
            try:
                config = self.reconfigure.build(changed)
            except ConfigError as exc:
                raise AdminError(422, exc.problems[0], exc.problems) from None
            changes = diff(self.config, config)
            if store.change(version, {k: "" if v is None else ov.encode(v)
                                      for k, v in entries.items()}) is not None:
                break
        else:
            raise AdminError(409, "the configuration keeps changing; try again")
        self._on_loop(self.reconfigure.refresh)
        self.reconfigure.publish(changes, by)
        return changes

    def _on_loop(self, fn, timeout=30):
        """``fn()`` run on the daemon's loop (between two routing steps); its result."""
        result = gevent.event.AsyncResult()

        def run():
            try:
                result.set(fn())
            except BaseException as exc:     # handed to the waiting request
                result.set_exception(exc)

        self.post(run)
        return result.get(timeout=timeout)


def _object(body, empty=True):
    if not isinstance(body, dict) or (not empty and not body):
        raise AdminError(400, "expected a JSON object of acd.yaml keys" +
                         ("" if empty else " (at least one)"))
    return body


def _patched(fields, change):
    """An entry's fields with ``change``; a null drops a key (the file's value counts again)."""
    fields = dict(fields or {}, **change)
    return {k: v for k, v in fields.items() if v is not None}


def _hashed(fields):
    """The fields with ``password`` replaced by its Argon2id ``password-hash``."""
    if ov.AGENT_PASSWORD not in fields:
        return dict(fields)
    from acd.cti import passwords
    fields = dict(fields)
    password = fields.pop(ov.AGENT_PASSWORD)
    if not isinstance(password, str) or not password:
        raise AdminError(422, "password: expected a non-empty string")
    fields["password-hash"] = passwords.hash_off_loop(password)
    return fields
