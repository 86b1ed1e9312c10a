"""Every answer of the API checked against its OpenAPI document (acd/http/openapi.yaml).

:func:`check_response` finds the operation a request hit, requires the answer's status to be
documented for it and its JSON body to match the documented schema (JSON Schema 2020-12, as
OpenAPI 3.1 says). :class:`CheckingApp` does it on the server side, around the real WSGI app:
conftest.py wraps every app the tests start with it, so each response of every API test --
tests/test_http.py's included -- is checked, and a mismatch fails the test that caused it.
"""

import json
import urllib.parse

import jsonschema
import referencing
import referencing.jsonschema

from acd.http.openapi import document

BASE = "urn:acd:openapi"
_registry = None
_validators = {}


def _registry_of():
    global _registry
    if _registry is None:
        resource = referencing.Resource.from_contents(
            document(), default_specification=referencing.jsonschema.DRAFT202012)
        _registry = referencing.Registry().with_resource(BASE, resource)
    return _registry


def _pointer(*parts):
    return "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _deref(obj):
    while isinstance(obj, dict) and "$ref" in obj:
        node = document()
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        obj = node
    return obj


def operation_of(method, raw_path):
    """(path template, operation) of the request, or (None, None) when none is documented."""
    segments = [urllib.parse.unquote(s) for s in raw_path.split("?", 1)[0].strip("/").split("/")]
    best = None
    for template, item in document()["paths"].items():
        parts = template.strip("/").split("/")
        if len(parts) != len(segments):
            continue
        literal = 0
        for part, segment in zip(parts, segments):
            if part.startswith("{"):
                if not segment:
                    break
            elif part != segment:
                break
            else:
                literal += 1
        else:
            if best is None or literal > best[0]:
                best = (literal, template, item)
    if best is None:
        return None, None
    return best[1], best[2].get(method.lower())


def check_response(method, raw_path, status, headers, body):
    """AssertionError when the answer is not what the document says."""
    template, op = operation_of(method, raw_path)
    if op is None:   # an unknown path or method: 404 / 405 (or 401/403 before routing)
        assert status in (401, 403, 404, 405), f"{method} {raw_path}: {status} undocumented"
        assert isinstance(body, dict) and isinstance(body.get("error"), str), body
        return
    responses = op["responses"]
    response = responses.get(str(status)) or responses.get("default")
    assert response is not None, f"{method} {template}: status {status} is not documented"
    response = _deref(response)
    content_type = (headers.get("content-type") or "").split(";")[0].strip()
    content = response.get("content", {})
    if content_type == "application/json" and body is not None:
        assert "application/json" in content, f"{method} {template} {status}: no JSON documented"
        key = (template, method.lower(), str(status) if str(status) in responses else "default")
        validator = _validators.get(key)
        if validator is None:
            ref = responses[key[2]]
            if "$ref" in ref:
                pointer = ref["$ref"] + "/content/application~1json/schema"
            else:
                pointer = "#/" + _pointer("paths", template, key[1], "responses", key[2],
                                          "content", "application/json", "schema")
            validator = jsonschema.Draft202012Validator({"$ref": BASE + pointer},
                                                        registry=_registry_of())
            _validators[key] = validator
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
        assert not errors, (f"{method} {raw_path} {status}: the body does not match the "
                            f"OpenAPI schema: {errors[0].message} at {list(errors[0].path)}")
    elif content_type and content_type != "application/json":
        assert content_type in content, f"{method} {template} {status}: {content_type} undocumented"


def is_page(raw_path):
    path = raw_path.split("?", 1)[0]
    return path in ("/", "/wallboard") or path.startswith("/static/")


class CheckingApp:
    """WSGI middleware: check each answer (an event stream's status and type only)."""

    def __init__(self, app, failures):
        self.app, self.failures = app, failures

    def __call__(self, environ, start_response):
        seen = {}

        def recording_start_response(status, headers, exc_info=None):
            seen["status"] = int(status.split()[0])
            seen["headers"] = {k.lower(): v for k, v in headers}
            return start_response(status, headers, exc_info) if exc_info else \
                start_response(status, headers)

        result = self.app(environ, recording_start_response)
        path = environ.get("RAW_URI") or environ.get("PATH_INFO", "")
        if seen.get("status") == 200 and is_page(path):
            return result      # the desktop's pages and files: not the API (tests/test_desktop.py)
        method = environ.get("REQUEST_METHOD", "GET")
        if seen.get("headers", {}).get("content-type", "").startswith("text/event-stream"):
            self._check(method, path, seen["status"], seen["headers"], None)
            return result
        data = b"".join(result)
        if hasattr(result, "close"):
            result.close()
        try:
            body = json.loads(data) if data and "json" in seen["headers"].get(
                "content-type", "") else None
        except ValueError:
            body = None
        self._check(method, path, seen["status"], seen["headers"], body)
        return [data]

    def _check(self, method, path, status, headers, body):
        try:
            check_response(method, path, status, headers, body)
        except AssertionError as exc:
            self.failures.append(str(exc))


#: Event type -> the schema of its data (components/schemas).
EVENT_SCHEMAS = {"call.queued": "CallQueuedEvent", "call.offered": "CallOfferedEvent",
                 "call.answered": "CallAnsweredEvent", "call.ended": "CallEndedEvent",
                 "call.abandoned": "CallAbandonedEvent", "agent.status": "AgentStatusEvent",
                 "queue.stats": "QueueStatsEvent", "stream.reset": "StreamResetEvent",
                 "call.held": "CallHeldEvent", "call.unheld": "CallUnheldEvent",
                 "call.transferred": "CallTransferredEvent",
                 "call.updated": "CallUpdatedEvent", "call.wrap-up": "CallWrapUpEvent",
                 "agent.updated": "AgentUpdatedEvent", "queue.updated": "QueueUpdatedEvent",
                 **{f"recording.{kind}": "RecordingEvent"
                    for kind in ("started", "paused", "resumed", "stopped", "deleted")}}


def check_event(kind, data):
    """AssertionError unless the event type is documented and its data matches its schema."""
    assert kind in EVENT_SCHEMAS, f"undocumented event type {kind!r}"
    key = ("event", kind)
    if key not in _validators:
        _validators[key] = jsonschema.Draft202012Validator(
            {"$ref": f"{BASE}#/components/schemas/{EVENT_SCHEMAS[kind]}"}, registry=_registry_of())
    errors = list(_validators[key].iter_errors(data))
    assert not errors, f"{kind}: {errors[0].message} at {list(errors[0].path)}: {data}"
