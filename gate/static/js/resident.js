/* The resident's pass page (/p/<token>).
 *
 * Without rotating codes the page itself carries the pass QR and works offline from the
 * cache; this script refreshes the household's status every minute while online.
 *
 * With rotating codes the page never carries the static pass. /code hands it a batch of
 * signed screen codes, each with the minute in which to show it (server time, mapped onto
 * this phone's clock by the offset seen at fetch time); the page shows them one after the
 * other, keeps the batch in localStorage so that a reopened page works offline, and fetches
 * a new batch every minute while online. When the held codes run out (no signal for five
 * minutes) it hides the code and says to connect and refresh; when the link answers 404
 * (revoked) it drops every held code at once.
 *
 * A service worker (/p/sw.js, scope /p/) keeps the page's shell for offline use.
 */
(function () {
  "use strict";

  var root = document.getElementById("resident");
  if (!root) {
    return;
  }

  var STATUS_EVERY_MS = 60000;
  var CODES_EVERY_MS = 60000;
  var TICK_MS = 1000;
  var EXPIRY_MARGIN_MS = 5000;
  var qr = document.getElementById("pass-qr");
  var caption = document.getElementById("qr-caption");
  var offlineNote = document.getElementById("offline-note");
  var codesEnded = document.getElementById("codes-ended");
  var rotating = root.dataset.rotating === "1";
  var showMs = (parseInt(root.dataset.showSeconds, 10) || 60) * 1000;
  var storeKey = "checkpoint.heldCodes." + window.location.pathname;
  var held = []; /* [{image, from, until}], times on this phone's clock (ms) */
  var ended = false;

  function getJson(url) {
    return fetch(url, {credentials: "omit", cache: "no-store", headers: {Accept: "application/json"}})
      .then(function (response) {
        if (!response.ok) {
          var failure = new Error("HTTP " + response.status);
          failure.status = response.status;
          throw failure;
        }
        return response.json();
      });
  }

  function setText(id, text) {
    var node = document.getElementById(id);
    if (node && typeof text === "string") {
      node.textContent = text;
    }
  }

  function markOffline(offline) {
    if (offlineNote) {
      offlineNote.hidden = !offline || !(rotating ? currentCode() : qr);
    }
  }

  /* ---------- held codes ---------- */

  function loadHeld() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(storeKey) || "[]");
      return Array.isArray(saved) ? saved : [];
    } catch (error) {
      return [];
    }
  }

  function saveHeld() {
    try {
      window.localStorage.setItem(storeKey, JSON.stringify(held));
    } catch (error) {
      /* private mode or full storage: the codes still work while the page stays open */
    }
  }

  function dropHeld() {
    held = [];
    try {
      window.localStorage.removeItem(storeKey);
    } catch (error) {
      /* nothing stored */
    }
  }

  function currentCode() {
    var now = Date.now();
    for (var i = 0; i < held.length; i += 1) {
      if (held[i].from <= now + TICK_MS && now < held[i].until) {
        return held[i];
      }
    }
    return null;
  }

  function showCodes() {
    if (!rotating || !qr || ended) {
      return;
    }
    var now = Date.now();
    held = held.filter(function (code) { return code.until > now; });
    var code = currentCode();
    if (code) {
      if (qr.getAttribute("src") !== code.image) {
        qr.setAttribute("src", code.image);
      }
      qr.hidden = false;
      if (caption) {
        caption.hidden = false;
        caption.classList.add("is-rotating");
      }
      if (codesEnded) {
        codesEnded.hidden = true;
      }
    } else {
      /* Nothing valid to show: never leave a dead code on screen. */
      qr.hidden = true;
      qr.removeAttribute("src");
      if (caption) {
        caption.hidden = true;
      }
      if (codesEnded) {
        codesEnded.hidden = false;
      }
    }
  }

  function initialCode() {
    /* The code inside the page, shown for its minute from when the server made the page (a
       page reopened from the cache later finds it over and shows nothing stale). */
    var made = Date.parse(root.dataset.serverTime);
    var validUntil = Date.parse(root.dataset.codeValidUntil);
    if (!qr || isNaN(made) || isNaN(validUntil)) {
      return [];
    }
    return [{
      image: qr.getAttribute("src"),
      from: made,
      until: Math.min(made + showMs, validUntil - EXPIRY_MARGIN_MS)
    }];
  }

  function refreshCodes() {
    if (!rotating || ended || navigator.onLine === false) {
      return;
    }
    getJson(root.dataset.codeUrl).then(function (data) {
      var local = Date.now();
      var serverNow = Date.parse(data.server_time);
      var fresh = (data.held || []).map(function (code) {
        var until = Math.min(Date.parse(code.show_until), Date.parse(code.valid_until) - EXPIRY_MARGIN_MS);
        return {image: code.image, from: Date.parse(code.show_from) - serverNow + local, until: until - serverNow + local};
      }).filter(function (code) { return code.image && code.until > code.from; });
      if (fresh.length) {
        held = fresh;
        saveHeld();
        markOffline(false);
        showCodes();
      }
    }, function (error) {
      if (error && error.status === 404) {
        /* The link was withdrawn, or the office turned rotating codes off: drop every held
           code now, then let the status say which. */
        dropHeld();
        showCodes();
        refreshStatus(true);
      } else {
        markOffline(true);
      }
    });
  }

  /* ---------- status ---------- */

  function refreshStatus(afterCodeRefused) {
    if (navigator.onLine === false) {
      markOffline(true);
      return;
    }
    getJson(root.dataset.statusUrl).then(function (data) {
      setText("status-text", data.status);
      setText("next-exit", data.next_exit);
      setText("as-of", data.as_of);
      var statusLine = document.getElementById("status-text");
      if (statusLine) {
        statusLine.className = "status-line status-" + data.status_kind;
      }
      var exempt = document.getElementById("exempt");
      if (exempt) {
        exempt.textContent = data.exempt || "";
        exempt.hidden = !data.exempt;
      }
      if (data.active === false) {
        passEnded();
      } else if (afterCodeRefused === true && rotating) {
        window.location.reload(); /* rotating codes were turned off: fetch the page again */
      }
      markOffline(false);
    }, function (error) {
      if (error && error.status === 404) {
        passEnded(); /* the link was withdrawn */
      } else {
        markOffline(true);
      }
    });
  }

  function passEnded() {
    ended = true;
    rotating = false;
    dropHeld();
    if (qr) {
      qr.hidden = true;
      qr.removeAttribute("src");
    }
    if (caption) {
      caption.hidden = true;
    }
    if (codesEnded) {
      codesEnded.hidden = true;
    }
    if (offlineNote) {
      offlineNote.hidden = true;
    }
    var endedNote = document.getElementById("pass-ended");
    if (endedNote) {
      endedNote.hidden = false;
    }
  }

  /* ---------- start ---------- */

  if ("serviceWorker" in navigator && root.dataset.swUrl && window.isSecureContext) {
    navigator.serviceWorker.register(root.dataset.swUrl, {scope: "/p/"}).catch(function () {
      /* no offline shell: the page still works while open */
    });
  }

  window.addEventListener("online", function () {
    refreshStatus();
    refreshCodes();
  });
  window.addEventListener("offline", function () {
    markOffline(true);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      showCodes();
      refreshStatus();
      refreshCodes();
    }
  });

  if (rotating) {
    held = loadHeld();
    if (!currentCode()) {
      held = held.concat(initialCode());
    }
    showCodes();
  }
  refreshStatus();
  window.setInterval(refreshStatus, STATUS_EVERY_MS);
  if (rotating) {
    refreshCodes();
    window.setInterval(refreshCodes, CODES_EVERY_MS);
    window.setInterval(showCodes, TICK_MS);
  }
})();
