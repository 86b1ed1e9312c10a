"""Typed, problem-collecting reads of a YAML config file (the machinery under acd.config).

``read_yaml`` loads a document with PyYAML's safe loader, made stricter: a duplicate key is an
error with its line, and integers remember how they were written (``id: 0123`` is "0123", not
83). ``Reader`` reads one mapping of it: each typed read records ``FILE: key.path: problem`` in
a shared ``Problems`` and returns the default, so validation goes on and reports everything.
"""

import difflib
import math

import yaml

MISSING = object()


class ConfigError(ValueError):
    """Every problem of a config, one ``FILE: key.path: problem`` line each (``problems``)."""

    def __init__(self, problems):
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class _Int(int):
    """An int that remembers how it was written, so ``id: 0123`` becomes "0123", not "83"."""
    text = None


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """SafeLoader that rejects duplicate keys and keeps the text of integers (libyaml's parser
    when PyYAML has it: a 10,000-agent file reads in 1.5 s instead of 7)."""


def _construct_int(loader, node):
    value = _Int(loader.construct_yaml_int(node))
    value.text = node.value
    return value


def _construct_map(loader, node):
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
            continue  # keys merged in with << may be overridden, as YAML says
        if key_node.value in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key_node.value!r}", key_node.start_mark)
        seen.add(key_node.value)
    return loader.construct_mapping(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def read_yaml(path):
    """The file's YAML document ({} when empty); ConfigError when it cannot be read or parsed."""
    source = str(path)
    try:
        with open(path, encoding="utf-8") as stream:
            data = yaml.load(stream, Loader=_Loader)  # noqa: S506 -- a SafeLoader subclass
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{source}: cannot read: not UTF-8 text"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}: {_yaml_problem(exc)}"]) from None
    return {} if data is None else data


def _yaml_problem(exc):
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    text = ": ".join(part for part in (getattr(exc, "context", None),
                                      getattr(exc, "problem", None)) if part)
    return f"{where}invalid YAML: {text or exc}"


class Problems:
    def __init__(self, source):
        self.source = source
        self.errors = []
        self.warnings = []

    def error(self, key, text):
        self.errors.append(": ".join(part for part in (self.source, key, text) if part))

    def warn(self, key, text):
        self.warnings.append(": ".join(part for part in (self.source, "warning", key, text)
                                       if part))


def shown(value):
    """A value as the user wrote it, for messages."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return value.text if isinstance(value, _Int) else repr(value)


def kind_of(value):
    """What sort of value it is, for messages about secrets (whose value is never shown)."""
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "a string"
    if isinstance(value, bool) or value is None:
        return shown(value)
    if isinstance(value, (int, float)):
        return "a number"
    return shown(value)


def as_text(value):
    """An id or name as text: strings as they are, YAML integers as written."""
    if isinstance(value, _Int):
        return value.text
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else None


def key_path(where, name):
    return f"{where}.{name}" if where else str(name)


class Reader:
    """Typed reads from one mapping of the file; a bad value is recorded and the default used."""

    def __init__(self, data, where, allowed, problems, expected="a mapping"):
        self.where, self.problems, self.silent = where, problems, False
        if data is None:
            data = {}
        if not isinstance(data, dict):
            problems.error(where, f"expected {expected}, got {shown(data)}")
            data, self.silent = {}, True  # one problem for the item, not one per missing key
        self.data = data
        for key in data:
            if key not in allowed:
                problems.error(key_path(where, key), unknown_key(str(key), allowed))

    def fail(self, name, text):
        if not self.silent:
            self.problems.error(key_path(self.where, name), text)

    def has(self, name):
        return name in self.data

    def raw(self, name, default=None):
        """The value; an explicit null counts as absent only where absent means None."""
        value = self.data.get(name, MISSING)
        return default if value is MISSING or (value is None and default is None) else value

    def seconds(self, name, default, positive=False):
        value = self.raw(name, default)
        if value is None and default is None:
            return None
        if _is_number(value) and (value > 0 if positive else value >= 0):
            return float(value)
        self.fail(name, f"expected a number of seconds {'> 0' if positive else '>= 0'}, "
                        f"got {shown(value)}")
        return default

    def integer(self, name, default, minimum):
        value = self.raw(name, default)
        if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
            return int(value)
        self.fail(name, f"expected a whole number >= {minimum}, got {shown(value)}")
        return default

    def boolean(self, name, default):
        value = self.raw(name, default)
        if isinstance(value, bool):
            return value
        self.fail(name, f"expected true or false, got {shown(value)}")
        return default

    def text(self, name, default, secret=False):
        value = self.raw(name, default)
        if (value is None and default is None) or (isinstance(value, str) and value.strip()):
            return value
        got = kind_of(value) if secret else shown(value)
        self.fail(name, f"expected a non-empty string, got {got}")
        return default

    def token(self, name, what, pattern, chars, required=True):
        """An id or name (YAML integers as written); best-effort text even when it is bad, so
        cross-references to it do not report a second problem."""
        value = self.raw(name, None)
        text = as_text(value)
        if value is None:
            if required:
                self.fail(name, f"required ({what})")
            return ""
        if text is None or not pattern.match(text):
            self.fail(name, f"expected {what} of {chars} only, got {shown(value)}")
        return text or ""

    def choice(self, name, default, choices):
        value = self.raw(name, default)
        if value in choices and isinstance(value, str):
            return value
        self.fail(name, f"expected one of {', '.join(choices)}; got {shown(value)}")
        return default


def _is_number(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def unknown_key(key, allowed):
    close = difflib.get_close_matches(key.replace("_", "-").lower(), allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]}?"
    return f"unknown key (allowed: {', '.join(allowed)})"


def items(value, where, problems):
    """A list section (agents, queues, tiers) as (key.path, item) pairs."""
    if value is None:
        return []
    if not isinstance(value, list):
        problems.error(where, f"expected a list, got {shown(value)}")
        return []
    return [(f"{where}[{i}]", item) for i, item in enumerate(value)]
