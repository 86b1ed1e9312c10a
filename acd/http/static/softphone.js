/* The desktop's softphone: the agent's own SIP user registered over WebSocket (RFC 7118) with
 * JsSIP, which `make softphone` puts in /static/vendor/. The SIP password is typed once per
 * browser session and kept in sessionStorage; acd never sees it. Calls that carry the
 * auto-answer signalling (Call-Info answer-after=0, or Alert-Info info=alert-autoanswer) are
 * answered after a short beep; others ring until the agent answers or rejects. The INVITE's
 * X-Acd-Call header names acd's call, which links the phone to the caller's card. */
"use strict";

const Softphone = (() => {
  const {$, el} = ACD;
  const KEY = "acd.sip-password";
  let ua = null;
  let session = null;   // the one call at a time
  let config = null;    // {ws_url, domain, uri} from GET /api/v1/me

  function say(text) { $("#phone-state").textContent = text; }

  function start(who) {
    config = who.softphone;
    const panel = $("#phone-panel");
    if (!config) { panel.hidden = true; return; }
    panel.hidden = false;
    if (typeof JsSIP === "undefined") {
      say("The softphone is not installed on this server (make softphone); use your phone.");
      $("#phone-login").hidden = true;
      return;
    }
    $("#phone-uri").textContent = config.uri;
    $("#phone-login").addEventListener("submit", (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(KEY, $("#phone-password").value);
      $("#phone-password").value = "";
      connect();
    });
    $("#phone-answer").addEventListener("click", () => answer());
    $("#phone-reject").addEventListener("click", () => session && session.terminate({status_code: 486}));
    $("#phone-hangup").addEventListener("click", () => session && session.terminate());
    $("#phone-mute").addEventListener("click", toggleMute);
    $("#phone-hold").addEventListener("click", toggleHold);
    for (const key of "123456789*0#") {
      const button = el("button", key, {type: "button"});
      button.addEventListener("click", () => session && session.isEstablished() && session.sendDTMF(key));
      $("#phone-keys").append(button);
    }
    setInterval(showLink, 1000);
    if (sessionStorage.getItem(KEY)) connect();
  }

  function connect() {
    if (ua) ua.stop();
    const socket = new JsSIP.WebSocketInterface(config.ws_url);
    ua = new JsSIP.UA({sockets: [socket], uri: config.uri, password: sessionStorage.getItem(KEY),
      register: true, session_timers: false, user_agent: "acd desktop softphone"});
    $("#phone-login").hidden = true;
    say("Connecting…");
    ua.on("connected", () => say("Connected, registering…"));
    ua.on("disconnected", () => say("Not connected to the switch; retrying…"));
    ua.on("registered", () => say("Registered: calls ring here"));
    ua.on("unregistered", () => say("Not registered"));
    ua.on("registrationFailed", (e) => {
      say(`Registration failed (${e.cause}); enter the SIP password again`);
      sessionStorage.removeItem(KEY);
      $("#phone-login").hidden = false;
    });
    ua.on("newRTCSession", (e) => { if (e.originator === "remote") incoming(e.session, e.request); });
    ua.start();
  }

  function autoAnswer(request) {
    const callInfo = request.getHeaders("Call-Info").join(",");
    const alertInfo = request.getHeaders("Alert-Info").join(",");
    return /answer-after\s*=\s*0\b/i.test(callInfo) || /info\s*=\s*alert-autoanswer/i.test(alertInfo);
  }

  function incoming(call, request) {
    if (session) { call.terminate({status_code: 486}); return; }   // busy: one call at a time
    session = call;
    const acdCall = request.getHeader("X-Acd-Call") || "";
    $("#phone-call").hidden = false;
    $("#phone-call").dataset.acdCall = acdCall;
    $("#phone-from").textContent = request.from.display_name || request.from.uri.user || "";
    showCall("ringing");
    call.on("accepted", () => showCall("talking"));
    call.on("confirmed", () => showCall("talking"));
    call.on("hold", () => showCall("held"));
    call.on("unhold", () => showCall("talking"));
    call.on("ended", () => finished("Call ended"));
    call.on("failed", (e) => finished(`Call ended (${e.cause})`));
    call.on("peerconnection", (e) => hearRemote(e.peerconnection));
    if (autoAnswer(request)) { beep(); setTimeout(answer, 400); }
  }

  function answer() {
    if (!session || session.isEstablished() || session.isEnded()) return;
    session.answer({mediaConstraints: {audio: true, video: false}, pcConfig: {iceServers: []}});
    hearRemote(session.connection);
  }

  function hearRemote(pc) {
    if (!pc) return;
    pc.addEventListener("track", (e) => { $("#phone-audio").srcObject = e.streams[0]; });
  }

  function beep() {
    try {
      const audio = new AudioContext();
      const tone = audio.createOscillator();
      tone.frequency.value = 880;
      tone.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.2);
    } catch (e) { /* no audio output: answer anyway */ }
  }

  function toggleMute() {
    if (!session) return;
    if (session.isMuted().audio) session.unmute({audio: true}); else session.mute({audio: true});
    $("#phone-mute").setAttribute("aria-pressed", String(session.isMuted().audio));
  }

  function toggleHold() {
    if (!session || !session.isEstablished()) return;
    if (session.isOnHold().local) session.unhold(); else session.hold();
  }

  function showCall(phase) {
    $("#phone-call").dataset.phase = phase;
    $("#phone-phase").textContent = {ringing: "Ringing", talking: "Talking", held: "On hold"}[phase];
    $("#phone-answer").hidden = $("#phone-reject").hidden = phase !== "ringing";
    $("#phone-hangup").hidden = $("#phone-mute").hidden = $("#phone-hold").hidden = phase === "ringing";
    showLink();
  }

  function showLink() {
    const acdCall = session ? $("#phone-call").dataset.acdCall : "";
    const linked = acdCall && $("#card").dataset.call === acdCall;
    $("#phone-link").textContent = !acdCall ? "" :
      linked ? "This is the call on the caller's card." : "A call from acd; its card follows.";
    $("#phone-call").dataset.linked = String(Boolean(linked));
  }

  function finished(note) {
    session = null;
    $("#phone-call").hidden = true;
    $("#phone-call").dataset.phase = "";
    $("#phone-call").dataset.acdCall = "";
    $("#phone-audio").srcObject = null;
    say(`${note}. ${ua && ua.isRegistered() ? "Registered: calls ring here" : "Not registered"}`);
  }

  return {start};
})();
