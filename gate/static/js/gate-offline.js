/* The phone gate offline: the community's bundle, decisions without the server through the
 * one JavaScript decider (static/js/checkpoint/bundle.js, a port of passes.decide proven
 * equal on the committed corpus), the durable journal, and the upload when the network
 * returns.
 *
 * window.GateOffline:
 *   start(config)      config: {bundleUrl, batchUrl, deciderUrl, gateId, userId, operator,
 *                      csrf()}; loads the kept bundle, refreshes it, uploads what is unsent
 *   refreshBundle()    GET the bundle with If-None-Match; keeps it (IndexedDB) with the time
 *                      it was last confirmed
 *   decide(scan)       the offline verdict for scan {id, pass, direction, temperature,
 *                      override, plate (a car's, typed with its VH1 pass)} from decideFromBundle (no_bundle, clock_fault before the
 *                      bundle's time, stale_bundle after 24 h, else passes.decide's rules),
 *                      with the household's state advanced by every journaled crossing the
 *                      bundle does not count yet; and clock_fault when the phone's clock is
 *                      behind the newest time it has already seen (the trust issue's rule)
 *   record(scan, verdict, online)  journal one crossing (resolves once durable). Offline
 *                      ones wait for upload; online ones are kept only to advance states
 *   upload()           send unsent crossings (at most 100 a request) and settle the results
 *   status()           {bundleAt, bundleAgeMs, hasBundle, bundleFailed, loginLost, unsent,
 *                      dead, uploading}: bundleFailed when the last refresh got no bundle;
 *                      loginLost when the server said this page's login is gone (401, or
 *                      a CSRF refusal: the page's token no longer matches a session)
 *   loginLost()        note a lost login seen elsewhere (a scan answered 401)
 *   onChange(fn)       fn() after anything in status() may have changed
 *   phoneId()          this phone's own random id (a UUID made once, kept in localStorage;
 *                      nothing personal), sent with its unsent count on every bundle fetch
 *                      and upload (X-Checkpoint-Phone, X-Checkpoint-Backlog) so the office
 *                      sees the phone and what it still holds on /devices
 */
