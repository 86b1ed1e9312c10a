"""A store over its own folder of Lua scripts (``acd/store/lua/<folder>/``, one script per
operation, each stating its KEYS and ARGV), registered once per instance. The CTI, recording
and CRM stores are such stores, on the same Redis and key prefix as acd.store.Store."""

import pathlib

LUA = pathlib.Path(__file__).with_name("lua")


class ScriptedStore:
    #: The folder under acd/store/lua that holds this store's scripts.
    folder = ""

    def __init__(self, client, keys):
        self.redis, self.keys = client, keys
        self._scripts = {path.stem: client.register_script(path.read_text())
                         for path in sorted((LUA / self.folder).glob("*.lua"))}

    @classmethod
    def of(cls, store):
        """On the same Redis and prefix as ``store`` (an acd.store.Store)."""
        return cls(store.redis, store.keys)
