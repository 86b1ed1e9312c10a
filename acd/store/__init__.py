"""Agent and queue state in Redis (see store.py for the theory, keys.py for the key layout)."""

from acd.store.keys import Keys
from acd.store.skill_index import Pick
from acd.store.store import LEVEL, Store, TierRef

__all__ = ["Keys", "LEVEL", "Pick", "Store", "TierRef"]
