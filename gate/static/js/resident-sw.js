/* Service worker of the resident's pass pages, served as /p/sw.js (scope /p/).
 *
 * - The page (/p/<token>): network first, from the cache after a few seconds without an
 *   answer or with no network, so a page opened once reopens offline (its script then shows
 *   the codes it holds, or says to connect). A 404 (link withdrawn) deletes the cached copy.
 * - Its styles and script (/static/...): network first, cache as fallback.
 * - /p/<token>/code and /status: never cached (the network or nothing).
 */
"use strict";

var CACHE = "checkpoint-resident-v1";
var WAIT_MS = 4000;
var PAGE = /^\/p\/[A-Za-z0-9_-]{43}$/;

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

function networkFirst(key, fetching) {
  return caches.open(CACHE).then(function (cache) {
    return new Promise(function (resolve) {
      var settled = false;
      function settle(response) {
        if (!settled) {
          settled = true;
          resolve(response);
        }
      }
      var timer = setTimeout(function () {
        cache.match(key).then(function (hit) {
          if (hit) {
            settle(hit); /* poor signal: the cached copy now, the network one fills the cache */
          }
        });
      }, WAIT_MS);
      fetching.then(function (response) {
        clearTimeout(timer);
        if (response.ok) {
          cache.put(key, response.clone());
        } else if (response.status === 404 || response.status === 410) {
          cache.delete(key);
        }
        settle(response);
      }, function () {
        clearTimeout(timer);
        cache.match(key).then(function (hit) {
          settle(hit || Response.error());
        });
      });
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
  if (PAGE.test(url.pathname)) {
    /* no-cache: ask the server every time (a withdrawn link must answer 404 at once) */
    event.respondWith(networkFirst(url.href, fetch(url.href, {cache: "no-cache", credentials: "same-origin"})));
  } else if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(networkFirst(url.href, fetch(request)));
  }
});
