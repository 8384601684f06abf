/* The gate view (/gate): camera scan, direction, temperature keypad, verdict screen.
 *
 * Flow: the camera is read a few times a second by the page's decoder (gate-decoder.js:
 * zxing-cpp in WebAssembly). A code, or a typed card code, is posted with the direction and
 * the temperature (integer tenths) to the server, which decides with the same function as the
 * gate scanners. When the server cannot be reached (no network, no answer within the
 * deadline, a 5xx), a scanned code is decided on the phone by the JavaScript decider over the
 * community's bundle (gate-offline.js) and journaled in IndexedDB BEFORE the verdict shows;
 * journaled crossings are uploaded when the network returns. The verdict fills the screen
 * (green / red / amber) with a sound and stays until the next code is read or 下一位 is
 * pressed. Each crossing has a client UUID: a retry after a lost answer replays, never
 * double-counts. The status bar shows online/offline, the bundle's age and the unsent count.
 */
(function () {
  "use strict";

  var root = document.getElementById("gate");
  if (!root) {
    return;
  }

  var ONLINE_DEADLINE_MS = 2500;
  var SCAN_INTERVAL_MS = 150;
  var SAME_CODE_PAUSE_MS = 5000;
  var RETRY_ONLINE_AFTER_MS = 20000;
  /* Refusals about the pass itself: an override cannot help, the office must re-issue. */
  var NOT_OVERRIDABLE = [
    "bad_format", "unknown_key", "bad_signature", "key_revoked", "key_not_valid",
    "validity_too_long", "wrong_community", "not_yet_valid", "expired", "revoked",
    "superseded", "unknown_household", "unknown_pass", "screen_code_stale", "sensor_error",
    "no_temperature", "clock_fault", "no_bundle",
    /* People without a household pass (gate-visitors.js, visitor passes): never overridden. */
    "no_pass", "handed_over", "visitor_pass_used", "visitor_pass_revoked",
    "visitor_pass_expired", "visitor_pass_not_yet_valid"
  ];

  /* Refusals of a pass the office replaced, withdrew or let lapse: the person's next step is
   * the office (a new pass), said on the verdict. */
  var NEW_PASS_CODES = ["superseded", "revoked", "expired"];

  var strings = document.getElementById("strings").dataset;
  var reasons = JSON.parse(document.getElementById("offline-reasons").textContent || "{}");
  var temperatureRequired = root.dataset.temperatureRequired === "1";
  var canOverride = root.dataset.canOverride === "1";
  var lang = root.dataset.lang || "zh";
  var offline = window.GateOffline;

  var el = {
    scanView: document.getElementById("scan-view"),
    video: document.getElementById("camera"),
    cameraMessage: document.getElementById("camera-message"),
    prompt: document.getElementById("prompt"),
    temp: document.getElementById("temp-display"),
    keypad: document.getElementById("keypad"),
    manualOpen: document.getElementById("manual-open"),
    manualForm: document.getElementById("manual-form"),
    manualCode: document.getElementById("manual-code"),
    manualCancel: document.getElementById("manual-cancel"),
    manualSubmit: document.getElementById("manual-submit"),
    manualMessage: document.getElementById("manual-message"),
    verdict: document.getElementById("verdict"),
    headline: document.getElementById("verdict-headline"),
    reason: document.getElementById("verdict-reason"),
    label: document.getElementById("verdict-label"),
    next: document.getElementById("verdict-next"),
    crossing: document.getElementById("verdict-crossing"),
    crossingDirection: document.getElementById("verdict-direction"),
    crossingTemperature: document.getElementById("verdict-temperature"),
    offlineNote: document.getElementById("verdict-offline"),
    overrideBox: document.getElementById("override-box"),
    overrideOpen: document.getElementById("override-open"),
    overrideForm: document.getElementById("override-form"),
    overrideReason: document.getElementById("override-reason"),
    overrideCancel: document.getElementById("override-cancel"),
    overrideHint: document.getElementById("override-hint"),
    overrideMessage: document.getElementById("override-message"),
    overrideCard: document.getElementById("override-card"),
    done: document.getElementById("verdict-done"),
    net: document.getElementById("net-status"),
    bundleAge: document.getElementById("bundle-age"),
    unsent: document.getElementById("unsent"),
    dead: document.getElementById("dead-letters"),
    loginLost: document.getElementById("login-lost"),
    loginLostText: document.getElementById("login-lost-text")
  };

  var state = {
    mode: "scan", /* scan | sending | verdict */
    direction: "out",
    temperature: "",
    pending: null, /* {kind: "scan"|"manual", value, id} waiting for a temperature or a retry */
    last: null, /* the crossing last shown, for an override */
    card: null, /* a supervisor card read while a refusal is shown */
    lastText: "",
    lastTextAt: 0,
    serverDownUntil: 0 /* skip the server until then after it did not answer */
  };

  /* ---------- helpers ---------- */

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return (meta && meta.getAttribute("content")) || root.dataset.csrfToken || "";
  }

  function uuid4() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
      hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function fill(template, key, value) {
    return template.replace("{" + key + "}", value);
  }

  function setPrompt(text) {
    el.prompt.textContent = text;
  }

  /* "36.5" or "365" -> 365 (tenths); "" -> null; anything else -> undefined (not ready). */
  function temperatureTenths() {
    var text = state.temperature;
    if (text === "") {
      return null;
    }
    if (/^\d{3}$/.test(text)) {
      return parseInt(text, 10);
    }
    if (/^\d{2}(\.\d)?$/.test(text)) {
      return Math.round(parseFloat(text) * 10);
    }
    return undefined;
  }

  function showTemperature() {
    var tenths = temperatureTenths();
    if (state.temperature === "") {
      el.temp.textContent = "--.-";
    } else if (typeof tenths === "number" && /^\d{3}$/.test(state.temperature)) {
      el.temp.textContent = (tenths / 10).toFixed(1);
    } else {
      el.temp.textContent = state.temperature;
    }
    el.temp.classList.toggle("is-invalid", state.temperature !== "" && tenths === undefined);
  }

  /* The readout shakes (CSS) so that 确定 on a half-typed temperature visibly answers. */
  function flashTemperature() {
    el.temp.classList.remove("is-flash");
    void el.temp.offsetWidth; /* restart the animation */
    el.temp.classList.add("is-flash");
  }

  function temperatureReady() {
    var tenths = temperatureTenths();
    if (tenths === undefined) {
      return false;
    }
    return tenths !== null || !temperatureRequired;
  }

  /* ---------- sound (WebAudio, no files) ---------- */

  var audio = null;

  function unlockAudio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) {
      return;
    }
    if (!audio) {
      audio = new Context();
    }
    if (audio.state === "suspended") {
      audio.resume();
    }
  }

  function tone(frequency, start, duration, type) {
    var osc = audio.createOscillator();
    var gain = audio.createGain();
    var t0 = audio.currentTime + start;
    osc.type = type;
    osc.frequency.setValueAtTime(frequency, t0);
    gain.gain.setValueAtTime(0.0001, t0);
    gain.gain.exponentialRampToValueAtTime(0.5, t0 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + duration);
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start(t0);
    osc.stop(t0 + duration + 0.05);
  }

  function playSound(kind) {
    if (!audio) {
      return;
    }
    if (kind === "allow") { /* two rising chimes */
      tone(880, 0, 0.15, "sine");
      tone(1320, 0.17, 0.25, "sine");
    } else if (kind === "remeasure") { /* three short mid beeps */
      tone(660, 0, 0.1, "triangle");
      tone(660, 0.16, 0.1, "triangle");
      tone(660, 0.32, 0.1, "triangle");
    } else { /* refuse or fault: one long low buzz */
      tone(196, 0, 0.7, "square");
    }
  }

  /* ---------- verdict screen (stays until the next code or 下一位) ---------- */

  function showVerdict(kind, headline, reason, label, next, decidedOffline) {
    el.verdict.className = "verdict verdict-" + kind;
    el.verdict.dataset.offline = decidedOffline ? "1" : "0";
    el.headline.textContent = headline;
    el.reason.textContent = reason || "";
    el.label.textContent = label || "";
    el.next.textContent = next || "";
    el.offlineNote.hidden = !decidedOffline;
    el.overrideBox.hidden = true;
    el.overrideForm.hidden = true;
    el.overrideOpen.hidden = !canOverride;
    el.overrideCard.hidden = true;
    el.overrideHint.hidden = false;
    overriding(false);
    state.card = null;
    el.verdict.hidden = false;
    state.mode = "verdict";
    playSound(kind);
  }

  function backToScanning() {
    el.verdict.hidden = true;
    el.manualForm.hidden = true;
    state.mode = "scan";
    if (state.pending) {
      setPrompt(temperatureReady() ? strings.network : strings.enterTemperature);
    } else {
      state.temperature = "";
      showTemperature();
      setPrompt(strings.showPass);
      if (window.GatePeople) {
        window.GatePeople.reset(); /* the next person: one again */
      }
    }
  }

  /* What was recorded, for the volunteer to confirm: the direction (highlighted) and the
   * temperature as the scanner's window shows it (none for a re-measure). */
  function showCrossing(kind, sent) {
    el.crossing.hidden = !sent;
    if (!sent) {
      return;
    }
    var out = sent.direction === "out";
    el.crossingDirection.textContent = out ? strings.dirOut : strings.dirIn;
    el.crossingDirection.className = "verdict-dir verdict-dir-" + (out ? "out" : "in");
    var tenths = sent.temperature;
    var shown = kind !== "remeasure" && typeof tenths === "number";
    el.crossingTemperature.hidden = !shown;
    el.crossingTemperature.textContent = shown ?
      Math.floor(tenths / 10) + "." + (tenths % 10) + "°C" : "";
  }

  /* ``sent`` (optional): {direction, temperature (tenths or null)} as sent for this verdict. */
  function showAnswer(answer, decidedOffline, sent) {
    var verdict = answer.verdict;
    var kind = verdict.display; /* allow | refuse | remeasure */
    var headline = strings[kind] || strings.refuse;
    /* The next outing only under an allowed exit, as the scanner's window (screen_for): a
     * refusal's own reason says when (quota), and a fever must not read as an invitation. */
    var exit = verdict.allowed && (!sent || sent.direction === "out");
    var next = exit && answer.next_exit_local ?
      fill(strings.nextExit, "time", answer.next_exit_local) : "";
    if (!verdict.allowed && NEW_PASS_CODES.indexOf(verdict.code) !== -1) {
      next = strings.newPass;
    }
    showVerdict(kind, headline, answer.reason, answer.household_label, next, decidedOffline);
    showCrossing(kind, sent || null);
    /* A logged-in supervisor overrides by login; anyone with a supervisor's card by the card. */
    var overridable = kind === "refuse" && NOT_OVERRIDABLE.indexOf(verdict.code) === -1;
    el.overrideBox.hidden = !overridable;
  }

  function showFault(message) {
    showVerdict("fault", strings.fault, message, "", "", false);
    showCrossing("fault", null);
  }

  /* ---------- offline verdicts: the page's words for the decider's codes ---------- */

  function localTime(iso) {
    if (!iso) {
      return null;
    }
    var zone = root.dataset.timezone || "Asia/Shanghai";
    var parts = {};
    new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23"
    }).formatToParts(new Date(iso)).forEach(function (part) {
      parts[part.type] = part.value;
    });
    return parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute;
  }

  function offlineAnswer(scan, verdict) {
    var code = verdict.code || null;
    var notes = verdict.notes || [];
    var display = verdict.display ||
      (verdict.allowed ? "allow" :
        (reasons.remeasure || []).indexOf(code) !== -1 ? "remeasure" : "refuse");
    var when = localTime(verdict.next_exit_at);
    var text = lang === "zh" ? verdict.reason_zh : verdict.reason_en;
    if (!text) {
      var codes = reasons.codes || {};
      if (verdict.allowed) {
        text = notes.indexOf("override") !== -1 ? codes.override :
          (notes.length && codes[notes[0]]) || reasons.allowed;
      } else {
        text = code === "no_bundle" ? strings.noBundle : codes[code] || code || "";
        text = text.replace("{when}", when || "").replace(/[：:，,]\s*$/, "");
      }
    }
    var household = verdict.household_id;
    var label = verdict.household_label ||
      (household ? fill(strings.offlineLabel, "id", household) : "");
    return {
      id: scan.id,
      verdict: {
        allowed: !!verdict.allowed, display: display, code: code,
        codes: verdict.codes || [], notes: notes
      },
      reason: text,
      household_label: label,
      next_exit_local: when
    };
  }

  /* ---------- deciding: the server first, the phone when it cannot answer ---------- */

  function scanBody(pending, override) {
    var tenths = temperatureTenths();
    var body = {
      id: pending.id,
      direction: state.direction,
      temperature: tenths === undefined ? null : tenths
    };
    var people = window.GatePeople ? window.GatePeople.count() : 1;
    if (people !== 1) {
      body.people = people; /* counted when the rules count people (gate-people.js) */
    }
    if (pending.kind === "manual") {
      body.code = pending.value;
    } else {
      body.pass = pending.value;
    }
    if (override) {
      body.override = {reason: override.reason};
      if (override.card) {
        body.override.card = override.card;
      }
    }
    return body;
  }

  function sentOf(body) {
    return {direction: body.direction, temperature: body.temperature};
  }

  function postScan(url, body) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = window.setTimeout(function () {
      if (controller) {
        controller.abort();
      }
    }, ONLINE_DEADLINE_MS);
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": csrfToken()
      },
      body: JSON.stringify(body),
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      window.clearTimeout(timer);
      return response.json().catch(function () {
        return null;
      }).then(function (data) {
        return {status: response.status, data: data};
      });
    }, function (error) {
      window.clearTimeout(timer);
      throw error;
    });
  }

  function serverReachable() {
    return navigator.onLine !== false && Date.now() >= state.serverDownUntil;
  }

  function submit(pending, override) {
    var body = scanBody(pending, override);
    var scannedMs = Date.now();
    var scannedAt = new Date(scannedMs).toISOString().replace(/\.\d{3}Z$/, "Z");
    var url = pending.kind === "manual" ? root.dataset.manualUrl : root.dataset.scanUrl;
    state.mode = "sending";
    setPrompt(strings.checking);
    if (!serverReachable()) {
      return decideHere(pending, body, scannedAt, scannedMs);
    }
    return postScan(url, body).then(function (result) {
      if (result.status >= 500 && result.status !== 501) {
        state.serverDownUntil = Date.now() + RETRY_ONLINE_AFTER_MS;
        return decideHere(pending, body, scannedAt, scannedMs);
      }
      return handleResult(pending, body, result, scannedAt, scannedMs);
    }, function () {
      /* No answer: decide here. The same id goes into the journal: should the lost
       * request have reached the server after all, the upload replays, never double-counts. */
      state.serverDownUntil = Date.now() + RETRY_ONLINE_AFTER_MS;
      showNetwork();
      return decideHere(pending, body, scannedAt, scannedMs);
    });
  }

  function decideHere(pending, body, scannedAt, scannedMs) {
    if (pending.kind === "manual" || !offline) {
      /* A typed card code names a card only the server knows. */
      state.pending = null;
      showFault(offline ? strings.offlineManual : strings.network);
      return Promise.resolve();
    }
    var scan = {
      id: body.id,
      scanned_at: scannedAt,
      scanned_ms: scannedMs,
      pass: body.pass,
      direction: body.direction,
      temperature: body.temperature,
      people: body.people || 1,
      override: body.override || null
    };
    return offline.decide(scan).then(function (verdict) {
      /* Durable first: the verdict shows only once the crossing is in the journal. */
      return offline.record(scan, verdict, false).then(function () {
        state.pending = null;
        state.last = {pending: pending, temperature: state.temperature, direction: body.direction};
        showAnswer(offlineAnswer(scan, verdict), true, sentOf(body));
        offline.tryUpload();
      });
    }).catch(function (error) {
      if (window.console) {
        window.console.error("offline decision failed", error);
      }
      state.pending = pending; /* the same id again on OK */
      showFault(strings.offlineFailed);
    });
  }

  function handleResult(pending, body, result, scannedAt, scannedMs) {
    var data = result.data;
    var error = data && data.error ? data.error : {code: "", message: ""};
    if (result.status === 200 && data && data.verdict) {
      state.pending = null;
      state.last = {pending: pending, temperature: state.temperature, direction: body.direction};
      showAnswer(data, false, sentOf(body));
      if (offline && data.verdict && body.pass) {
        /* Kept to advance the household states should the network go next. */
        offline.record({
          id: body.id, scanned_at: scannedAt, scanned_ms: scannedMs, pass: body.pass,
          direction: body.direction,
          temperature: body.temperature,
          people: body.people || 1,
          override: body.override || null
        }, data.verdict, true).catch(function () {});
        offline.refreshBundle().catch(function () {});
      }
      return;
    }
    if (offline && (result.status === 401 ||
        (result.status === 400 && error.code === "csrf"))) {
      /* This page's login is gone (e.g. opened from the service worker after the browser
       * restarted): decide here and journal under this page's volunteer, as offline; the
       * banner asks to log in again, after which the journal uploads. */
      offline.loginLost();
      if (pending.kind !== "manual") {
        return decideHere(pending, body, scannedAt, scannedMs);
      }
    }
    state.pending = null;
    if (result.status === 404 && error.code === "unknown_manual_code") {
      showFault(strings.unknownCode);
    } else if (result.status === 409) {
      showFault(strings.noGate);
    } else if (result.status === 422 || error.code === "override_not_allowed") {
      showFault(error.message || strings.serverError);
    } else if (result.status === 200 || [400, 401, 403].indexOf(result.status) !== -1) {
      /* A login page instead of JSON, a lapsed login, or a CSRF token from an old page. */
      showFault(error.code === "bad_json" ? strings.serverError : strings.expiredSession);
    } else {
      showFault(strings.serverError);
    }
  }

  function presented(kind, value) {
    if (state.mode === "verdict") {
      backToScanning(); /* the next person: the verdict has been seen */
    }
    var same = state.pending && state.pending.kind === kind && state.pending.value === value;
    /* The same code again after "no answer" keeps its id: the server replays, never counts twice. */
    state.pending = same ? state.pending : {kind: kind, value: value, id: uuid4()};
    if (temperatureReady()) {
      submit(state.pending);
    } else {
      setPrompt(strings.enterTemperature);
    }
  }

  /* ---------- inputs ---------- */

  function onKey(key) {
    if (state.mode === "verdict") {
      backToScanning(); /* typing a temperature starts the next person */
    }
    if (state.mode === "sending") {
      return;
    }
    if (key === "ok") {
      if (state.temperature !== "" && temperatureTenths() === undefined) {
        setPrompt(strings.incompleteTemperature); /* "3", "36.": not a temperature yet */
        flashTemperature();
      } else if (state.pending && temperatureReady()) {
        submit(state.pending);
      } else if (state.pending) {
        setPrompt(strings.enterTemperature);
      } else if (temperatureReady() && state.temperature !== "") {
        setPrompt(strings.temperatureFirst);
      }
      return;
    }
    if (key === "back") {
      state.temperature = state.temperature.slice(0, -1);
    } else if (key === "clear") {
      state.temperature = "";
    } else if (key === "." && state.temperature.indexOf(".") === -1 && state.temperature.length === 2) {
      state.temperature += ".";
    } else if (/^\d$/.test(key) && state.temperature.replace(".", "").length < 3) {
      state.temperature += key;
    }
    showTemperature();
  }

  el.keypad.addEventListener("click", function (event) {
    var button = event.target.closest("[data-key]");
    if (button) {
      onKey(button.dataset.key);
    }
  });

  Array.prototype.forEach.call(document.querySelectorAll(".dir-button"), function (button) {
    button.addEventListener("click", function () {
      state.direction = button.dataset.direction;
      Array.prototype.forEach.call(document.querySelectorAll(".dir-button"), function (other) {
        var active = other === button;
        other.classList.toggle("is-active", active);
        other.setAttribute("aria-pressed", active ? "true" : "false");
      });
    });
  });

  el.manualOpen.addEventListener("click", function () {
    el.manualForm.hidden = false;
    el.manualCode.focus();
  });

  el.manualCancel.addEventListener("click", function () {
    el.manualForm.hidden = true;
    el.manualCode.value = "";
    manualMessage("");
  });

  el.manualCode.addEventListener("input", function () {
    if (!el.manualSubmit.disabled) {
      manualMessage(""); /* being corrected */
    }
  });

  function manualMessage(text) {
    el.manualMessage.textContent = text || "";
    el.manualMessage.hidden = !text;
  }

  function manualWrong(text) {
    manualMessage(text);
    el.manualCode.focus();
    el.manualCode.select(); /* kept, to correct a letter rather than type it all again */
  }

  function manualAccepted(code) {
    el.manualCode.value = "";
    manualMessage("");
    el.manualForm.hidden = true;
    presented("manual", code);
  }

  /* A typed code is checked at once (the server knows the cards' codes; the offline bundle
   * does not), before the temperature is asked for: a typo is said while the code is still
   * in the field. No answer: on as before (the decision then says what it can). */
  el.manualForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var code = el.manualCode.value.replace(/[\s-]/g, "").toUpperCase();
    if (!/^[A-Z0-9]{8}$/.test(code)) {
      setPrompt(strings.badCode);
      manualWrong(strings.badCode);
      return;
    }
    if (!serverReachable()) {
      manualWrong(strings.offlineManual); /* only the server can read a typed code */
      return;
    }
    if (el.manualSubmit.disabled) {
      return;
    }
    el.manualSubmit.disabled = true;
    manualMessage(strings.checking);
    postScan(root.dataset.manualCheckUrl, {code: code}).then(function (result) {
      var error = result.data && result.data.error ? result.data.error : {code: ""};
      if (result.status === 404 && error.code === "unknown_manual_code") {
        manualWrong(strings.wrongCode);
      } else if (result.status === 401 || (result.status === 400 && error.code === "csrf")) {
        if (offline) {
          offline.loginLost();
        }
        manualWrong(strings.expiredSession);
      } else {
        manualAccepted(code);
      }
    }, function () {
      manualAccepted(code);
    }).then(function () {
      el.manualSubmit.disabled = false;
    });
  });

  el.done.addEventListener("click", function () {
    backToScanning();
    /* 下一位: the next person may hold the same card (a family's copy): read it again. */
    state.lastText = "";
  });

  /* While the override form is open the 下一位 bar gives way (the form has its own 取消):
   * with the on-screen keyboard up the screen is half as high, and the bar covered 放行. */
  function overriding(open) {
    el.verdict.classList.toggle("is-overriding", open);
    el.done.hidden = open;
    el.overrideMessage.hidden = true;
    Array.prototype.forEach.call(el.overrideForm.querySelectorAll(".override-preset"),
      function (button) {
        button.classList.remove("is-chosen");
        button.setAttribute("aria-pressed", "false");
      });
  }

  function showOverrideForm() {
    el.overrideForm.hidden = false;
    el.overrideOpen.hidden = true;
    el.overrideHint.hidden = true; /* the supervisor is here: no need to ask for the card */
    overriding(true);
  }

  el.overrideOpen.addEventListener("click", showOverrideForm);

  el.overrideCancel.addEventListener("click", function () {
    el.overrideForm.hidden = true;
    el.overrideOpen.hidden = !canOverride;
    el.overrideCard.hidden = true;
    el.overrideHint.hidden = false;
    el.overrideReason.value = "";
    overriding(false);
    state.card = null;
  });

  /* A preset fills the reason (no keyboard); 其他 empties it and asks for it to be typed. */
  el.overrideForm.addEventListener("click", function (event) {
    var preset = event.target.closest(".override-preset");
    if (!preset) {
      return;
    }
    overriding(true);
    preset.classList.add("is-chosen");
    preset.setAttribute("aria-pressed", "true");
    el.overrideReason.value = preset.dataset.reason;
    if (!preset.dataset.reason) {
      el.overrideReason.focus();
    }
  });

  /* The keyboard opens: keep the reason and 放行 on screen. */
  el.overrideReason.addEventListener("focus", function () {
    window.setTimeout(function () {
      var submit = el.overrideForm.querySelector("button[type=submit]");
      if (submit.scrollIntoView) {
        submit.scrollIntoView({block: "nearest"});
      }
    }, 300);
  });

  /* A supervisor card held up to the camera while a refusal is shown: the reason, then 放行. */
  function cardShown(text) {
    if (state.mode !== "verdict" || el.overrideBox.hidden || !state.last || state.card === text) {
      return;
    }
    state.card = text;
    el.overrideCard.hidden = false;
    showOverrideForm();
  }

  el.overrideForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var reason = el.overrideReason.value.trim();
    if (!reason || !state.last) {
      el.overrideMessage.hidden = false;
      el.overrideReason.focus();
      return;
    }
    el.overrideReason.value = "";
    var last = state.last;
    state.direction = last.direction;
    state.temperature = last.temperature;
    var again = {kind: last.pending.kind, value: last.pending.value, id: uuid4()};
    submit(again, {reason: reason, card: state.card});
  });

  document.addEventListener("pointerdown", unlockAudio);
  document.addEventListener("keydown", unlockAudio);

  /* ---------- status bar: network, bundle age, unsent, dead letters ---------- */

  function ageText(ms) {
    var minutes = Math.floor(ms / 60000);
    if (minutes < 1) {
      return strings.justNow;
    }
    if (minutes < 120) {
      return fill(strings.minutes, "n", minutes);
    }
    return fill(strings.hours, "n", Math.floor(minutes / 60));
  }

  function showNetwork() {
    var online = serverReachable();
    el.net.textContent = "● " + (online ? strings.online : strings.offline);
    root.classList.toggle("is-offline", !online);
    if (!offline) {
      return;
    }
    var status = offline.status();
    /* The age of the data kept; when the last refresh failed it says so, never "just now". */
    el.bundleAge.textContent = !status.hasBundle ? strings.noBundleShort :
      fill(status.bundleFailed ? strings.bundleFailed : strings.bundleAge, "age",
        ageText(status.bundleAgeMs));
    el.bundleAge.dataset.failed = status.bundleFailed ? "1" : "0";
    el.bundleAge.classList.toggle("is-stale", !status.hasBundle || status.bundleFailed ||
      status.bundleAgeMs > 24 * 3600 * 1000);
    /* The server no longer knows this login: nothing uploads until the volunteer logs in
     * again (their crossings wait in the journal), so say it until then. */
    el.loginLost.hidden = !status.loginLost;
    root.classList.toggle("has-login-lost", !!status.loginLost);
    el.loginLostText.textContent = status.unsent ?
      fill(strings.loginLost, "n", status.unsent) : strings.loginLostNone;
    el.unsent.textContent = status.uploading ? strings.uploading :
      fill(strings.unsent, "n", status.unsent);
    el.unsent.classList.toggle("has-unsent", status.unsent > 0);
    el.unsent.dataset.count = String(status.unsent);
    el.dead.hidden = !status.dead;
    el.dead.textContent = status.dead ? fill(strings.dead, "n", status.dead) : "";
  }
  window.addEventListener("online", function () {
    state.serverDownUntil = 0;
    showNetwork();
  });
  window.addEventListener("offline", showNetwork);
  window.setInterval(showNetwork, 15000);

  /* ---------- camera and decoding ---------- */

  var decoder = window.GateDecoder;

  /* A code the camera read (the same code again within a few seconds is the same person). */
  function codeRead(text) {
    var now = Date.now();
    if (!text || state.mode === "sending") {
      return;
    }
    if (/^SV1:/.test(text)) {
      cardShown(text); /* never a crossing of its own, nor the next person */
      return;
    }
    var repeat = text === state.lastText && now - state.lastTextAt < SAME_CODE_PAUSE_MS;
    state.lastTextAt = now;
    if (repeat || !el.overrideForm.hidden) {
      return; /* the same person, or a supervisor typing the reason of an override */
    }
    state.lastText = text;
    if (/^VH1:/.test(text) && window.GateVehicles) {
      window.GateVehicles.passRead(text); /* a car's windscreen card: gate-vehicles.js */
      return;
    }
    presented("scan", text);
  }

  /* For tests that show the page a second code without a second camera. */
  window.GatePage = {codeRead: codeRead, showAnswer: showAnswer, showFault: showFault,
    offlineAnswer: offlineAnswer};

  function scanLoop() {
    var busy = state.mode === "sending" || (state.pending && !temperatureReady()) ||
      !el.manualForm.hidden;
    var ready = el.video.readyState >= 2 && el.video.videoWidth;
    var work = busy || !ready || !decoder ? Promise.resolve(null) : decoder.decode(el.video);
    work.then(codeRead).catch(function () {}).then(function () {
      window.setTimeout(scanLoop, SCAN_INTERVAL_MS);
    });
  }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      el.cameraMessage.textContent = strings.noCamera;
      return;
    }
    navigator.mediaDevices.getUserMedia({
      audio: false,
      video: {facingMode: {ideal: "environment"}, width: {ideal: 1280}, height: {ideal: 720}}
    }).then(function (stream) {
      el.video.srcObject = stream;
      return el.video.play();
    }).then(function () {
      el.cameraMessage.hidden = true;
      root.dataset.camera = "on";
      return decoder ? decoder.ready() : null;
    }).then(function (name) {
      root.dataset.decoder = name || "none";
      scanLoop();
    }, function (error) {
      var denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
      el.cameraMessage.textContent = denied ? strings.cameraDenied : strings.noCamera;
    });
  }

  /* Keep the screen on while the gate page is open (where the browser allows it). */
  function keepAwake() {
    if (navigator.wakeLock && document.visibilityState === "visible") {
      navigator.wakeLock.request("screen").catch(function () {});
    }
  }
  document.addEventListener("visibilitychange", keepAwake);

  /* ---------- the installable app: service worker ---------- */

  /* Every file the page loaded, and every file the decider may load (its files.json: some
   * load only for a screen code or a supervisor card, or without WebCrypto Ed25519). */
  function keepFiles(worker) {
    var urls = [window.location.pathname];
    if (window.performance && performance.getEntriesByType) {
      performance.getEntriesByType("resource").forEach(function (entry) {
        urls.push(entry.name);
      });
    }
    var listing = new URL("files.json", new URL(root.dataset.deciderUrl, window.location.href));
    fetch(listing.href, {credentials: "same-origin"}).then(function (response) {
      return response.ok ? response.json() : {files: []};
    }).catch(function () {
      return {files: []};
    }).then(function (found) {
      (found.files || []).forEach(function (file) {
        urls.push(new URL(file, listing).href);
      });
      worker.postMessage({type: "keep", urls: urls});
    });
  }

  /* Once every module the page needs has loaded (the decider's modules and the decoder's
   * WebAssembly load after the page), the worker is registered and told to keep them all. */
  function registerWorker(loaded) {
    if (!("serviceWorker" in navigator) || !window.isSecureContext) {
      return;
    }
    /* Registered once the page has everything: the first load is not slowed by the worker,
     * and the worker then keeps what the page loaded (from the HTTP cache). */
    loaded.then(function () {
      return navigator.serviceWorker.register(root.dataset.swUrl, {scope: "/gate"});
    }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      if (registration.active) {
        keepFiles(registration.active);
      }
    }).catch(function (error) {
      if (window.console) {
        window.console.warn("service worker not registered:", error);
      }
    });
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "kept") {
        root.dataset.kept = "1";
      }
    });
  }

  showTemperature();
  setPrompt(strings.showPass);
  keepAwake();
  var loaded = Promise.resolve();
  if (offline) {
    offline.onChange(showNetwork);
    loaded = offline.start({
      bundleUrl: root.dataset.bundleUrl,
      batchUrl: root.dataset.batchUrl,
      deciderUrl: root.dataset.deciderUrl,
      gateId: parseInt(root.dataset.gateId, 10),
      userId: parseInt(root.dataset.userId, 10),
      operator: root.dataset.operator,
      csrf: csrfToken
    }).then(function () {
      root.dataset.offlineReady = "1";
    });
  }
  showNetwork();
  var decoderReady = decoder ? decoder.ready() : Promise.resolve(null);
  registerWorker(Promise.all([loaded, decoderReady]));
  startCamera();
})();
