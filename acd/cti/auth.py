"""Who is asking, and what they may do: roles, logins, tokens and event-stream tickets.

Theory of operation
-------------------
Every request under ``/api/v1`` carries a bearer token, which :meth:`Auth.authenticate` turns
into a :class:`Principal` -- a role (``agent``, ``supervisor``, ``admin``), maybe an agent id,
and the credential it came from:

* the **admin token** (``http.admin-token``): role admin, compared in constant time;
* a **login token** (``acd_s_...``) from ``POST /api/v1/login`` with an agent's id and password
  (``agents[].password-hash``, role from ``agents[].role``), valid ``http.session-ttl``;
* an **integration token** (``acd_t_...``) from ``acd token create``, valid until revoked or
  its ``--ttl`` runs out.

Tokens are random (256 bits) and stored in Redis only as their SHA-256 (acd.store.cti), so
every daemon on the same Redis knows them and a Redis dump yields none. A token unknown to
Redis -- expired, logged out, revoked, never issued -- is refused with 401; an unprefixed
token that is not the admin token keeps its old answer, 403 "invalid admin token".

Wrong passwords are counted per agent and per client address; past a few, the next try must
wait, doubling each time (429 with Retry-After), and each refusal is logged on ``acd.auth``.

The policy functions (:func:`may_read_everything`, :func:`may_act_as`, ...) are the one place
that says which role may do what; the HTTP layer asks them and answers 403.
"""

import hmac
import logging
import secrets
from dataclasses import dataclass

from acd import defaults
from acd.cti import passwords
from acd.store.keys import sha256

log = logging.getLogger("acd.auth")

ROLES = ("agent", "supervisor", "admin", "integration")   # integration: docs/crm.md
SESSION_PREFIX, TOKEN_PREFIX, TICKET_PREFIX = "acd_s_", "acd_t_", "acd_e_"
BEARER_HINT = ("expected: Authorization: Bearer <admin-token> (or a token from "
               "POST /api/v1/login or `acd token create`)")


@dataclass(frozen=True)
class Principal:
    """The caller: ``kind`` admin-token | session | token; ``credential`` the SHA-256 of the
    token (for logout and re-checks); ``expires_at`` epoch seconds or None."""
    role: str
    agent: "str | None" = None
    kind: str = "admin-token"
    name: str = ""
    credential: str = ""
    expires_at: "float | None" = None

    def as_dict(self):
        return {"role": self.role, "agent": self.agent, "kind": self.kind, "name": self.name,
                "credential": self.credential, "expires_at": self.expires_at}


class AuthError(Exception):
    """``status``: 401 (who are you?), 403 (not you), 429 (slow down); ``headers`` to send."""

    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, list(headers)


# -- policy ------------------------------------------------------------------------------------

def may_read_everything(principal):
    """Supervisors and admins read every agent, queue and call, and the wallboard."""
    return principal.role in ("supervisor", "admin")


def may_act_as(principal, agent_id):
    """Read the agent, change its status, see its calls: itself, supervisors, admins."""
    return may_read_everything(principal) or principal.agent == agent_id


def may_act_on_call(principal, call_agents):
    """Act on a call: supervisors and admins on any; an agent only on a call it is in
    (``call_agents``: the agents the call belongs to, acd.cti.views.agents_of_call)."""
    return may_read_everything(principal) or (principal.agent is not None
                                              and principal.agent in call_agents)


def is_integration(principal):
    """A CRM's token (``acd token create --role integration``): it may start calls for any
    agent and read calls and agents, nothing else."""
    return principal.role == "integration"


def is_admin(principal):
    return principal.role == "admin"


# -- credentials -------------------------------------------------------------------------------

