"""Redis for the CRM integration: cached CRM cards, cards attached to calls, the webhook
streams and the wrap-up codes (acd.crm, acd.webhooks, acd.wrapup). Keys: acd.store.keys."""

import json

from acd.store.scripted import ScriptedStore

#: The webhook stream's consumer group (one per deployment: each entry goes to one daemon).
GROUP = "deliver"


class CrmStore(ScriptedStore):
    folder = "crm"

    # -- CRM cards ------------------------------------------------------------------------------

    def cached_card(self, caller_number):
        text = self.redis.get(self.keys.crm_cache(caller_number))
        return json.loads(text) if text else None

    def cache_card(self, caller_number, card, ttl):
        if ttl > 0:
            self.redis.set(self.keys.crm_cache(caller_number), json.dumps(card), ex=int(ttl))

    def attach(self, call_uuid, name, value):
        """Set a JSON field of a live call's hash; False when the call is gone."""
        return bool(self._scripts["attach"](keys=[self.keys.call(call_uuid)],
                                            args=[name, json.dumps(value)]))

    # -- wrap-up codes (acd.wrapup) -------------------------------------------------------------

    def wrap_up_target(self, call_uuid):
        """``{"agent", "queue"}`` of an answered call that may get a wrap-up code, or None."""
        try:
            key = self.keys.wrap_up_target(call_uuid)
        except ValueError:              # not a call uuid at all
            return None
        return self.redis.hgetall(key) or None

    def note_wrap_up_target(self, call_uuid, agent, queue, ttl):
        key = self.keys.wrap_up_target(call_uuid)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, mapping={"agent": agent, "queue": queue})
        pipe.expire(key, int(ttl))
        pipe.execute()

    def keep_wrap_up_code(self, call_uuid, code, note):
        """The code and note with the call (shown with the agent's recent calls for as long as
        the wrap-up target lives: a day)."""
        self.redis.hset(self.keys.wrap_up_target(call_uuid), mapping={"code": code, "note": note})

    def wrap_up_codes_of(self, call_uuids):
        """{call uuid: (code, note)} of the calls that got a wrap-up code (one round trip)."""
        calls, pipe = [], self.redis.pipeline(transaction=False)
        for uuid in call_uuids:
            try:
                pipe.hmget(self.keys.wrap_up_target(uuid), "code", "note")
            except ValueError:          # not a call uuid
                continue
            calls.append(uuid)
        return {uuid: (code, note or "") for uuid, (code, note) in zip(calls, pipe.execute())
                if code}

    def hold_wrap_up(self, mode, agent, now, longest):
        return bool(self._scripts["wrap_up_hold"](
            keys=[self.keys.agent(agent), self.keys.pending], args=[mode, agent, now, longest]))

    def add_wrap_up(self, fields, max_length):
        """One wrap-up code given (the wrap-ups stream, read by acd report)."""
        return self.redis.xadd(self.keys.wrap_ups, fields, maxlen=max_length or None,
                               approximate=True)
