"""The run-time overlay in Redis: changes made over the admin API to agents, tiers and queues
(acd.config_overlay says what an entry holds), shared by every daemon.

One hash (``Keys.admin_overlay``: entry -> JSON) and a version counter (``Keys.admin_version``)
changed together by ``lua/admin/change.lua``, which refuses a write when the overlay changed since
the writer read it: two admins' changes are validated one after the other, never merged blind.
Each daemon compares the version at its tick and rebuilds its configuration when it moved. It
lives as long as Redis keeps its data: Redis persistence (RDB/AOF) is the operator's.
"""

from acd.config_overlay import decode
from acd.store.scripted import ScriptedStore


class AdminStore(ScriptedStore):
    folder = "admin"

    def _keys(self):
        return [self.keys.admin_overlay, self.keys.admin_version]

    def version(self):
        return int(self.redis.get(self.keys.admin_version) or 0)

    def read(self):
        """(version, overlay {entry: dict})."""
        version, flat = self._scripts["read"](keys=self._keys())
        return int(version), decode(dict(zip(flat[::2], flat[1::2])))

    def change(self, version, entries):
        """Write ``entries`` {entry: JSON text, or "" to drop it} if the overlay is still at
        ``version``; the new version, or None when someone changed it meanwhile."""
        args = [version]
        for name, text in entries.items():
            args += [name, text]
        found = int(self._scripts["change"](keys=self._keys(), args=args))
        return None if found < 0 else found

    def reset(self):
        """Drop every entry; the new version."""
        return int(self._scripts["reset"](keys=self._keys()))