class Auth:
    """``config()`` -> the current Config; ``store``: an acd.store.cti.CtiStore."""

    def __init__(self, config, store, clock, admin_token):
        self.config, self.store, self.clock = config, store, clock
        self._admin = admin_token.encode("utf-8") if admin_token else None

    @property
    def enabled(self):
        """False when no admin token is configured: the API then refuses everything (403)."""
        return self._admin is not None

    def authenticate(self, header):
        """The Principal of an ``Authorization`` header value; AuthError otherwise."""
        if not self.enabled:
            raise AuthError(403, "the API is disabled: no admin token is configured "
                                 "(http.admin-token or ACD_ADMIN_TOKEN)")
        scheme, _, token = (header or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError(401, f"missing or malformed Authorization header; {BEARER_HINT}",
                            [("WWW-Authenticate", 'Bearer realm="acd"')])
        return self.principal_of(token)

    def principal_of(self, token):
        # a WSGI header value is its bytes as latin-1: back to bytes, as the token was sent
        if hmac.compare_digest(token.encode("latin-1", "replace"), self._admin):
            return Principal("admin", name="admin-token")
        if token.startswith((SESSION_PREFIX, TOKEN_PREFIX)):
            principal = self._stored(token)
            if principal is not None:
                return principal
            raise AuthError(401, "invalid or expired token; log in again",
                            [("WWW-Authenticate", 'Bearer realm="acd", error="invalid_token"')])
        raise AuthError(403, "invalid admin token")

    def _stored(self, token):
        digest = sha256(token)
        if token.startswith(SESSION_PREFIX):
            fields, kind = self.store.session(digest), "session"
        else:
            fields, kind = self.store.api_token(digest), "token"
        if not fields or fields.get("role") not in ROLES or self._agent_removed(fields):
            return None
        expires = float(fields["expires_at"]) if fields.get("expires_at") else None
        if expires is not None and expires <= self.clock():
            return None
        return Principal(fields["role"], fields.get("agent") or None, kind,
                         fields.get("name", ""), digest, expires)

    def still_valid(self, principal):
        """Whether the principal's credential still holds (an open event stream re-checks)."""
        if principal.kind == "admin-token":
            return self.enabled
        fields = (self.store.session if principal.kind == "session" else self.store.api_token)(
            principal.credential)
        if not fields or self._agent_removed(fields):
            return False
        return principal.expires_at is None or principal.expires_at > self.clock()

    def _agent_removed(self, fields):
        """A session or token of an agent no longer configured (removed over the admin API or
        from acd.yaml) ends with the agent."""
        agent = fields.get("agent")
        return bool(agent) and not self.config().has_agent(agent)

    # -- logins -----------------------------------------------------------------------------

    def login(self, agent_id, password, address):
        """A new login token for the agent: ``(token, Principal)``. AuthError 401 when the id
        or password is wrong (the same answer for both), 429 while slowed down."""
        config, now = self.config(), self.clock()
        wait = self.store.login_wait(agent_id, address, now, defaults.LOGIN_FREE_FAILURES_AGENT,
                                     defaults.LOGIN_FREE_FAILURES_ADDRESS, defaults.LOGIN_DELAY,
                                     defaults.LOGIN_DELAY_MAX)
        if wait > 0:
            seconds = max(1, int(wait + 0.999))
            log.warning("login of agent %r from %s refused: too many wrong passwords, retry in "
                        "%d s", agent_id, address, seconds)
            raise AuthError(429, f"too many wrong passwords; try again in {seconds} s",
                            [("Retry-After", str(seconds))])
        known = any(agent.id == agent_id for agent in config.agents)
        account = config.cti.account(agent_id)
        if not (passwords.verify(account.password_hash if known else "", password) and known):
            by_agent, by_address = self.store.login_failed(agent_id, address, now,
                                                           defaults.LOGIN_FAILURE_WINDOW)
            log.warning("login failed: agent %r from %s (wrong agent or password; %d in a row "
                        "for the agent, %d from the address)", agent_id, address, by_agent,
                        by_address)
            raise AuthError(401, "wrong agent or password",
                            [("WWW-Authenticate", 'Bearer realm="acd"')])
        self.store.login_succeeded(agent_id)
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        expires = now + config.cti.session_ttl
        self.store.save_session(token, {"role": account.role, "agent": agent_id,
                                        "name": agent_id, "created_at": now,
                                        "expires_at": expires, "address": address},
                                config.cti.session_ttl)
        log.info("agent %s logged in from %s (role %s)", agent_id, address, account.role)
        return token, Principal(account.role, agent_id, "session", agent_id, sha256(token),
                                expires)

    def logout(self, principal):
        """End a login session; True if it was one (other credentials are not ended here)."""
        if principal.kind != "session":
            return False
        self.store.end_session(principal.credential)
        log.info("agent %s logged out", principal.agent)
        return True

    # -- event-stream tickets ---------------------------------------------------------------

    def ticket(self, principal):
        """A single-use ticket for GET /api/v1/events?ticket=...: ``(ticket, expires_at)``."""
        ticket = TICKET_PREFIX + secrets.token_urlsafe(32)
        self.store.save_ticket(ticket, principal.as_dict(), defaults.EVENT_TICKET_TTL)
        return ticket, self.clock() + defaults.EVENT_TICKET_TTL

    def redeem(self, ticket):
        """The Principal a ticket was issued to (the ticket is used up); AuthError 401."""
        if not self.enabled:
            raise AuthError(403, "the API is disabled: no admin token is configured "
                                 "(http.admin-token or ACD_ADMIN_TOKEN)")
        payload = self.store.take_ticket(ticket) if ticket.startswith(TICKET_PREFIX) else None
        if not payload:
            raise AuthError(401, "invalid, used or expired ticket; get a new one with "
                                 "POST /api/v1/events/ticket")
        principal = Principal(**payload)
        if not self.still_valid(principal):
            raise AuthError(401, "the token this ticket was issued to is no longer valid")
        return principal

    # -- integration tokens (acd token) -------------------------------------------------------

    def create_token(self, role, agent=None, name="", ttl=None):
        """A new integration token: ``(token, fields)``; the token is shown once, only its
        hash is kept."""
        if role not in ROLES:
            raise ValueError(f"invalid role {role!r}; valid: {', '.join(ROLES)}")
        if role == "agent" and not agent:
            raise ValueError("a token with role agent needs --agent")
        if role == "integration" and agent:
            raise ValueError("a token with role integration acts for any agent: no --agent")
        if agent and not any(a.id == agent for a in self.config().agents):
            raise ValueError(f"unknown agent {agent!r} (not in the config's agents)")
        now = self.clock()
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        fields = {"id": secrets.token_hex(4), "role": role, "agent": agent or "",
                  "name": name or "", "created_at": now,
                  "expires_at": now + ttl if ttl else ""}
        self.store.save_token(token, fields, ttl)
        return token, fields

    def tokens(self):
        return self.store.tokens()

    def revoke(self, token_id):
        return self.store.revoke_token(token_id)
