"""Agent and queue state in Redis (see store.py for the theory, keys.py for the key layout)."""

from acd.store.keys import Keys
from acd.store.store import LEVEL, Pick, Store, TierRef

__all__ = ["Keys", "LEVEL", "Pick", "Store", "TierRef"]
