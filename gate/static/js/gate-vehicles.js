/* The gate view's car panel (车辆): the plate keypad and the car's check.
 *
 * The volunteer taps 车辆, picks the province (鲁 京 ...), then types letters and digits; the
 * plate is checked as it is typed by plates.js (passes.plates' port, one table for both) and
 * the message says what is wrong in Chinese. 查验 posts {id, plate, pass?, direction} to
 * /gate/vehicle: a registered car's vehicle pass scanned while the panel is open travels with
 * the typed plate (they must agree); a pass scanned with the panel closed is sent alone
 * (window.GateVehicles.passRead, called by gate.js for VH1 codes). The server decides
 * (passes.vehicle_decision) and logs the car; the answer shows on the verdict screen
 * (window.GatePage.showAnswer). A retry after no answer keeps its id (the server replays).
 *
 * Offline (no network, or no answer), a car with its vehicle pass is decided on the phone from
 * the bundle (window.GateOffline.decide: the JS port of passes.vehicle_decision, the typed
 * plate checked against the pass) and journaled before its verdict shows; the journal
 * uploads it later with the pass, and the server stores it as a car (subject 'vehicle', its
 * plate). A plate typed alone needs the server's register: offline the panel says so and
 * nothing is recorded.
 */
import { parsePlate, plateProblem } from "./checkpoint/plates.js";

const root = document.getElementById("gate");
const form = document.getElementById("vehicle-form");
const open = document.getElementById("vehicle-open");

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return (meta && meta.getAttribute("content")) || root.dataset.csrfToken || "";
}

function uuid4() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => (b + 0x100).toString(16).slice(1)).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function direction() {
  const active = document.querySelector(".dir-button.is-active");
  return (active && active.dataset.direction) || "in";
}

if (root && form && open) {
  const data = form.dataset;
  const problems = JSON.parse(document.getElementById("plate-problems").textContent);
  const el = {
    plate: document.getElementById("vehicle-plate"),
    message: document.getElementById("vehicle-message"),
    provinces: document.getElementById("vehicle-provinces"),
    chars: document.getElementById("vehicle-chars"),
    passNote: document.getElementById("vehicle-pass-note"),
    back: document.getElementById("vehicle-back"),
    cancel: document.getElementById("vehicle-cancel"),
    manualForm: document.getElementById("manual-form"),
    walkinForm: document.getElementById("walkin-form"),
  };
  const state = { plate: "", pass: null, id: null, body: "", sending: false };

  const say = (text, ok = false) => {
    el.message.textContent = text || "";
    el.message.classList.toggle("is-ok", ok);
  };

  const render = () => {
    el.plate.textContent = state.plate;
    el.provinces.hidden = state.plate.length > 0;
    el.chars.hidden = state.plate.length === 0;
    el.passNote.hidden = state.pass === null;
    el.passNote.textContent = state.pass === null ? "" : data.passRead;
    let newEnergy = false;
    if (state.plate === "") {
      say("");
    } else {
      const problem = plateProblem(state.plate);
      if (problem === null) {
        newEnergy = parsePlate(state.plate).kind === "new_energy";
        say(data.ok, true);
      } else {
        say(problems[problem] || problem);
      }
    }
    el.plate.classList.toggle("is-new-energy", newEnergy);
  };

  const reset = () => {
    state.plate = "";
    state.pass = null;
    state.id = null;
    state.body = "";
    render();
  };

  const close = () => {
    form.hidden = true;
    reset();
  };

  /* The car decided here from the bundle and journaled (durable first), then shown. */
  const decideHere = (fields) => {
    const gate = window.GateOffline;
    if (!gate || fields.pass === null) {
      state.sending = false;
      form.hidden = false;
      say(fields.pass === null ? data.offlinePlate : data.offline);
      return;
    }
    const scan = {
      id: state.id,
      pass: fields.pass,
      plate: fields.plate,
      direction: fields.direction,
      temperature: null,
      scanned_at: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    };
    gate
      .decide(scan)
      .then((verdict) =>
        gate.record(scan, verdict, false).then(() => {
          state.sending = false;
          close();
          const answer = window.GatePage.offlineAnswer(scan, verdict);
          const label = [verdict.plate, verdict.household_label].filter(Boolean).join(" ");
          window.GatePage.showAnswer({ ...answer, household_label: label }, true);
          gate.tryUpload();
        }),
      )
      .catch(() => {
        state.sending = false; /* the same id again on 查验 */
        form.hidden = false;
        say(data.offlineFailed);
      });
  };

  const send = (fields) => {
    if (state.sending) return;
    const key = JSON.stringify(fields);
    if (state.id === null || key !== state.body) {
      state.id = uuid4(); /* the same car again after no answer keeps its id */
      state.body = key;
    }
    state.sending = true;
    if (navigator.onLine === false) {
      decideHere(fields);
      return;
    }
    fetch(data.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ ...fields, id: state.id }),
    })
      .then((response) =>
        response
          .json()
          .catch(() => null)
          .then((answer) => ({ status: response.status, answer })),
      )
      .then(
        ({ status, answer }) => {
          state.sending = false;
          if (status === 200 && answer && answer.verdict) {
            close();
            window.GatePage.showAnswer(answer, false);
            return;
          }
          form.hidden = false;
          say((answer && answer.error && answer.error.message) || data.error);
        },
        () => decideHere(fields) /* no answer: the network is down */,
      );
  };

  const check = () => {
    const typed = state.plate === "" ? null : state.plate;
    if (typed !== null && plateProblem(typed) !== null) {
      render();
      return;
    }
    if (typed === null && state.pass === null) {
      say(problems.plate_empty);
      return;
    }
    send({ plate: typed, pass: state.pass, direction: direction() });
  };

  const press = (ch) => {
    if (state.plate.length >= 8) return;
    state.plate += ch;
    render();
  };

  open.addEventListener("click", () => {
    if (el.manualForm) el.manualForm.hidden = true;
    if (el.walkinForm) el.walkinForm.hidden = true;
    reset();
    form.hidden = false;
  });
  el.cancel.addEventListener("click", close);
  el.back.addEventListener("click", () => {
    state.plate = Array.from(state.plate).slice(0, -1).join("");
    render();
  });
  for (const grid of [el.provinces, el.chars]) {
    grid.addEventListener("click", (event) => {
      const key = event.target.closest(".vehicle-key");
      if (key) press(key.dataset.char);
    });
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    check();
  });

  window.GateVehicles = {
    /** A vehicle pass the camera read: kept for 查验 while the panel is open, else sent. */
    passRead(text) {
      if (!form.hidden) {
        state.pass = text;
        render();
        return;
      }
      reset();
      state.pass = text;
      send({ plate: null, pass: text, direction: direction() });
    },
  };
}
