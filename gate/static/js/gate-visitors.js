/* The gate view's 无证人员 button: register a person without a pass in a few taps.
 *
 * Kind (访客, 快递/外卖, 医护, 公务, 其他), optional plate, phone and purpose, then 劝返 (turned back)
 * or, for a delivery, 门口交接 (handed over at the gate, nobody enters). Posted as JSON to
 * /gate/walk-in with the CSRF header; the server records the registration and its refused
 * crossing (codes no_pass / handed_over) and the answer is shown on the page's verdict screen
 * (window.GatePage.showAnswer, from gate.js). Registration needs the server: offline the panel
 * says so and nothing is recorded. A retry after no answer keeps its id (the server replays).
 */
(function () {
  "use strict";

  var root = document.getElementById("gate");
  var form = document.getElementById("walkin-form");
  var open = document.getElementById("walkin-open");
  if (!root || !form || !open) {
    return;
  }
  var data = form.dataset;
  var el = {
    plate: document.getElementById("walkin-plate"),
    phone: document.getElementById("walkin-phone"),
    purpose: document.getElementById("walkin-purpose"),
    error: document.getElementById("walkin-error"),
    cancel: document.getElementById("walkin-cancel"),
    handOver: document.getElementById("walkin-hand-over"),
    manualForm: document.getElementById("manual-form")
  };
  var state = {kind: "visitor", id: null, body: "", sending: false};

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

  function showError(text) {
    el.error.textContent = text || "";
    el.error.hidden = !text;
  }

  function chooseKind(kind) {
    state.kind = kind;
    Array.prototype.forEach.call(form.querySelectorAll(".walkin-kind"), function (button) {
      var active = button.dataset.kind === kind;
      button.classList.toggle("is-active", active);
      button.setAttribute("aria-pressed", active ? "true" : "false");
    });
    el.handOver.hidden = kind !== "delivery";
  }

  function reset() {
    el.plate.value = "";
    el.phone.value = "";
    el.purpose.value = "";
    state.id = null;
    state.body = "";
    showError("");
    chooseKind("visitor");
  }

  function close() {
    form.hidden = true;
    reset();
  }

  function send(outcome) {
    if (state.sending) {
      return;
    }
    if (navigator.onLine === false) {
      showError(data.offline);
      return;
    }
    var fields = {
      kind: state.kind,
      outcome: outcome,
      plate: el.plate.value.trim() || null,
      phone: el.phone.value.trim() || null,
      purpose: el.purpose.value.trim() || null,
      direction: "in"
    };
    var key = JSON.stringify(fields);
    if (state.id === null || key !== state.body) {
      state.id = uuid4(); /* the same registration again after no answer keeps its id */
      state.body = key;
    }
    fields.id = state.id;
    state.sending = true;
    showError("");
    fetch(data.url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify(fields)
    }).then(function (response) {
      return response.json().catch(function () {
        return null;
      }).then(function (answer) {
        return {status: response.status, answer: answer};
      });
    }).then(function (result) {
      state.sending = false;
      var answer = result.answer;
      if (result.status === 200 && answer && answer.verdict) {
        close();
        window.GatePage.showAnswer(answer, false);
        return;
      }
      var error = answer && answer.error ? answer.error.message : "";
      showError(error || data.error);
    }, function () {
      state.sending = false;
      showError(data.offline);
    });
  }

  open.addEventListener("click", function () {
    if (el.manualForm) {
      el.manualForm.hidden = true;
    }
    reset();
    form.hidden = false;
  });
  el.cancel.addEventListener("click", close);
  Array.prototype.forEach.call(form.querySelectorAll(".walkin-kind"), function (button) {
    button.addEventListener("click", function () {
      chooseKind(button.dataset.kind);
    });
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send("turned_back");
  });
  el.handOver.addEventListener("click", function () {
    send("handed_over");
  });
})();
