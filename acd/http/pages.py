"""The agent desktop (``/``) and the wallboard (``/wallboard``): static pages shipped inside the
package (acd/http/static), served without a token -- they sign in through the API and hold the
token in the browser, never in a cookie.

Only the files in the static folder are served, by name (no paths, no directory listing), and
those of its ``vendor`` subfolder under ``/static/vendor/<name>`` -- the softphone's library that
``make softphone`` puts there (a dictionary lookup by exact name, never a path on disk); they are
read once, when the app is built. The pages get a Content-Security-Policy that allows scripts,
styles and connections to this origin only (plus the softphone's WebSocket URL when
``cti.softphone`` is set), so even a caller name that slipped into the page as markup could not run.
"""

import functools
from importlib import resources

import falcon

from acd.http.app import HttpError

#: Content types by file extension.
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".json": "application/json"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
PAGE_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                "X-Frame-Options": "DENY"}
VENDOR = "vendor"


@functools.lru_cache(maxsize=None)
def static_files():
    """{name: (content type, bytes)} of every file in acd/http/static with a known type."""
    folder = resources.files("acd.http") / "static"
    found = dict(_files_in(folder))
    if folder.joinpath(VENDOR).is_dir():
        found.update((f"{VENDOR}/{name}", data) for name, data in _files_in(folder / VENDOR))
    return found


def _files_in(folder):
    for entry in folder.iterdir():
        kind = TYPES.get("." + entry.name.rsplit(".", 1)[-1]) if "." in entry.name else None
        if entry.is_file() and kind:
            yield entry.name, (kind, entry.read_bytes())


def content_policy(config):
    """The CSP; the softphone's WebSocket origin is the one connection allowed elsewhere."""
    phone = config.cti.softphone
    if phone is None:
        return CSP
    origin = "/".join(phone.ws_url.split("/")[:3])   # scheme://host[:port], checked by the config
    return CSP.replace("connect-src 'self'", f"connect-src 'self' {origin}")


class _Files:
    def __init__(self, desk):
        self.files = static_files()
        self.service = desk.service

    def send(self, resp, name):
        found = self.files.get(name)
        if found is None:
            raise HttpError(404, f"no such file: {name}")
        resp.status = falcon.HTTP_200
        resp.content_type, resp.data = found
        resp.set_header("Content-Security-Policy", content_policy(self.service.config))
        for header, value in PAGE_HEADERS.items():
            resp.set_header(header, value)


class Desktop(_Files):
    def on_get(self, req, resp):
        self.send(resp, "index.html")


class Wallboard(_Files):
    def on_get(self, req, resp):
        self.send(resp, "wallboard.html")


class Static(_Files):
    def on_get(self, req, resp, name):
        self.send(resp, name)


class Vendor(_Files):
    """``/static/vendor/<name>``: one segment, looked up by exact name (no traversal)."""

    def on_get(self, req, resp, name):
        self.send(resp, f"{VENDOR}/{name}")
