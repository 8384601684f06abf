/* The phone gate's durable journal (IndexedDB): the crossings it decided offline, until the
 * server has them, and the community's bundle with its ETag.
 *
 * window.GateJournal (promises throughout):
 *   open()                       the database "checkpoint-gate" (stores: crossings, meta)
 *   add(entry)                   store one crossing; resolves once the transaction is
 *                                COMMITTED (durability "strict"), so the page shows the
 *                                verdict only after the crossing survives a crash or reload
 *   since(time)                  entries scanned after ``time`` (ms), in scan order
 *   unsent()                     entries waiting for upload, oldest first
 *   deadLetters()                entries the server rejected (kept, shown on the page)
 *   settle(results)              apply the server's per-item results: stored / duplicate ->
 *                                sent; rejected -> dead letter with the error
 *   counts()                     {unsent, dead}
 *   getMeta(key) / putMeta(key, value)   the bundle, its ETag, when it was last confirmed
 *
 * An entry: {id (client UUID), gate_id, user_id, item (the checkpoint.crossing.v1 upload
 * item), shown (what the page showed), state: "unsent" | "sent" | "dead", error, created}.
 * Entries are never deleted here: sent ones are kept (marked) for the shift's record.
 */
(function () {
  "use strict";

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

  /* Every crossing scanned after ``time`` (ms) that the server has or will have (not the
   * rejected ones), in scan order: what a bundle built at ``time`` does not count yet. */
  function since(time) {
    return open().then(function (db) {
      var tx = transaction(db, ["crossings"], "readonly");
      return request(tx.objectStore("crossings").getAll());
    }).then(function (rows) {
      return rows.filter(function (row) {
        return row.state !== "dead" && row.scanned > time;
      }).sort(function (a, b) {
        return a.scanned - b.scanned || (a.seq || 0) - (b.seq || 0);
      });
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
          entry.settled = Date.now();
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
    open: open,
    add: add,
    since: since,
    unsent: unsent,
    deadLetters: deadLetters,
    settle: settle,
    counts: counts,
    getMeta: getMeta,
    putMeta: putMeta
  };
})();
