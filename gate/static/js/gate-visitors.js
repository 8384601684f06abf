/* The gate view's 无证人员 button: register a person without a pass in a few taps.
 *
 * Kind (访客, 快递/外卖, 医护, 公务, 其他), optional plate, phone and purpose, then 劝返 (turned back)
 * or, for a delivery, 门口交接 (handed over at the gate, nobody enters). Posted as JSON to
 * /gate/walk-in with the CSRF header; the server records the registration and its refused
 * crossing (codes no_pass / handed_over) and the answer is shown on the page's verdict screen
 * (window.GatePage.showAnswer, from gate.js). A retry after no answer keeps its id (the server
 * replays).
 *
 * Offline (no network, or no answer): the registration is kept in the phone's journal
 * (window.GateJournal, state "walk_in", with the phone's time) and the refusal is shown as an
 * offline verdict; when the network is back (the online event, the page's next load, every
 * 30 s) each kept one is posted with its ``registered_at`` and the same id, then marked sent
 * (pruned with the sent crossings after two days). Like the journal's crossings, a kept one
 * belongs to the volunteer logged in when it was made (``user_id``): it is sent only while
 * that volunteer is logged in again, so the server records it under the one who stood there. One the server refuses (a phone clock far
 * off) is kept as "walk_in_refused". The phone number is only ever shown masked.
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
  var userId = parseInt(root.dataset.userId, 10);
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

  var journal = window.GateJournal;
  var flushing = false;

  function utcNow() {
    return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  /* Keep a registration made offline in the journal, then show its refusal (offline). */
  function keepOffline(fields) {
    if (!journal) {
      state.sending = false;
      showError(data.offline);
      return;
    }
    var code = fields.outcome === "handed_over" ? "handed_over" : "no_pass";
    var verdict = {allowed: false, code: code, codes: [code], notes: [], household_id: null};
    var now = Date.now();
    var entry = {
      id: fields.id,
      user_id: userId,
      household_id: null,
      item: Object.assign({pass: null, registered_at: utcNow()}, fields),
      verdict: verdict,
      state: "walk_in",
      created: journal.stamp(),
      scanned: now
    };
    journal.add(entry).then(function () {
      state.sending = false;
      close();
      var page = window.GatePage;
      page.showAnswer(page.offlineAnswer({id: fields.id}, verdict), true);
    }, function () {
      state.sending = false;
      showError(data.error);
    });
  }

  /* Post the registrations kept offline, oldest first, each with its phone time and id. */
  function flush() {
    if (!journal || flushing || navigator.onLine === false) {
      return Promise.resolve();
    }
    flushing = true;
    return journal.all().then(function (entries) {
      var kept = entries.filter(function (entry) {
        /* Another volunteer's waits for them (older entries without an owner: anyone's). */
        var owner = entry.user_id === undefined ? userId : entry.user_id;
        return entry.state === "walk_in" && owner === userId;
      });
      return kept.reduce(function (chain, entry) {
        return chain.then(function () { return post(entry.item); }).then(function (result) {
          if (result.status === 200 || result.status === 422 || result.status === 409) {
            var settled = result.status === 200 ? "sent" : "walk_in_refused";
            var error = result.answer && result.answer.error ? result.answer.error.code : null;
            return journal.add(Object.assign({}, entry, {
              state: settled, settled: journal.stamp(), error: error
            }));
          }
          throw new Error("not now"); /* the rest waits for the next try */
        });
      }, Promise.resolve());
    }).catch(function () {}).then(function () {
      flushing = false;
    });
  }

  function post(fields) {
    return fetch(data.url, {
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
    });
  }

  function send(outcome) {
    if (state.sending) {
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
    if (navigator.onLine === false) {
      keepOffline(fields);
      return;
    }
    post(fields).then(function (result) {
      state.sending = false;
      var answer = result.answer;
      if (result.status === 200 && answer && answer.verdict) {
        close();
        window.GatePage.showAnswer(answer, false);
        flush(); /* the network is back: what was kept offline goes too */
        return;
      }
      if (result.status >= 500) {
        keepOffline(fields); /* the server cannot store it now: kept, sent later */
        return;
      }
      var error = answer && answer.error ? answer.error.message : "";
      showError(error || data.error);
    }, function () {
      keepOffline(fields); /* no answer: kept with its id, sent when the network is back */
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
  window.addEventListener("online", flush);
  window.setInterval(flush, 30000);
  flush();
  window.GateWalkIns = {flush: flush};
})();
