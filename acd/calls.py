"""The calls a daemon is handling: :class:`QueueCall` (one caller) and :class:`Waiting` (the
index of those waiting, per queue, that dispatch looks at)."""

from acd.core.model import CallState, caller_score


class Waiting:
    """The calls waiting (not ringing anyone, not bridged) per queue: dispatch looks only here,
    so a thousand callers parked in an unstaffed queue cost nothing when an agent elsewhere
    frees up. A :class:`QueueCall` keeps its entry right whenever its state or queue changes."""

    def __init__(self):
        self.by_queue = {}          # queue -> {uuid: QueueCall}

    def update(self, call, old_queue=None):
        old = self.by_queue.get(old_queue or call.queue)
        if old is not None:
            old.pop(call.uuid, None)
            if not old:
                del self.by_queue[old_queue or call.queue]
        if call.state is CallState.WAITING:
            self.by_queue.setdefault(call.queue, {})[call.uuid] = call

    def queues(self):
        return list(self.by_queue)

    def calls(self, queue):
        return list(self.by_queue.get(queue, {}).values())


class QueueCall:
    """One caller this daemon is handling. Attached to a :class:`Waiting` book (``book``),
    it keeps its entry there up to date."""

    book = None

    def __init__(self, uuid, queue, enqueued_at, priority=0, caller_number="", caller_name="",
                 queue_since=None):
        self.uuid = uuid
        self._queue = queue
        self.enqueued_at = enqueued_at
        self.queue_since = enqueued_at if queue_since is None else queue_since
        self.priority = priority
        self.caller_number = caller_number
        self.caller_name = caller_name
        self._state = CallState.WAITING
        self.offers = {}            # agent leg uuid -> agent id (phones ringing for this call)
        self.tried = set()          # agents that failed this call since the last round
        self.agent = None
        self.agent_leg = None
        self.answered_at = None
        self.next_announce = None
        self.next_position = None
        self.next_progressive = None
        self.no_agent_since = None
        self.bridging = None        # the answered agent leg whose uuid_bridge is on its way
        self.bridge_attempts = 0    # uuid_bridge attempts for that leg
        self.transfer = None        # (kind, target) while call control transfers the call
        self.fallback_queue = None  # an agent transfer goes back there if the agent is not reached
        self.after_transfer = False  # parked after a transferred bridge: park_after_bridge is set
        self.held = False           # the agent's leg is on hold (CHANNEL_HOLD)
        self.skills = ""            # the call's own skill requirements ("german:4,billing:2")
        self.only_agent = None      # only this agent may take the call (IVR "agent" option)
        self.data = {}              # extra fields: IVR path, collected digits (screen pop)
        self.destination = ""       # the number the caller dialled (CRM lookup URL)
        self.crm = None             # the CRM card (acd.crm), once the lookup answered

    @property
    def state(self):
        return self._state

    @state.setter
    def state(self, value):
        self._state = value
        if self.book is not None:
            self.book.update(self)

    @property
    def queue(self):
        return self._queue

    @queue.setter
    def queue(self, value):
        old, self._queue = self._queue, value
        if self.book is not None:
            self.book.update(self, old)

    def attach(self, book):
        self.book = book
        book.update(self)

    @property
    def score(self):
        return caller_score(self.enqueued_at, self.priority)

    def __repr__(self):
        return f"<QueueCall {self.uuid} {self.queue} {self.state.value}>"
