/* The gate view (/gate): camera scan, direction, temperature keypad, verdict screen.
 *
 * Flow: the camera is read a few times a second (BarcodeDetector when the browser has one,
 * else the vendored jsQR). A code, or a typed card code, is posted with the direction and the
 * temperature (integer tenths) to the server, which decides with the same function as the
 * gate scanners. The verdict fills the screen (green / red / amber), plays a sound, and the
 * page returns to scanning after 3 s. Nothing is shown green that the server did not allow.
 * Each crossing has a client UUID: a retry after a lost answer replays, never double-counts.
 */
(function () {
  "use strict";

  var root = document.getElementById("gate");
  if (!root) {
    return;
  }

  var VERDICT_MS = 3000;
  var SCAN_INTERVAL_MS = 150;
  var SAME_CODE_PAUSE_MS = 5000;
  var MAX_FRAME_WIDTH = 640;
  /* Refusals about the pass itself: an override cannot help, the office must re-issue. */
  var NOT_OVERRIDABLE = [
    "bad_format", "unknown_key", "bad_signature", "key_revoked", "key_not_valid",
    "wrong_community", "not_yet_valid", "expired", "revoked", "superseded",
    "unknown_household", "sensor_error", "no_temperature"
  ];

  var strings = document.getElementById("strings").dataset;
  var temperatureRequired = root.dataset.temperatureRequired === "1";
  var canOverride = root.dataset.canOverride === "1";

  var el = {
    scanView: document.getElementById("scan-view"),
    video: document.getElementById("camera"),
    canvas: document.getElementById("frame"),
    cameraMessage: document.getElementById("camera-message"),
    prompt: document.getElementById("prompt"),
    temp: document.getElementById("temp-display"),
    keypad: document.getElementById("keypad"),
    manualOpen: document.getElementById("manual-open"),
    manualForm: document.getElementById("manual-form"),
    manualCode: document.getElementById("manual-code"),
    manualCancel: document.getElementById("manual-cancel"),
    verdict: document.getElementById("verdict"),
    headline: document.getElementById("verdict-headline"),
    reason: document.getElementById("verdict-reason"),
    label: document.getElementById("verdict-label"),
    next: document.getElementById("verdict-next"),
    overrideBox: document.getElementById("override-box"),
    overrideOpen: document.getElementById("override-open"),
    overrideForm: document.getElementById("override-form"),
    overrideReason: document.getElementById("override-reason"),
    overrideCancel: document.getElementById("override-cancel"),
    done: document.getElementById("verdict-done"),
    net: document.getElementById("net-status")
  };

  var state = {
    mode: "scan", /* scan | sending | verdict */
    direction: "out",
    temperature: "",
    pending: null, /* {kind: "scan"|"manual", value, id} waiting for a temperature or a retry */
    last: null, /* the crossing last shown, for an override */
    lastText: "",
    lastTextAt: 0,
    verdictTimer: null
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

  /* ---------- verdict screen ---------- */

  function showVerdict(kind, headline, reason, label, next) {
    el.verdict.className = "verdict verdict-" + kind;
    el.headline.textContent = headline;
    el.reason.textContent = reason || "";
    el.label.textContent = label || "";
    el.next.textContent = next || "";
    el.overrideBox.hidden = true;
    el.overrideForm.hidden = true;
    el.overrideOpen.hidden = false;
    el.verdict.hidden = false;
    el.scanView.hidden = true;
    state.mode = "verdict";
    playSound(kind);
    restartVerdictTimer();
  }

  function restartVerdictTimer() {
    window.clearTimeout(state.verdictTimer);
    state.verdictTimer = window.setTimeout(backToScanning, VERDICT_MS);
  }

  function backToScanning() {
    window.clearTimeout(state.verdictTimer);
    el.verdict.hidden = true;
    el.scanView.hidden = false;
    state.mode = "scan";
    if (state.pending) {
      setPrompt(temperatureReady() ? strings.network : strings.enterTemperature);
    } else {
      state.temperature = "";
      showTemperature();
      setPrompt(strings.showPass);
    }
  }

  function showAnswer(answer) {
    var verdict = answer.verdict;
    var kind = verdict.display; /* allow | refuse | remeasure */
    var headline = strings[kind] || strings.refuse;
    var next = answer.next_exit_local ?
      strings.nextExit.replace("{time}", answer.next_exit_local) : "";
    showVerdict(kind, headline, answer.reason, answer.household_label, next);
    var overridable = kind === "refuse" && canOverride &&
      NOT_OVERRIDABLE.indexOf(verdict.code) === -1;
    el.overrideBox.hidden = !overridable;
  }

  function showFault(message) {
    showVerdict("fault", strings.fault, message, "", "");
  }

  /* ---------- talking to the server ---------- */

  function submit(pending, override) {
    var tenths = temperatureTenths();
    var body = {
      id: pending.id,
      direction: state.direction,
      temperature: tenths === undefined ? null : tenths
    };
    var url = root.dataset.scanUrl;
    if (pending.kind === "manual") {
      url = root.dataset.manualUrl;
      body.code = pending.value;
    } else {
      body.pass = pending.value;
    }
    if (override) {
      body.override = {reason: override};
    }
    state.mode = "sending";
    setPrompt(strings.checking);
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": csrfToken()
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () {
        return null;
      }).then(function (data) {
        return {status: response.status, data: data};
      });
    }).then(function (result) {
      handleResult(pending, body, result);
    }, function () {
      /* No answer: keep the same id, so pressing OK again replays rather than double-counts. */
      state.pending = pending;
      showFault(strings.network);
    });
  }

  function handleResult(pending, body, result) {
    var data = result.data;
    var error = data && data.error ? data.error : {code: "", message: ""};
    if (result.status === 200 && data && data.verdict) {
      state.pending = null;
      state.last = {pending: pending, temperature: state.temperature, direction: body.direction};
      showAnswer(data);
      return;
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
    if (state.mode === "verdict" && key === "ok" && state.pending) {
      backToScanning(); /* a retry after "no answer" */
    }
    if (state.mode === "sending") {
      return;
    }
    if (key === "ok") {
      if (state.pending && temperatureReady()) {
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
    el.manualOpen.hidden = true;
    el.manualCode.focus();
  });

  el.manualCancel.addEventListener("click", function () {
    el.manualForm.hidden = true;
    el.manualOpen.hidden = false;
    el.manualCode.value = "";
  });

  el.manualForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var code = el.manualCode.value.replace(/[\s-]/g, "").toUpperCase();
    if (!/^[A-Z0-9]{8}$/.test(code)) {
      setPrompt(strings.badCode);
      return;
    }
    el.manualCode.value = "";
    el.manualForm.hidden = true;
    el.manualOpen.hidden = false;
    presented("manual", code);
  });

  el.done.addEventListener("click", backToScanning);

  el.overrideOpen.addEventListener("click", function () {
    window.clearTimeout(state.verdictTimer); /* the supervisor is typing: do not go back */
    el.overrideForm.hidden = false;
    el.overrideOpen.hidden = true;
    el.overrideReason.focus();
  });

  el.overrideCancel.addEventListener("click", backToScanning);

  el.overrideForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var reason = el.overrideReason.value.trim();
    if (!reason || !state.last) {
      el.overrideReason.focus();
      return;
    }
    el.overrideReason.value = "";
    var last = state.last;
    state.direction = last.direction;
    state.temperature = last.temperature;
    var again = {kind: last.pending.kind, value: last.pending.value, id: uuid4()};
    submit(again, reason);
  });

  document.addEventListener("pointerdown", unlockAudio);
  document.addEventListener("keydown", unlockAudio);

  /* ---------- network status ---------- */

  function showNetwork() {
    var online = navigator.onLine !== false;
    el.net.textContent = "● " + (online ? strings.online : strings.offline);
    el.net.classList.toggle("is-offline", !online);
  }
  window.addEventListener("online", showNetwork);
  window.addEventListener("offline", showNetwork);
  showNetwork();

  /* ---------- camera and decoding ---------- */

  var detector = null;
  var context2d = el.canvas.getContext("2d", {willReadFrequently: true});

  function chooseDecoder() {
    if ("BarcodeDetector" in window) {
      return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
        if (formats.indexOf("qr_code") !== -1) {
          detector = new window.BarcodeDetector({formats: ["qr_code"]});
        }
      }).catch(function () {
        detector = null;
      });
    }
    return Promise.resolve();
  }

  function decodeFrame() {
    var video = el.video;
    if (video.readyState < 2 || !video.videoWidth) {
      return Promise.resolve(null);
    }
    if (detector) {
      return detector.detect(video).then(function (codes) {
        return codes.length ? codes[0].rawValue : null;
      }).catch(function () {
        return null;
      });
    }
    if (typeof window.jsQR !== "function") {
      return Promise.resolve(null);
    }
    var scale = Math.min(1, MAX_FRAME_WIDTH / video.videoWidth);
    var width = Math.round(video.videoWidth * scale);
    var height = Math.round(video.videoHeight * scale);
    el.canvas.width = width;
    el.canvas.height = height;
    context2d.drawImage(video, 0, 0, width, height);
    var image = context2d.getImageData(0, 0, width, height);
    var found = window.jsQR(image.data, width, height, {inversionAttempts: "dontInvert"});
    return Promise.resolve(found ? found.data : null);
  }

  function scanLoop() {
    var busy = state.mode !== "scan" || (state.pending && !temperatureReady());
    var work = busy ? Promise.resolve(null) : decodeFrame();
    work.then(function (text) {
      var now = Date.now();
      if (text && state.mode === "scan") {
        var repeat = text === state.lastText && now - state.lastTextAt < SAME_CODE_PAUSE_MS;
        state.lastTextAt = now;
        if (!repeat) {
          state.lastText = text;
          presented("scan", text);
        }
      }
    }).then(function () {
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
      return chooseDecoder();
    }).then(scanLoop, function (error) {
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

  showTemperature();
  setPrompt(strings.showPass);
  keepAwake();
  startCamera();
})();
