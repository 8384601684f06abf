/* The phone gate's duty line: who is on duty now (值守：张三、李四（至 14:00）).
 *
 * The page is rendered with the gate's shifts of the next 24 hours (#duty-line's
 * data-shifts: [{s, e, names, until}], s and e in epoch seconds); every 30 s the line shows
 * the shift covering the device's clock, so a page left open offline moves on to the next
 * shift by itself. Texts come from data-* attributes ({names}, {until} filled in here). */
(function () {
  "use strict";
  var line = document.getElementById("duty-line");
  if (!line) {
    return;
  }
  var shifts = [];
  try {
    shifts = JSON.parse(line.getAttribute("data-shifts") || "[]");
  } catch (error) {
    shifts = [];
  }

  function text(now) {
    for (var i = 0; i < shifts.length; i += 1) {
      var shift = shifts[i];
      if (shift.s <= now && now < shift.e) {
        var template = shift.names ? line.dataset.onDuty : line.dataset.nobody;
        return template.replace("{names}", shift.names).replace("{until}", shift.until);
      }
    }
    return line.dataset.noShift;
  }

  function refresh() {
    line.textContent = text(Date.now() / 1000);
  }

  refresh();
  window.setInterval(refresh, 30000);
})();
