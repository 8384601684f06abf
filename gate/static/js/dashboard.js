/* The office overview (/) refreshes itself.
 *
 * Every data-refresh-seconds (60 s) it fetches the page again and swaps in the new #dashboard
 * content, keeping the window's scroll position and each table box's (.table-scroll, matched
 * by the id of its card). While the tab is hidden it waits, and refreshes as soon as it is
 * shown again. A failed fetch leaves the page as it was and marks its time as stale; a login
 * page (expired session) reloads the whole page so that the login form shows.
 */
(function () {
  "use strict";

  var root = document.getElementById("dashboard");
  if (!root || !window.fetch || !window.DOMParser) {
    return;
  }
  var everyMs = (parseInt(root.dataset.refreshSeconds, 10) || 60) * 1000;
  var timer = null;
  var busy = false;

  function boxKey(box, index) {
    var card = box.closest("[id]");
    return (card ? card.id : "") + ":" + index;
  }

  function scrollPositions(container) {
    var positions = {};
    container.querySelectorAll(".table-scroll").forEach(function (box, index) {
      positions[boxKey(box, index)] = [box.scrollTop, box.scrollLeft];
    });
    return positions;
  }

  function restore(container, positions) {
    container.querySelectorAll(".table-scroll").forEach(function (box, index) {
      var saved = positions[boxKey(box, index)];
      if (saved) {
        box.scrollTop = saved[0];
        box.scrollLeft = saved[1];
      }
    });
  }

  function markStale() {
    var heading = root.querySelector("h1 small");
    if (heading) {
      heading.classList.add("dashboard-stale");
    }
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, everyMs);
  }

  function refresh() {
    if (document.hidden) {
      return; /* visibilitychange refreshes when the tab is shown again */
    }
    if (busy) {
      return;
    }
    busy = true;
    fetch(window.location.href, {
      credentials: "same-origin",
      cache: "no-store",
      headers: {Accept: "text/html"}
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("dashboard");
        if (!fresh) {
          window.location.reload(); /* not the overview any more: e.g. the login page */
          return;
        }
        var x = window.scrollX;
        var y = window.scrollY;
        var positions = scrollPositions(root);
        root.innerHTML = fresh.innerHTML;
        restore(root, positions);
        window.scrollTo(x, y);
      })
      .catch(markStale)
      .then(function () {
        busy = false;
        schedule();
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      refresh();
    }
  });
  schedule();
})();
