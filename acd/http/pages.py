"""The agent desktop (``/``) and the wallboard (``/wallboard``): static pages shipped inside the
package (acd/http/static), served without a token -- they sign in through the API and hold the
token in the browser, never in a cookie.

Only the files in the static folder are served, by name (no paths, no directory listing); they
are read once, when the app is built. The pages get a Content-Security-Policy that allows
scripts, styles and connections to this origin only, so even a caller name that slipped into
the page as markup could not run.
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
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


@functools.lru_cache(maxsize=None)
def static_files():
    """{name: (content type, bytes)} of every file in acd/http/static with a known type."""
    folder = resources.files("acd.http") / "static"
    found = {}
    for entry in folder.iterdir():
        kind = TYPES.get("." + entry.name.rsplit(".", 1)[-1]) if "." in entry.name else None
        if entry.is_file() and kind:
            found[entry.name] = (kind, entry.read_bytes())
    return found


class _Files:
    def __init__(self, desk):
        self.files = static_files()

    def send(self, resp, name):
        found = self.files.get(name)
        if found is None:
            raise HttpError(404, f"no such file: {name}")
        resp.status = falcon.HTTP_200
        resp.content_type, resp.data = found
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
