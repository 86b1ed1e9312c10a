/* The supervisors' wallboard (/wallboard): every queue and agent, live from the event stream
 * (queue.stats, agent.status), with listen / whisper / barge on an agent's call. */
"use strict";

(() => {
  const {api, $, el, duration, percent, serverNow} = ACD;
  const queues = new Map();   // name -> queue.stats
  const agents = new Map();   // id -> wallboard agent row

  function renderQueues() {
    const body = $("#queues tbody");
    body.replaceChildren();
    for (const q of queues.values()) {
      const longest = q.waiting && q.oldest_enqueued_at_epoch
        ? serverNow() - q.oldest_enqueued_at_epoch : 0;
      const states = q.agents.by_state, today = q.today;
      const row = el("tr", undefined, {"data-queue": q.queue});
      row.append(el("th", q.queue, {scope: "row"}), el("td", q.waiting, {class: q.waiting ? "hot" : ""}),
        el("td", q.waiting ? duration(longest) : "–", {class: "longest"}),
        el("td", percent(today.service_level)), el("td", today.answered), el("td", today.abandoned),
        el("td", q.agents.available), el("td", states.ringing || 0), el("td", states["in-call"] || 0),
        el("td", states["wrap-up"] || 0), el("td", q.agents.by_status["on-break"] || 0));
      body.append(row);
    }
  }

  function renderAgents() {
    const body = $("#agents tbody");
    body.replaceChildren();
    for (const a of agents.values()) {
      const row = el("tr", undefined, {"data-agent": a.id});
      const status = el("td", undefined);
      status.append(el("span", a.status.replace("-", " ") + (a.reason ? ` · ${a.reason}` : ""),
        {class: "badge", "data-status": a.status}));
      const actions = el("td");
      if (a.call && a.state === "in-call") {
        for (const mode of ["listen", "whisper", "barge"]) {
          const button = el("button", mode, {type: "button", "aria-label": `${mode} to ${a.name}`});
          button.addEventListener("click", () => supervise(mode, a.call));
          actions.append(button);
        }
      }
      row.append(el("th", `${a.name} (${a.id})`, {scope: "row"}), status,
        el("td", a.state.replace("-", " "), {"data-state": a.state}),
        el("td", a.since_epoch ? duration(serverNow() - a.since_epoch) : "", {class: "since"}),
        el("td", (a.queues || []).join(", ")), el("td", a.calls_answered), actions);
      body.append(row);
    }
  }

  async function supervise(mode, call) {
    $("#board-error").textContent = "";
    const contact = $("#sup-contact").value.trim();
    if (!contact) {
      $("#board-error").textContent = "Enter your phone (e.g. user/2000) first: it rings, then you hear the call.";
      $("#sup-contact").focus();
      return;
    }
    localStorage.setItem("acd.supervisor-contact", contact);
    try {
      await api("POST", `/api/v1/calls/${encodeURIComponent(call)}/${mode}`, {contact});
    } catch (e) {
      $("#board-error").textContent = e.message;
    }
  }

  async function load() {
    const board = await api("GET", "/api/v1/wallboard");
    ACD.syncClock(board.time_epoch);
    queues.clear();
    for (const q of board.queues) queues.set(q.queue, q);
    agents.clear();
    for (const a of board.agents) agents.set(a.id, a);
    renderQueues();
    renderAgents();
  }

  const handlers = {
    "queue.stats": (q) => { queues.set(q.queue, q); renderQueues(); },
    "agent.status": (d) => {
      const a = agents.get(d.agent);
      if (!a) return;
      if (d.state && d.state !== a.state) a.since_epoch = Date.parse(d.time) / 1000;
      Object.assign(a, {status: d.status || a.status, state: d.state || a.state,
        reason: d.reason || "", call: d.call || null});
      renderAgents();
    },
    "call.answered": (d) => {
      const a = agents.get(d.agent);
      if (a) { a.calls_answered = (a.calls_answered || 0) + 1; renderAgents(); }
    },
    "stream.reset": () => load(),
  };

  function tick() {
    for (const cell of document.querySelectorAll("#queues .longest")) {
      const q = queues.get(cell.parentElement.dataset.queue);
      if (q && q.waiting && q.oldest_enqueued_at_epoch) {
        cell.textContent = duration(serverNow() - q.oldest_enqueued_at_epoch);
      }
    }
    for (const cell of document.querySelectorAll("#agents .since")) {
      const a = agents.get(cell.parentElement.dataset.agent);
      if (a && a.since_epoch) cell.textContent = duration(serverNow() - a.since_epoch);
    }
  }

  async function start() {
    const who = await ACD.signIn();
    $("#logout").hidden = false;
    $("#logout").addEventListener("click", ACD.signOut);
    $("#to-desktop").hidden = !who.agent;
    $("#who").textContent = who.agent ? `${who.agent.name} (${who.role})` : who.name || who.role;
    if (who.role === "agent") {
      $("main").append(el("p", "The wallboard is for supervisors and admins.", {class: "panel error"}));
      return;
    }
    $("#sup-contact").value = localStorage.getItem("acd.supervisor-contact") ||
      (who.agent ? who.agent.contact : "");
    $("#board-view").hidden = false;
    await load();
    ACD.stream(handlers, ACD.showLink);
    setInterval(tick, 1000);
    setInterval(() => load().catch(() => {}), 60000);   // a safety net; the stream keeps it live
  }

  start();
})();
