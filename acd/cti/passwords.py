"""Agents' passwords: Argon2id hashes (argon2-cffi), checked off the gevent loop.

Theory of operation
-------------------
``acd passwd`` makes a hash with argon2-cffi's defaults (Argon2id, RFC 9106's low-memory
profile: 64 MiB, 3 passes); the hash carries its own parameters, so :func:`verify` checks it
with whatever it was made with. A check costs tens of milliseconds of CPU: it runs in a small
native thread pool (argon2-cffi releases the GIL), so the daemon's routing greenlet and the
other HTTP requests go on meanwhile. An agent without a hash, or an unknown agent, is checked
against a dummy hash all the same, so the answer takes as long and tells nothing.
"""

import functools

import gevent.threadpool
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: Password checks at the same time (each holds its memory cost, 64 MiB by default).
CHECKERS = 2
_hasher = PasswordHasher()
_pool = None


def hash_password(password):
    """The Argon2id hash of ``password`` (a str), as agents[].password-hash takes it."""
    if not isinstance(password, str) or not password:
        raise ValueError("an empty password cannot be hashed")
    return _hasher.hash(password)


@functools.lru_cache(maxsize=1)
def _dummy_hash():
    return _hasher.hash("acd dummy password: never valid")


def _check(password_hash, password):
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _threads():
    global _pool
    if _pool is None:
        _pool = gevent.threadpool.ThreadPool(CHECKERS)
    return _pool


def verify(password_hash, password):
    """Whether ``password`` matches ``password_hash`` ('' or None: never, after the same work).
    Runs in a native thread; the calling greenlet waits, the others run."""
    if not isinstance(password, str):
        password = ""
    ok = _threads().apply(_check, (password_hash or _dummy_hash(), password))
    return bool(ok and password_hash)


def hash_off_loop(password):
    """:func:`hash_password` in a native thread (a password set over the admin API): the
    calling greenlet waits, the others run."""
    return _threads().apply(hash_password, (password,))
