/* The agent desktop (/): status, the caller's card while the phone rings, call control,
 * click-to-dial, recent calls. Everything shown follows the event stream; the answers to
 * requests only report errors (docs/cti.md). */
"use strict";

(() => {
  const {api, $, el, duration, clockTime} = ACD;
  const PHASES = {
    ringing: "Incoming call — your phone is ringing",
    dialing: "Calling — your phone rings first",
    talking: "Talking",
    held: "On hold — the caller hears music",
    transferred: "Transferred",
    ended: "Call ended",
  };
  const LIVE = new Set(["ringing", "dialing", "talking", "held"]);
  const me = {id: null, status: "", state: "", reason: "", call: null};
  let card = null;   // {call, phase, info, shownAt, waitAtShow, answeredAt, note}

  // -- status ----------------------------------------------------------------------------------

  function renderStatus() {
    const badge = $("#status-badge");
    badge.textContent = me.status.replace("-", " ");
    badge.dataset.status = me.status;
    let state = me.state.replace("-", " ");
    if (me.status === "on-break" && me.reason) state += ` · ${me.reason}`;
    $("#state-text").textContent = state;
    for (const button of document.querySelectorAll("[data-status]")) {
      button.setAttribute("aria-pressed", String(button.dataset.status === me.status));
    }
  }

  async function setStatus(status) {
    $("#status-error").textContent = "";
    const body = {status};
    const reason = $("#break-reason").value;
    if (status === "on-break" && reason) body.reason = reason;
    try {
      await api("PUT", `/api/v1/agents/${encodeURIComponent(me.id)}/status`, body);
    } catch (e) {
      $("#status-error").textContent = e.message;
    }
  }

  // -- the card --------------------------------------------------------------------------------

  function showCard(info, phase) {
    const fresh = !card || card.call !== info.call;
    const keptCrm = fresh ? null : card.crm;
    card = {call: info.call, phase, info, shownAt: Date.now(), waitAtShow: info.wait || 0,
      answeredAt: fresh ? null : card.answeredAt, note: "", rec: fresh ? "" : card.rec};
    if (phase === "talking" && info.answered_at_epoch) card.answeredAt = info.answered_at_epoch * 1000;
    $("#no-call").hidden = true;
    $("#card").hidden = false;
    $("#card").dataset.call = info.call;
    const outbound = info.direction === "outbound";
    $("#card-title").textContent = info.caller_name || info.caller_number ||
      (outbound ? info.to || "" : "Unknown caller");
    $("#card-number").textContent = info.caller_name ? info.caller_number || "" : "";
    const facts = $("#card-facts");
    facts.replaceChildren();
    const fact = (name, value) => {
      if (value === undefined || value === null || value === "") return;
      facts.append(el("dt", name), el("dd", value));
    };
    fact("Direction", outbound ? "outbound (click-to-dial)" : "");
    fact("Queue", info.queue);
    if (!outbound) fact("Waited", duration(info.wait));
    fact("IVR", info.ivr_path);
    for (const [name, value] of Object.entries(info.digits || {})) fact(`Typed: ${name}`, value);
    for (const [name, value] of Object.entries(info.data || {})) {
      if (name !== "ivr_path" && !(info.digits && name in info.digits)) {
        fact(name, typeof value === "object" ? JSON.stringify(value) : value);
      }
    }
    const skills = Object.entries(info.skills || {}).map(([s, level]) => `${s} ${level}`).join(", ");
    fact("Skills", skills);
    showCrm(info.crm || keptCrm || null);
    setPhase(phase);
  }

  /* The CRM's record of the caller (docs/crm.md): title, fields, a link opening in a new tab
     -- http(s) links only; every value is text. */
  function showCrm(crm) {
    if (card) card.crm = crm;
    $("#crm").hidden = !crm;
    if (!crm) return;
    $("#crm-title").textContent = crm.title || "";
    const fields = $("#crm-fields");
    fields.replaceChildren();
    for (const [name, value] of Object.entries(crm.fields || {})) {
      fields.append(el("dt", name), el("dd", value));
    }
    const link = $("#crm-open");
    let url = null;
    try { url = crm.open_url ? new URL(crm.open_url) : null; } catch (e) { url = null; }
    const safe = url && (url.protocol === "https:" || url.protocol === "http:");
    link.hidden = !safe;
    if (safe) link.href = url.href; else link.removeAttribute("href");
  }

  function setPhase(phase, note) {
    if (!card) return;
    card.phase = phase;
    if (note !== undefined) card.note = note;
    if (phase === "talking" && !card.answeredAt) card.answeredAt = Date.now();
    $("#card").dataset.phase = phase;
    renderControls();
    tick();
  }

  function endCard(note) {
    const answered = card && card.answeredAt && card.info.direction !== "outbound";
    if (card && LIVE.has(card.phase)) setPhase("ended", note);
    if (answered) askWrapUp(card);
    loadRecent();
  }

  /* The wrap-up code (docs/crm.md): asked after an answered call of a queue that has codes. */
  function askWrapUp(ended) {
    const codes = (me.wrap_up_codes || {})[ended.info.queue] || [];
    const form = $("#wrap-up-form");
    form.hidden = codes.length === 0;
    if (!codes.length) return;
    form.dataset.call = ended.call;
    $("#wrap-up-code").replaceChildren(...codes.map((code) => el("option", code, {value: code})));
    $("#wrap-up-note").value = "";
    $("#wrap-up-error").textContent = "";
  }

  async function wrapUp(ev) {
    ev.preventDefault();
    const form = $("#wrap-up-form");
    try {
      await api("POST", `/api/v1/calls/${encodeURIComponent(form.dataset.call)}/wrap-up`,
        {code: $("#wrap-up-code").value, note: $("#wrap-up-note").value});
      form.hidden = true;
      if (card && card.call === form.dataset.call) setPhase(card.phase, `wrap-up: ${$("#wrap-up-code").value}`);
    } catch (e) {
      $("#wrap-up-error").textContent = e.message;
    }
  }

  function tick() {
    if (!card) return;
    const now = Date.now();
    let line = PHASES[card.phase] || card.phase;
    if (card.phase === "ringing") {
      line += ` · waiting ${duration(card.waitAtShow + (now - card.shownAt) / 1000)}`;
    } else if ((card.phase === "talking" || card.phase === "held") && card.answeredAt) {
      line += ` · ${duration((now - card.answeredAt) / 1000)}`;
    }
    if (card.note) line += ` — ${card.note}`;
    $("#card-phase").textContent = line;
  }

  const REC = {recording: "● Recording", paused: "Recording paused — nothing is recorded",
    stopped: "Recording stopped", deleted: "Recording stopped and deleted"};

  function setRecording(data, state) {
    if (!current(data)) return;
    card.rec = state;
    const line = $("#rec");
    line.hidden = !state;
    line.dataset.state = state;
    line.textContent = REC[state] + (data.reason && state === "stopped" ? ` (${data.reason.replaceAll("-", " ")})` : "");
    renderControls();
  }

  function renderControls() {
    const phase = card ? card.phase : "";
    const rec = card && LIVE.has(phase) ? card.rec : "";
    $("#rec-controls").hidden = !["recording", "paused"].includes(rec);
    $("#rec-pause").disabled = rec !== "recording";
    $("#rec-resume").disabled = rec !== "paused";
    $("#controls").hidden = !LIVE.has(phase) || phase === "ringing";
    $("#hold").disabled = phase !== "talking";
    $("#unhold").disabled = phase !== "held";
    $("#hangup").disabled = !["talking", "held", "dialing"].includes(phase);
    const canTransfer = card && card.info.direction !== "outbound" && ["talking", "held"].includes(phase);
    for (const node of $("#transfer-form").elements) node.disabled = !canTransfer;
    for (const key of $("#dtmf-pad").children) key.disabled = phase !== "talking";
  }

  async function control(action, body) {
    $("#call-error").textContent = "";
    if (!card) return;
    try {
      await api("POST", `/api/v1/calls/${encodeURIComponent(card.call)}/${action}`, body);
    } catch (e) {
      $("#call-error").textContent = e.message;
    }
  }

  async function transfer(ev) {
    ev.preventDefault();
    const kind = $("#transfer-kind").value, to = $("#transfer-to").value.trim();
    if (!to) {
      $("#call-error").textContent = `Name the ${kind} to transfer to.`;
      return;
    }
    await control("transfer", {[kind]: to});
    $("#transfer-to").value = "";
  }

  // -- what acd holds now ----------------------------------------------------------------------

  async function loadCurrent() {
    const calls = await api("GET", `/api/v1/agents/${encodeURIComponent(me.id)}/calls?limit=20`);
    renderRecent(calls.recent);
    const now = calls.current;
    if (!now) {
      if (card && LIVE.has(card.phase)) endCard();
      return;
    }
    if (card && card.call === now.call && LIVE.has(card.phase)) return;
    const outbound = now.direction === "outbound";
    const phase = outbound ? "dialing"
      : now.state === "in-call" && now.answered_at_epoch ? "talking" : "ringing";
    showCard(now, phase);
  }

  async function loadRecent() {
    try {
      const calls = await api("GET", `/api/v1/agents/${encodeURIComponent(me.id)}/calls?limit=20`);
      renderRecent(calls.recent);
    } catch (e) { /* shown on the next change */ }
  }

  function renderRecent(recent) {
    const body = $("#recent tbody");
    body.replaceChildren();
    for (const call of recent) {
      const row = el("tr");
      const caller = call.caller_name ? `${call.caller_name} ${call.caller_number}` : call.caller_number;
      for (const cell of [clockTime(call.enqueued_at_epoch || call.ended_at_epoch), call.direction,
        caller, call.queue, (call.answered ? "answered by me" : call.result.replace("_", " "))
          + (call.wrap_up_code ? ` · ${call.wrap_up_code}` : ""),
        duration(call.wait), call.talk ? duration(call.talk) : ""]) {
        row.append(el("td", cell));
      }
      body.append(row);
    }
    if (!recent.length) {
      const row = el("tr");
      row.append(el("td", "No calls yet.", {colspan: "7", class: "muted"}));
      body.append(row);
    }
  }

  // -- the event stream ------------------------------------------------------------------------

  const mine = (data) => data.agent === me.id;
  const current = (data) => card && data.call === card.call;
  const handlers = {
    "call.offered": (d) => { if (mine(d)) showCard(d, "ringing"); },
    "call.answered": (d) => { if (mine(d)) { if (!current(d)) showCard(d, "talking"); else setPhase("talking"); } },
    "call.updated": (d) => { if (current(d) && d.crm) showCrm(d.crm); },
    "call.held": (d) => { if (current(d)) setPhase("held"); },
    "call.unheld": (d) => { if (current(d)) setPhase("talking"); },
    "call.transferred": (d) => {
      if (current(d)) setPhase("transferred", `to ${Object.entries(d.to || {}).map(([k, v]) => `${k} ${v}`).join("")}`);
    },
    "call.ended": (d) => { if (current(d)) endCard(d.why ? d.why.replaceAll("-", " ") : ""); },
    "call.abandoned": (d) => { if (current(d)) endCard("the caller hung up before you answered"); },
    "agent.status": (d) => {
      if (d.agent !== me.id) return;
      Object.assign(me, {status: d.status || me.status, state: d.state || me.state,
        reason: d.reason || "", call: d.call || null});
      renderStatus();
      if (card && card.call === d.call && card.phase === "dialing") {
        if (d.change === "dial-answered") setPhase("dialing", "ringing the customer");
        if (d.change === "dial-connected") setPhase("talking", "");
      }
      if (me.call && (!card || card.call !== me.call || !LIVE.has(card.phase))) loadCurrent();
      else if (!me.call && card && LIVE.has(card.phase) && ["waiting", "wrap-up"].includes(me.state)) endCard();
    },
    "stream.reset": () => { refresh(); },
    "recording.started": (d) => setRecording(d, "recording"),
    "recording.paused": (d) => setRecording(d, "paused"),
    "recording.resumed": (d) => setRecording(d, "recording"),
    "recording.stopped": (d) => setRecording(d, "stopped"),
    "recording.deleted": (d) => setRecording(d, "deleted"),
  };

  async function refresh() {
    const who = await api("GET", "/api/v1/me");
    Object.assign(me, {status: who.agent.status, state: who.agent.state,
      reason: who.status_reason || "", call: who.agent.call, wrap_up_codes: who.wrap_up_codes || {}});
    renderStatus();
    await loadCurrent();
  }

  // -- click-to-dial and tel: links ------------------------------------------------------------

  async function dial(ev) {
    ev.preventDefault();
    $("#dial-error").textContent = "";
    $("#dial-note").textContent = "";
    const to = $("#dial-to").value.replace(/[\s().\/-]/g, "");
    try {
      const answer = await api("POST", "/api/v1/calls", {agent: me.id, to});
      showCard({call: answer.uuid, direction: "outbound", caller_number: to, to}, "dialing");
      $("#dial-to").value = "";
    } catch (e) {
      $("#dial-error").textContent = e.message;
    }
  }

  function takeTelLink() {
    const params = new URLSearchParams(location.search);
    const link = params.get("dial");
    if (!link) return;
    const number = decodeURIComponent(link.replace(/^tel:/i, "")).split(";")[0];
    $("#dial-to").value = number.replace(/[\s().\/-]/g, "");
    $("#dial-note").textContent = "Number from a tel: link — press Dial to call it.";
    $("#dial-form button").focus();
    history.replaceState(null, "", "/");
  }

  function registerTel() {
    try {
      navigator.registerProtocolHandler("tel", `${location.origin}/?dial=%s`);
      $("#dial-note").textContent = "Your browser will ask to open tel: links with acd.";
    } catch (e) {
      $("#dial-note").textContent = "This browser refused (tel: links need the desktop over HTTPS).";
    }
  }

  // -- start -----------------------------------------------------------------------------------

  function wire(who) {
    for (const button of document.querySelectorAll("[data-status]")) {
      button.addEventListener("click", () => setStatus(button.dataset.status));
    }
    const reasons = $("#break-reason");
    for (const reason of who.break_reasons) reasons.append(el("option", reason, {value: reason}));
    $("#reason-row").hidden = !who.break_reasons.length;
    for (const queue of who.agent.queues) $("#queue-names").append(el("option", "", {value: queue.name}));
    const consent = $("#consent");
    consent.checked = Boolean(who.agent.recording_consent && who.agent.recording_consent.consent);
    consent.disabled = who.kind !== "session";   // only the agent, signed in with its password
    consent.addEventListener("change", async () => {
      $("#status-error").textContent = "";
      try {
        const answer = await api("PUT", `/api/v1/agents/${encodeURIComponent(me.id)}/recording-consent`,
          {consent: consent.checked});
        consent.checked = answer.consent;
      } catch (e) {
        consent.checked = !consent.checked;
        $("#status-error").textContent = e.message;
      }
    });
    $("#rec-pause").addEventListener("click", () => control("recording/pause"));
    $("#rec-resume").addEventListener("click", () => control("recording/resume"));
    $("#rec-stop").addEventListener("click", () => control("recording/stop"));
    $("#hold").addEventListener("click", () => control("hold"));
    $("#unhold").addEventListener("click", () => control("unhold"));
    $("#hangup").addEventListener("click", () => control("hangup"));
    $("#transfer-form").addEventListener("submit", transfer);
    for (const key of "123456789*0#") {
      const button = el("button", key, {type: "button", "aria-label": `Send ${key}`});
      button.addEventListener("click", () => control("dtmf", {digits: key}));
      $("#dtmf-pad").append(button);
    }
    $("#dial-form").addEventListener("submit", dial);
    $("#wrap-up-form").addEventListener("submit", wrapUp);
    $("#tel-handler").addEventListener("click", registerTel);
    $("#logout").addEventListener("click", ACD.signOut);
    setInterval(tick, 1000);
  }

  async function start() {
    const who = await ACD.signIn();
    $("#logout").hidden = false;
    $("#to-wallboard").hidden = who.role === "agent";
    if (!who.agent) {
      const note = el("p", "This desktop is for agents. This sign-in belongs to no agent; " +
        "supervisors and admins find the wallboard at /wallboard.", {class: "panel"});
      $("main").append(note);
      return;
    }
    me.id = who.agent.id;
    $("#who").textContent = `${who.agent.name} (${who.agent.id})`;
    $("#desk-view").hidden = false;
    wire(who);
    Softphone.start(who);
    takeTelLink();
    await refresh();
    ACD.stream(handlers, ACD.showLink);
  }

  start();
})();
