"""The OpenAPI 3.1 document of the API, kept beside the code (openapi.yaml) and served as JSON
at ``GET /api/v1/openapi.json`` (no token needed). The tests validate it, check every response
they get against it, and drive a property-based run from it."""

import functools
import json
import pathlib

import yaml

from acd.http.app import JSON_TYPE

SOURCE = pathlib.Path(__file__).with_name("openapi.yaml")


@functools.lru_cache(maxsize=1)
def document():
    """The document as a dict (JSON-ready: response codes are strings)."""
    return json.loads(json.dumps(yaml.safe_load(SOURCE.read_text(encoding="utf-8"))))


@functools.lru_cache(maxsize=1)
def document_bytes():
    from acd import __version__

    doc = dict(document())
    doc["info"] = dict(doc["info"], version=__version__)
    return json.dumps(doc).encode("utf-8")


class OpenApi:
    def __init__(self, desk):
        pass

    def on_get(self, req, resp):
        resp.content_type, resp.data = JSON_TYPE, document_bytes()
