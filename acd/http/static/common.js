/* acd's pages: what the desktop and the wallboard share -- the API client with its token, the
 * login form, the live event stream (with tickets and replay after a reconnect) and formatting.
 * Plain browser JavaScript, no framework, no build step (docs/cti.md, "The web desktop").
 *
 * Values from calls (caller names, numbers, call data) are shown with textContent only: a
 * caller-controlled string never becomes HTML. */
"use strict";

const ACD = (() => {
  const TOKEN_KEY = "acd.token";
  const EVENT_TYPES = ["call.queued", "call.offered", "call.answered", "call.held", "call.unheld",
    "call.transferred", "call.ended", "call.abandoned", "agent.status", "queue.stats", "stream.reset",
    "call.updated", "recording.started", "recording.paused", "recording.resumed", "recording.stopped",
    "recording.deleted"];
  let signedOut = () => location.reload();

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  const token = () => localStorage.getItem(TOKEN_KEY);

  /* One API request: JSON in, JSON out; an answer other than 2xx throws ApiError with acd's
   * {"error": ...} message. A 401 (token expired, logged out elsewhere) signs the page out. */
  async function api(method, path, body) {
    const headers = {};
    if (token()) headers.Authorization = `Bearer ${token()}`;
    const init = {method, headers, cache: "no-store"};
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "acd cannot be reached; check the network");
    }
    let data = null;
    try { data = await resp.json(); } catch (e) { /* not JSON */ }
    if (!resp.ok) {
      if (resp.status === 401 && path !== "/api/v1/login" && token()) {
        localStorage.removeItem(TOKEN_KEY);
        signedOut();
      }
      throw new ApiError(resp.status, (data && data.error) || `${resp.status} ${resp.statusText}`);
    }
    return data;
  }

  /* The sign-in form (#login-view): an agent id and password, or a token pasted from `acd token
   * create`. Resolves with GET /api/v1/me once signed in. */
  function signIn(onSignedOut) {
    signedOut = onSignedOut || signedOut;
    return new Promise((resolve) => {
      const view = $("#login-view"), form = $("#login-form"), error = $("#login-error");
      const tryMe = async () => {
        try {
          const me = await api("GET", "/api/v1/me");
          view.hidden = true;
          resolve(me);
        } catch (e) {
          localStorage.removeItem(TOKEN_KEY);
          show(e.message);
        }
      };
      const show = (message) => {
        view.hidden = false;
        error.textContent = message || "";
        $("#login-agent").focus();
      };
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        error.textContent = "";
        const pasted = $("#login-token").value.trim();
        if (pasted) {
          localStorage.setItem(TOKEN_KEY, pasted);
          return tryMe();
        }
        try {
          const answer = await api("POST", "/api/v1/login",
            {agent: $("#login-agent").value.trim(), password: $("#login-password").value});
          $("#login-password").value = "";
          localStorage.setItem(TOKEN_KEY, answer.token);
          tryMe();
        } catch (e) {
          show(e.message);
        }
      });
      if (token()) tryMe(); else show("");
    });
  }

  async function signOut() {
    try { await api("POST", "/api/v1/logout"); } catch (e) { /* an integration token: just forget it */ }
    localStorage.removeItem(TOKEN_KEY);
    location.reload();
  }

  /* The live event stream. EventSource cannot send the token, and a ticket is single-use, so
   * after any error the page asks for a new ticket and reconnects with the last event id it
   * saw: acd replays what was missed. `onLink` gets "connecting", "live" or "reconnecting". */
  function stream(handlers, onLink) {
    let last = null, source = null, delay = 1000, timer = null;
    const dispatch = (type) => (ev) => {
      if (ev.lastEventId) last = ev.lastEventId;
      let data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (handlers[type]) handlers[type](data);
    };
    const retry = () => {
      onLink("reconnecting");
      clearTimeout(timer);
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
    async function connect() {
      if (source) source.close();
      let ticket;
      try {
        ticket = (await api("POST", "/api/v1/events/ticket")).ticket;
      } catch (e) {
        if (e.status !== 401) retry();
        return;
      }
      const query = new URLSearchParams({ticket});
      if (last) query.set("last_event_id", last);
      source = new EventSource(`/api/v1/events?${query}`);
      source.onopen = () => { delay = 1000; onLink("live"); };
      for (const type of EVENT_TYPES) source.addEventListener(type, dispatch(type));
      source.onerror = () => { source.close(); retry(); };
    }
    onLink("connecting");
    connect();
  }

  /* The header's link indicator. */
  function showLink(state) {
    const el = $("#link");
    el.dataset.state = state;
    el.textContent = {connecting: "Connecting…", live: "Live",
      reconnecting: "Connection lost — reconnecting; missed events will follow"}[state] || state;
  }

  // -- small helpers ---------------------------------------------------------------------------

  function $(selector, root) { return (root || document).querySelector(selector); }

  /* An element with text (never HTML) and attributes. */
  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    return node;
  }

  /* 75 -> "1:15", 3700 -> "1:01:40". */
  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds || 0));
    const h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? `${h}:` : "") + `${mm}:${String(s).padStart(2, "0")}`;
  }

  function clockTime(epoch) {
    if (!epoch) return "";
    return new Date(epoch * 1000).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
  }

  function percent(value) {
    return value === null || value === undefined ? "–" : `${Math.round(value * 100)} %`;
  }

  /* The server's clock minus ours (seconds), from an answer's time_epoch: waits are counted on
   * the server's clock, whatever this PC's clock says. */
  let skew = 0;
  function serverNow() { return Date.now() / 1000 + skew; }
  function syncClock(epoch) { if (epoch) skew = epoch - Date.now() / 1000; }

  return {api, ApiError, signIn, signOut, stream, showLink, $, el, duration, clockTime, percent,
    serverNow, syncClock};
})();
