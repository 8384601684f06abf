/* The errand section of the resident's pass page (/p/<token>).
 *
 * The page is cached for a day, so its list may be old: when online, the list is redrawn
 * from /p/<token>/errands (JSON), and the form and the withdraw buttons are sent with fetch
 * (the page stays; the list is redrawn). The cached page's CSRF token may belong to a session
 * the phone has dropped: the JSON answer carries a fresh one, sent with every POST. Without
 * this script the forms post as they are.
 */
(function () {
  "use strict";

  var section = document.getElementById("errands");
  if (!section) {
    return;
  }
  var list = document.getElementById("errand-list");
  var form = document.getElementById("errand-ask");
  var message = document.getElementById("errand-message");
  var data = section.dataset;
  var csrfToken = "";

  function say(text) {
    if (message) {
      message.textContent = text;
      message.hidden = !text;
    }
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function cancelUrl(id) {
    return data.cancelUrl.replace(/\/0\/cancel$/, "/" + id + "/cancel");
  }

  function row(errand) {
    var item = element("li");
    item.dataset.status = errand.status;
    item.dataset.id = String(errand.id);
    item.appendChild(element("span", "errand-status errand-" + errand.status, errand.status_label));
    item.appendChild(element("strong", "", errand.kind_label));
    if (errand.text) {
      item.appendChild(document.createTextNode(" " + errand.text));
    }
    if (errand.items.length) {
      item.appendChild(document.createTextNode(" "));
      item.appendChild(element("span", "errand-items", errand.items.join("、")));
    }
    var when = errand.asked;
    if (errand.delivered) {
      when += " · " + data.deliveredText + " " + errand.delivered;
    }
    if (errand.note) {
      when += " · " + errand.note;
    }
    item.appendChild(element("small", "", when));
    if (errand.may_cancel) {
      var button = element("button", "errand-withdraw", data.cancelText);
      button.type = "button";
      button.addEventListener("click", function () {
        send(cancelUrl(errand.id), new FormData());
      });
      item.appendChild(button);
    }
    return item;
  }

  function draw(answer) {
    list.textContent = "";
    answer.errands.forEach(function (errand) {
      list.appendChild(row(errand));
    });
    if (!answer.errands.length) {
      list.appendChild(element("li", "errand-empty", data.emptyText));
    }
    if (form) {
      form.hidden = !answer.may_ask;
    }
    section.hidden = !answer.may_ask && !answer.errands.length;
  }

  function refresh() {
    return fetch(data.url, {credentials: "same-origin", cache: "no-store", headers: {Accept: "application/json"}})
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (answer) {
        if (answer) {
          csrfToken = answer.csrf_token || csrfToken;
          draw(answer);
        }
      })
      .catch(function () { /* offline: keep the cached list */ });
  }

  function post(url, body) {
    body.set("csrf_token", csrfToken);
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      cache: "no-store",
      headers: {Accept: "application/json", "X-CSRFToken": csrfToken}
    });
  }

  function send(url, body) {
    /* A token first (the page may be older than the phone's session), then the request. */
    var ready = csrfToken ? Promise.resolve() : refresh();
    return ready
      .then(function () {
        return post(url, body);
      })
      .then(function (response) {
        return response.json().then(function (answer) {
          say(answer.message || (answer.error && answer.error.message) || "");
          if (response.status === 400) {
            csrfToken = ""; /* a token the server no longer knows: fetch a new one next time */
          }
          if (response.ok && form && url === form.action) {
            form.reset();
          }
          return refresh();
        });
      })
      .catch(function () {
        say(data.failedText);
      });
  }

  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send(form.action, new FormData(form));
    });
  }
  Array.prototype.forEach.call(section.querySelectorAll("form.errand-cancel"), function (cancel) {
    cancel.addEventListener("submit", function (event) {
      event.preventDefault();
      send(cancel.action, new FormData());
    });
  });
  if (navigator.onLine !== false) {
    refresh();
  }
  window.addEventListener("online", refresh);
})();
