/* The phone gate's durable journal (IndexedDB): the crossings it decided offline, until the
 * server has them, and the community's bundle with its ETag.
 *
 * window.GateJournal (promises throughout):
 *   open()                       the database "checkpoint-gate" (stores: crossings, meta)
 *   add(entry)                   store one crossing; resolves once the transaction is
 *                                COMMITTED (durability "strict"), so the page shows the
 *                                verdict only after the crossing survives a crash or reload
 *   all()                        every entry, in scan order
 *   prune(ms)                    drop sent and online entries older than ``ms``
 *   unsent()                     entries waiting for upload, oldest first
 *   deadLetters()                entries the server rejected (kept, shown on the page)
 *   settle(results)              apply the server's per-item results: stored / duplicate ->
 *                                sent; rejected -> dead letter with the error
 *   counts()                     {unsent, dead}
 *   getMeta(key) / putMeta(key, value)   the bundle, its ETag, when it was last confirmed
 *   stamp()                      a strictly increasing time (ms) for ``created``/``settled``
 *
 * An entry: {id (client UUID), gate_id, user_id, item (the checkpoint.crossing.v1 upload
 * item), shown (what the page showed), state: "unsent" | "sent" | "dead", error, created}.
 * A 无证人员 registration made offline (gate-visitors.js) is kept here too, state "walk_in"
 * until posted ("sent"), or "walk_in_refused"; its item has no pass.
 * Unsent and rejected entries are never deleted; sent ones are pruned after two days.
 */
(function () {
  "use strict";

  var lastStamp = 0;

  /* Milliseconds since the epoch, strictly increasing within the page (sub-millisecond):
   * what tells whether a crossing was journaled or settled before a bundle was asked for. */
  function stamp() {
    var now = window.performance && performance.timeOrigin ?
      performance.timeOrigin + performance.now() : Date.now();
    lastStamp = Math.max(now, lastStamp + 0.001);
    return lastStamp;
  }

  var NAME = "checkpoint-gate";
  var VERSION = 1;
  var opening = null;

  function request(req) {
    return new Promise(function (resolve, reject) {
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function done(tx) {
    return new Promise(function (resolve, reject) {
      tx.oncomplete = function () { resolve(); };
      tx.onerror = function () { reject(tx.error); };
      tx.onabort = function () { reject(tx.error || new Error("transaction aborted")); };
    });
  }

  function open() {
    if (opening) {
      return opening;
    }
    opening = new Promise(function (resolve, reject) {
      if (!window.indexedDB) {
        reject(new Error("no IndexedDB"));
        return;
      }
      var req = window.indexedDB.open(NAME, VERSION);
      req.onupgradeneeded = function () {
        var db = req.result;
        var crossings = db.createObjectStore("crossings", {keyPath: "id"});
        crossings.createIndex("state", "state");
        db.createObjectStore("meta");
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
    opening.catch(function () { opening = null; });
    return opening;
  }

  function transaction(db, stores, mode) {
    try {
      return db.transaction(stores, mode, {durability: "strict"});
    } catch (error) { /* browsers without the options argument */
      return db.transaction(stores, mode);
    }
  }

  function add(entry) {
    return open().then(function (db) {
      var tx = transaction(db, ["crossings"], "readwrite");
      tx.objectStore("crossings").put(entry);
      return done(tx);
    });
  }

  function inState(state) {
    return open().then(function (db) {
      var tx = transaction(db, ["crossings"], "readonly");
      return request(tx.objectStore("crossings").index("state").getAll(state));
    }).then(function (rows) {
      return rows.sort(function (a, b) {
        return a.created - b.created || (a.seq || 0) - (b.seq || 0);
      });
    });
  }

  /* Every crossing journaled, in scan order. */
  function all() {
    return open().then(function (db) {
      var tx = transaction(db, ["crossings"], "readonly");
      return request(tx.objectStore("crossings").getAll());
    }).then(function (rows) {
      return rows.sort(function (a, b) {
        return a.scanned - b.scanned || a.created - b.created || (a.seq || 0) - (b.seq || 0);
      });
    });
  }

  /* Drop crossings the server has (sent, online) older than ``ms`` milliseconds: a phone
   * keeps two days, never anything unsent or rejected. */
  function prune(ms) {
    var horizon = Date.now() - ms;
    return open().then(function (db) {
      var tx = transaction(db, ["crossings"], "readwrite");
      var store = tx.objectStore("crossings");
      var cursor = store.openCursor();
      cursor.onsuccess = function () {
        var at = cursor.result;
        if (!at) {
          return;
        }
        var entry = at.value;
        if ((entry.state === "sent" || entry.state === "online") && entry.created < horizon) {
          at.delete();
        }
        at.continue();
      };
      return done(tx);
    });
  }

  function unsent() {
    return inState("unsent");
  }

  function deadLetters() {
    return inState("dead");
  }

  function settle(results) {
    return open().then(function (db) {
      var tx = transaction(db, ["crossings"], "readwrite");
      var store = tx.objectStore("crossings");
      results.forEach(function (result) {
        if (!result.id) {
          return;
        }
        var get = store.get(result.id);
        get.onsuccess = function () {
          var entry = get.result;
          if (!entry || entry.state !== "unsent") {
            return;
          }
          if (result.status === "stored" || result.status === "duplicate") {
            entry.state = "sent";
            entry.crossing_id = result.crossing_id;
            entry.conflict = result.conflict;
          } else {
            entry.state = "dead";
            entry.error = result.error || {code: "rejected", message: ""};
          }
          entry.settled = stamp();
          store.put(entry);
        };
      });
      return done(tx);
    });
  }

  function counts() {
    return open().then(function (db) {
      var tx = transaction(db, ["crossings"], "readonly");
      var index = tx.objectStore("crossings").index("state");
      return Promise.all([request(index.count("unsent")), request(index.count("dead"))]);
    }).then(function (values) {
      return {unsent: values[0], dead: values[1]};
    });
  }

  function getMeta(key) {
    return open().then(function (db) {
      var tx = transaction(db, ["meta"], "readonly");
      return request(tx.objectStore("meta").get(key));
    });
  }

  function putMeta(key, value) {
    return open().then(function (db) {
      var tx = transaction(db, ["meta"], "readwrite");
      tx.objectStore("meta").put(value, key);
      return done(tx);
    });
  }

  window.GateJournal = {
    stamp: stamp,
    open: open,
    add: add,
    all: all,
    prune: prune,
    unsent: unsent,
    deadLetters: deadLetters,
    settle: settle,
    counts: counts,
    getMeta: getMeta,
    putMeta: putMeta
  };
})();