(function () {
  "use strict";

  var CLOCK_TOLERANCE_MS = 2 * 60 * 1000;
  var KEEP_SENT_MS = 2 * 24 * 3600 * 1000;
  var REFRESH_MS = 5 * 60 * 1000;
  var BATCH = 100;
  var RETRY_MS = 15000;
  var CROSSING_FORMAT = "checkpoint.crossing.v1";
  var BATCH_FORMAT = "checkpoint.batch.v1";

  var journal = window.GateJournal;
  var config = null;
  var decider = null; /* the ES module, once imported */
  var kept = null; /* {json, etag, confirmedAt, generatedAt, clockOffsetMs} */
  var counts = {unsent: 0, unsentAll: 0, dead: 0};
  var uploading = null;
  var bundleFailed = false; /* the last refresh got no bundle: its age is not "fresh" */
  var loginLost = false; /* the server no longer knows this page's login */
  var listeners = [];
  var seq = 0;

  var PHONE_KEY = "checkpoint-gate-phone";
  var phoneIdKept = null;

  /* A version-4 UUID from the browser's random source (crypto.randomUUID needs HTTPS; a
   * phone on plain HTTP still gets an id). */
  function newUuid() {
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

  /* This phone's id, made once and kept; null when the browser keeps nothing (private
   * mode without storage: then the phone is simply not listed). */
  function phoneId() {
    if (phoneIdKept) {
      return phoneIdKept;
    }
    try {
      var found = window.localStorage.getItem(PHONE_KEY);
      if (!found || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(found)) {
        found = newUuid();
        window.localStorage.setItem(PHONE_KEY, found);
      }
      phoneIdKept = found;
    } catch (error) {
      return null;
    }
    return phoneIdKept;
  }

  /* The phone's id and what it holds unsent (what the page shows as 待上传). */
  function phoneHeaders(headers) {
    var id = phoneId();
    if (id) {
      headers["X-Checkpoint-Phone"] = id;
      /* Everything waiting on this phone, anyone's: the office must see crossings a
       * volunteer who never logs in here again left behind. */
      headers["X-Checkpoint-Backlog"] = String(counts.unsentAll);
    }
    return headers;
  }

  function changed() {
    listeners.forEach(function (fn) {
      try { fn(); } catch (error) { /* a listener's problem is its own */ }
    });
  }

  /* What waits on this phone for the logged-in user (another volunteer's unsent crossings
   * wait for them, see uploadOnce), and what the server refused (anyone's). */
  function refreshCounts() {
    return journal.all().then(function (entries) {
      counts = {
        unsent: entries.filter(function (entry) {
          return entry.state === "unsent" && entry.user_id === config.userId;
        }).length,
        unsentAll: entries.filter(function (entry) { return entry.state === "unsent"; }).length,
        dead: entries.filter(function (entry) { return entry.state === "dead"; }).length,
      };
      changed();
    }, function () {});
  }

  /* The decider's modules: bundle.js (readBundle, decideFromBundle) and, next to it,
   * state.js (advance) and pass_format.js (parsePass). */
  function loadDecider() {
    if (decider) {
      return Promise.resolve(decider);
    }
    var base = new URL(config.deciderUrl, window.location.href);
    return Promise.all([
      import(base.href),
      import(new URL("state.js", base).href),
      import(new URL("pass_format.js", base).href)
    ]).then(function (modules) {
      decider = {bundle: modules[0], state: modules[1], format: modules[2]};
      return decider;
    });
  }

  function householdOf(text) {
    try {
      return decider.format.parsePass(text).fields.household_id;
    } catch (error) {
      return null; /* not a pass (a screen code or garbage): no state to advance */
    }
  }

  function parseTime(text) {
    return text ? Date.parse(text) : NaN;
  }

  /* ``requestedAt``: when this phone asked for the bundle. Every crossing the server had
   * stored before that (an online one answered earlier, an offline one whose upload was
   * acknowledged earlier) is counted in it; later ones are not (see localHousehold). */
  function keep(json, etag, serverDate, requestedAt) {
    var now = Date.now();
    var serverAt = parseTime(serverDate);
    kept = {
      json: json,
      etag: etag,
      requestedAt: requestedAt,
      confirmedAt: now,
      generatedAt: parseTime(json.generated_at),
      clockOffsetMs: isNaN(serverAt) ? null : now - serverAt
    };
    return journal.putMeta("bundle", kept).then(noteTime, noteTime).then(function () {
      changed();
    });
  }

  /* Whether an answer says this page's login is gone: 401, or the CSRF refusal of a page
   * whose session has gone (the server answers 401 for that too, gate/gateview). */
  function isLoginLost(response, answer) {
    return response.status === 401 ||
      (response.status === 400 && !!answer && !!answer.error && answer.error.code === "csrf");
  }

  function setLoginLost(lost) {
    if (loginLost !== lost) {
      loginLost = lost;
      changed();
    }
  }

  function fetchBundle() {
    var requestedAt = null;
    var headers = {"Accept": "application/json"};
    if (kept && kept.etag) {
      headers["If-None-Match"] = kept.etag;
    }
    /* The unsent count read from the journal first (a page's first fetch comes before it);
     * the time of asking taken just before the request, as the bundle's rule needs. */
    return refreshCounts().then(function () {
      requestedAt = journal.stamp();
      return fetch(config.bundleUrl, {
        credentials: "same-origin", headers: phoneHeaders(headers), cache: "no-store"
      });
    }).then(function (response) {
      if (response.status === 304 && kept) {
        setLoginLost(false);
        /* Unchanged: what the server has now is what the kept bundle counts. */
        return keep(kept.json, kept.etag, response.headers.get("Date"), requestedAt);
      }
      if (!response.ok) {
        setLoginLost(isLoginLost(response, null) || loginLost);
        throw new Error("bundle: HTTP " + response.status);
      }
      setLoginLost(false);
      var etag = response.headers.get("ETag");
      var date = response.headers.get("Date");
      return response.json().then(function (json) {
        return keep(json, etag, date, requestedAt);
      });
    });
  }

  /* One request at a time, in order: the bundle kept last is the one asked for last. */
  var bundleQueue = Promise.resolve();

  function refreshBundle() {
    var next = bundleQueue.then(fetchBundle, fetchBundle).then(function (value) {
      if (bundleFailed) {
        bundleFailed = false;
        changed();
      }
      return value;
    }, function (error) {
      bundleFailed = true;
      changed();
      throw error;
    });
    bundleQueue = next.catch(function () {});
    return next;
  }

  /* ---------- the device clock (the trust issue's clock-fault rule) ---------- */

  var clockMark = 0; /* the newest time this device has seen */

  function noteTime() {
    var now = Date.now();
    if (now > clockMark) {
      clockMark = now;
      return journal.putMeta("clock_mark", clockMark).catch(function () {});
    }
    return Promise.resolve();
  }

  /* ---------- deciding ---------- */

  var parsed = {kept: null, bundle: null};

  function readKept() {
    if (parsed.kept !== kept) {
      parsed = {
        kept: kept,
        bundle: decider.bundle.readBundle(kept.json, {fetchedAt: new Date(kept.confirmedAt)})
      };
    }
    return parsed.bundle;
  }

  /* Whether the kept bundle does not count ``entry`` yet: an online crossing answered after
   * the bundle was asked for, an offline one not yet acknowledged by the server (or
   * acknowledged after). Rejected ones never count. */
  function newerThanBundle(entry) {
    var asked = kept.requestedAt || 0;
    if (entry.state === "online") {
      return entry.created > asked;
    }
    if (entry.state === "unsent") {
      return true;
    }
    if (entry.state === "sent") {
      return !entry.settled || entry.settled > asked;
    }
    return false;
  }

  /* The household as this phone knows it: the bundle's state advanced by every journaled
   * crossing the bundle does not count yet (offline ones and online answers alike), in scan
   * order. Null: nothing newer than the bundle. */
  function localHousehold(bundle) {
    return function (householdId) {
      var base = bundle.households.get(householdId);
      if (base === undefined) {
        return null;
      }
      return journal.all().then(function (entries) {
        var mine = entries.filter(function (entry) {
          return entry.household_id === householdId && newerThanBundle(entry);
        });
        if (!mine.length) {
          return null;
        }
        var state = base;
        mine.forEach(function (entry) {
          state = decider.state.advance(
            state, entry.item.direction, !!entry.verdict.allowed,
            Date.parse(entry.item.scanned_at), bundle.rules, entry.item.people || 1
          );
        });
        return state;
      });
    };
  }

  /* Whether this phone already let someone in with exactly this visitor pass (its journal,
   * online answers too): a single-use one is then used up, whatever the bundle says. */
  function localVisitorUse(text) {
    return journal.all().then(function (entries) {
      return entries.some(function (entry) {
        return entry.item.pass === text && entry.item.direction === "in" &&
          !!entry.verdict.allowed;
      });
    });
  }

  /* The decider's override: a supervisor card's (checked against the bundle by the decider,
   * again by the server on upload), else the logged-in supervisor's. */
  function overrideOf(override) {
    if (!override) {
      return null;
    }
    if (override.card) {
      return decider.bundle.cardOverride(override.card, override.reason);
    }
    return {supervisor: config.operator || "", reason: override.reason};
  }

  /* The upload's override: who, why, and the card when one was shown. */
  function wireOverride(override) {
    if (!override) {
      return null;
    }
    var made = decider ? overrideOf(override) : {supervisor: config.operator || "",
      reason: override.reason, card: override.card || null};
    var wire = {supervisor: made.supervisor, reason: made.reason};
    if (override.card) {
      wire.supervisor_card = override.card;
    }
    return wire;
  }

  function decide(scan) {
    var now = scan.scanned_at ? Date.parse(scan.scanned_at) : Date.now();
    return loadDecider().then(function () {
      if (!kept) {
        return decider.bundle.decideFromBundle(null, scan.pass, {
          direction: scan.direction, temperature: scan.temperature, now: new Date(now)
        });
      }
      var bundle = readKept();
      return decider.bundle.decideFromBundle(bundle, scan.pass, {
        direction: scan.direction,
        temperature: scan.temperature,
        people: scan.people || 1,
        typedPlate: scan.plate || null, /* a car's typed plate, checked against its pass */
        now: new Date(now),
        override: overrideOf(scan.override),
        clockFault: now < clockMark - CLOCK_TOLERANCE_MS,
        localHousehold: localHousehold(bundle),
        localVisitorUse: localVisitorUse
      }).then(function (verdict) {
        /* The household's code (printed on its card), as the online answer shows it. */
        var codes = bundle.household_codes;
        if (codes && verdict.household_id != null && codes.has(verdict.household_id)) {
          return Object.assign({}, verdict, {household_label: codes.get(verdict.household_id)});
        }
        return verdict;
      });
    });
  }

  /* ---------- the journal and the upload ---------- */

  function claim(verdict) {
    return {
      allowed: !!verdict.allowed,
      code: verdict.code || null,
      codes: (verdict.codes || []).slice(),
      notes: (verdict.notes || []).slice(),
      rule_version: verdict.rule_version || 0
    };
  }

  function record(scan, verdict, online) {
    var scannedAt = scan.scanned_at || new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    var item = {
      format: CROSSING_FORMAT,
      id: scan.id,
      pass: scan.pass,
      direction: scan.direction,
      temperature: scan.temperature,
      scanned_at: scannedAt,
      operator: config.operator || null,
      override: wireOverride(scan.override),
      latency_ms: null,
      verdict: claim(verdict)
    };
    if (scan.people && scan.people !== 1) {
      item.people = scan.people; /* absent means one (passes.wire) */
    }
    if (kept && typeof kept.clockOffsetMs === "number") {
      item.clock_offset_ms = Math.round(kept.clockOffsetMs);
    }
    seq += 1;
    var entry = {
      id: scan.id,
      household_id: decider ? householdOf(scan.pass) : (verdict.household_id || null),
      gate_id: config.gateId,
      user_id: config.userId,
      item: item,
      verdict: verdict,
      state: online ? "online" : "unsent",
      created: journal.stamp(),
      scanned: scan.scanned_ms || Date.parse(scannedAt),
      seq: seq
    };
    return journal.add(entry).then(function () {
      noteTime();
      return refreshCounts();
    });
  }

  function postBatch(gateId, entries) {
    var url = config.batchUrl + (config.batchUrl.indexOf("?") === -1 ? "?" : "&") +
      "gate=" + encodeURIComponent(gateId);
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: phoneHeaders({
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": config.csrf()
      }),
      body: JSON.stringify({
        format: BATCH_FORMAT,
        crossings: entries.map(function (entry) { return entry.item; })
      })
    }).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () {
          return null;
        }).then(function (answer) {
          if (isLoginLost(response, answer)) {
            setLoginLost(true);
          }
          throw new Error("upload: HTTP " + response.status);
        });
      }
      setLoginLost(false);
      return response.json();
    }).then(function (answer) {
      return journal.settle(answer.results || []);
    });
  }

  function uploadOnce() {
    return journal.unsent().then(function (all) {
      /* Only the logged-in user's own crossings: the server records the uploader as the
       * one who let them through, so another volunteer's wait on this phone until they log
       * in again (they stay in the journal, never lost). */
      var entries = all.filter(function (entry) {
        return entry.user_id === config.userId;
      });
      if (!entries.length) {
        return false;
      }
      /* One request per gate, in journal order, at most BATCH items each. */
      var gateId = entries[0].gate_id;
      var chunk = entries.filter(function (entry) {
        return entry.gate_id === gateId;
      }).slice(0, BATCH);
      return postBatch(gateId, chunk).then(function () { return true; });
    });
  }

  function upload() {
    if (uploading) {
      return uploading;
    }
    function loop() {
      return uploadOnce().then(function (more) {
        return refreshCounts().then(function () {
          return more ? loop() : null;
        });
      });
    }
    uploading = loop().then(function () {
      uploading = null;
      changed();
      /* The server now has what it did not: the next bundle counts these crossings. */
      return refreshBundle().catch(function () {});
    }, function (error) {
      uploading = null;
      changed();
      throw error;
    });
    changed();
    return uploading;
  }

  function tryUpload() {
    upload().catch(function () {
      window.setTimeout(function () {
        if (navigator.onLine !== false && counts.unsent) {
          tryUpload();
        }
      }, RETRY_MS);
    });
  }

  function start(settings) {
    config = settings;
    window.addEventListener("online", function () {
      tryUpload();
      refreshBundle().catch(function () {});
    });
    /* A phone left open at the gate keeps its bundle fresh between scans. */
    window.setInterval(function () {
      if (navigator.onLine !== false) {
        refreshBundle().catch(function () {});
        if (counts.unsent) {
          tryUpload();
        }
      }
    }, REFRESH_MS);
    journal.prune(KEEP_SENT_MS).catch(function () {});
    return Promise.all([
      journal.getMeta("bundle").then(function (found) { kept = found || null; }),
      journal.getMeta("clock_mark").then(function (found) { clockMark = found || 0; })
    ]).catch(function () {}).then(function () {
      changed();
      refreshCounts();
      if (navigator.onLine !== false) {
        tryUpload(); /* also refreshes the bundle */
      }
      return Promise.all([
        loadDecider().catch(function (error) {
          if (window.console) {
            window.console.warn("offline decider unavailable:", error);
          }
        }),
        refreshBundle().catch(function () {})
      ]);
    });
  }

  function status() {
    return {
      hasBundle: !!kept,
      bundleFailed: bundleFailed,
      loginLost: loginLost,
      bundleAt: kept ? kept.confirmedAt : null,
      bundleAgeMs: kept ? Date.now() - kept.confirmedAt : null,
      unsent: counts.unsent,
      dead: counts.dead,
      uploading: !!uploading
    };
  }

  window.GateOffline = {
    start: start,
    refreshBundle: refreshBundle,
    decide: decide,
    record: record,
    upload: upload,
    tryUpload: tryUpload,
    status: status,
    loginLost: function () { setLoginLost(true); },
    phoneId: phoneId,
    deadLetters: function () { return journal.deadLetters(); },
    onChange: function (fn) { listeners.push(fn); }
  };
})();
