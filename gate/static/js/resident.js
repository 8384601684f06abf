/* The resident's pass page (/p/<token>).
 *
 * The page itself (with the pass QR inside) is cached by the phone and works offline; this
 * script only improves it while online: it refreshes the household's status every minute,
 * and, where the community uses rotating screen codes, swaps in a fresh code every 30 s.
 * When a rotating code runs out without a fresh one (no signal), the printed pass's code
 * comes back, so the page never shows a dead code.
 */
(function () {
  "use strict";

  var root = document.getElementById("resident");
  if (!root) {
    return;
  }

  var STATUS_EVERY_MS = 60000;
  var EXPIRY_MARGIN_MS = 5000;
  var qr = document.getElementById("pass-qr");
  var caption = document.getElementById("qr-caption");
  var offlineNote = document.getElementById("offline-note");
  var rotating = root.dataset.rotating === "1";
  var refreshMs = (parseInt(root.dataset.refreshSeconds, 10) || 30) * 1000;
  var codeExpiresAt = 0; /* local clock, ms; 0: showing the printed pass's code */

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
      offlineNote.hidden = !offline;
    }
  }

  function refreshStatus() {
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
    rotating = false;
    if (qr) {
      qr.hidden = true;
    }
    if (caption) {
      caption.hidden = true;
    }
    var ended = document.getElementById("pass-ended");
    if (ended) {
      ended.hidden = false;
    }
  }

  function showStaticCode() {
    codeExpiresAt = 0;
    if (qr && qr.getAttribute("src") !== qr.dataset.staticSrc) {
      qr.setAttribute("src", qr.dataset.staticSrc);
    }
    if (caption) {
      caption.textContent = caption.dataset.staticText;
      caption.classList.remove("is-rotating");
    }
  }

  function refreshCode() {
    if (!rotating || !qr || navigator.onLine === false) {
      return;
    }
    getJson(root.dataset.codeUrl).then(function (data) {
      var lifetime = Date.parse(data.valid_until) - Date.parse(data.server_time);
      if (!data.image || !(lifetime > EXPIRY_MARGIN_MS)) {
        return;
      }
      /* Timed by this phone's clock from the server's lifetime: the two clocks may differ. */
      codeExpiresAt = Date.now() + lifetime - EXPIRY_MARGIN_MS;
      qr.setAttribute("src", data.image);
      if (caption) {
        caption.textContent = caption.dataset.rotatingText;
        caption.classList.add("is-rotating");
      }
    }, function (error) {
      if (error && error.status === 404) {
        rotating = false; /* turned off by the community, or the pass ended */
        showStaticCode();
      }
    });
  }

  function checkExpiry() {
    if (codeExpiresAt && Date.now() > codeExpiresAt) {
      showStaticCode();
    }
  }

  window.addEventListener("online", function () {
    refreshStatus();
    refreshCode();
  });
  window.addEventListener("offline", function () {
    markOffline(true);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      checkExpiry();
      refreshStatus();
      refreshCode();
    }
  });

  refreshStatus();
  window.setInterval(refreshStatus, STATUS_EVERY_MS);
  if (rotating) {
    refreshCode();
    window.setInterval(refreshCode, refreshMs);
    window.setInterval(checkExpiry, 1000);
  }
})();
