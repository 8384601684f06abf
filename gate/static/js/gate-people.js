/* The people stepper of the phone gate (/gate): how many persons cross on the pass just
 * shown, 1 by default, back to 1 after every verdict. Shown only when the community's rules
 * count people (一人一次); gate.js reads window.GatePeople.count() into the scan (online and
 * offline alike) and calls reset() for the next person. Big − / + buttons, and the − and +
 * keys of a keyboard. No inline script (CSP). */
(function () {
  "use strict";

  var MAX_PEOPLE = 20; /* passes.MAX_PEOPLE */
  var box = document.getElementById("people");
  var count = 1;

  function show() {
    if (!box) {
      return;
    }
    box.querySelector("#people-count").textContent = String(count);
    box.querySelector("[data-people='-1']").disabled = count <= 1;
    box.querySelector("[data-people='1']").disabled = count >= MAX_PEOPLE;
  }

  function step(by) {
    count = Math.min(MAX_PEOPLE, Math.max(1, count + by));
    show();
  }

  window.GatePeople = {
    count: function () {
      return box ? count : 1;
    },
    reset: function () {
      count = 1;
      show();
    }
  };

  if (!box) {
    return;
  }
  box.hidden = false;
  box.closest(".direction").classList.add("has-people");
  box.addEventListener("click", function (event) {
    var button = event.target.closest("[data-people]");
    if (button) {
      step(Number(button.dataset.people));
    }
  });
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) {
      return; /* typing a reason or a code */
    }
    if (event.key === "+" || event.key === "-") {
      step(event.key === "+" ? 1 : -1);
      event.preventDefault();
    }
  });
  show();
})();
