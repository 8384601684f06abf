/* The phone gate's service worker, served as /gate/sw.js with scope /gate.
 *
 * It keeps what the gate page needs to open and decide without a network: the page itself
 * (as last served to this login), its styles and scripts, the zxing-cpp WebAssembly decoder
 * and the JavaScript decider. The community's bundle and the journal of offline crossings
 * live in IndexedDB (gate-offline.js, gate-journal.js), not here.
 *
 * - /gate (the page): network first; a good answer (200, not redirected to the login) is
 *   kept; without a network the kept page is served.
 * - /static/... and the manifest: from the cache when there, refreshed in the background.
 * - Everything else (scans, bundle, uploads, other pages) goes to the network untouched.
 * - The page posts {type: "keep", urls: [...]} with every file it loaded (the first load
 *   happens before this worker takes control), and the worker keeps them.
 */
"use strict";

var CACHE = "checkpoint-gate-v1";
var PAGE = "/gate";
/* Nothing is fetched at install: on a slow network that would download the decoder a
 * second time beside the page. The page sends its files once it has them all ("keep"), and
 * the worker takes them from the HTTP cache (a revalidation, not a download). */
self.addEventListener("install", function (event) {
  event.waitUntil(self.skipWaiting());
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("checkpoint-gate-") === 0 && name !== CACHE;
    }).map(function (name) {
      return caches.delete(name);
    }));
  }).then(function () {
    return self.clients.claim();
  }));
});

function isPage(url) {
  return url.pathname === PAGE || url.pathname === PAGE + "/";
}

function keepable(url) {
  return url.pathname.indexOf("/static/") === 0 || url.pathname === PAGE + "/manifest.webmanifest";
}

function goodPage(response) {
  return response && response.status === 200 && !response.redirected &&
    response.type === "basic";
}

function networkFirstPage(request) {
  return fetch(request).then(function (response) {
    if (goodPage(response)) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) {
        return cache.put(PAGE, copy);
      });
    }
    return response;
  }, function (error) {
    return caches.match(PAGE).then(function (kept) {
      if (kept) {
        return kept;
      }
      throw error;
    });
  });
}

function cacheFirst(request) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request, {ignoreSearch: true}).then(function (kept) {
      var fresh = fetch(request).then(function (response) {
        if (response && response.ok) {
          cache.put(request, response.clone());
        }
        return response;
      });
      if (kept) {
        fresh.catch(function () {});
        return kept;
      }
      return fresh;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") {
    return;
  }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (isPage(url) && (request.mode === "navigate" || request.destination === "document")) {
    event.respondWith(networkFirstPage(request));
  } else if (keepable(url)) {
    event.respondWith(cacheFirst(request));
  }
});

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "keep" || !Array.isArray(data.urls)) {
    return;
  }
  var work = caches.open(CACHE).then(function (cache) {
    return Promise.all(data.urls.map(function (href) {
      var url = new URL(href, self.location.origin);
      if (url.origin !== self.location.origin) {
        return null;
      }
      if (isPage(url)) {
        return fetch(PAGE, {credentials: "same-origin"}).then(function (response) {
          return goodPage(response) ? cache.put(PAGE, response) : null;
        }).catch(function () {});
      }
      if (!keepable(url)) {
        return null;
      }
      return cache.match(url.href, {ignoreSearch: true}).then(function (kept) {
        return kept || cache.add(url.href).catch(function () {});
      });
    }));
  }).then(function () {
    if (event.source && event.source.postMessage) {
      event.source.postMessage({type: "kept"});
    }
  });
  if (event.waitUntil) {
    event.waitUntil(work);
  }
});
