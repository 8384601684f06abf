// A community's outing rules (passes/rules.py): parsed and validated as strictly as Python
// does, into a frozen plain object:
//
//   {version, timezone, quota: {exits, window, length} | null, max_out_at_once,
//    exit_hours: {start: "HH:MM", end: "HH:MM", start_us, end_us} | null,
//    max_outside_minutes, temperature: {required, fever_threshold_tenths,
//    plausible_min_tenths, plausible_max_tenths}}
//
// ``start_us``/``end_us`` are microseconds after local midnight. JavaScript cannot tell 3.0
// from 3, so a whole-valued float that Python refuses is accepted here; rules reach a gate
// only from the server, which has validated them already.

import { Code } from "./codes.js";
import { PassError } from "./pass_format.js";
import { HOUR_US, MINUTE_US } from "./timefmt.js";
import { PROVINCES } from "./plates.js";
import { isKnownZone } from "./zone.js";

const PARSED = new WeakSet();

export const DEFAULT_TIMEZONE = "Asia/Shanghai";
export const WindowKind = Object.freeze({
  CALENDAR_DAYS: "calendar_days",
  ROLLING_HOURS: "rolling_hours",
});

/** Rule JSON was refused; ``field`` names the bad field, ``problem`` is a stable code
 * (passes.rules.RULE_PROBLEMS) and ``params`` its parameters. */
export class RuleSetError extends PassError {
  constructor(field, problem, message, params = {}) {
    super(Code.BAD_FORMAT, "bad_rules");
    this.message = `${field}: ${message}`;
    this.field = field;
    this.problem = problem;
    this.params = params;
  }
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function object(data, name, allowed) {
  if (!isObject(data)) throw new RuleSetError(name, "not_object", "must be an object");
  for (const key of Object.keys(data)) {
    if (!allowed.includes(key)) {
      const prefix = name === "(root)" ? "" : `${name}.`;
      throw new RuleSetError(`${prefix}${key}`, "unknown_field", "unknown field");
    }
  }
  return data;
}

function int(value, name, low, high) {
  if (typeof value !== "number" || !Number.isInteger(value) || value < low || value > high) {
    throw new RuleSetError(name, "out_of_range", `must be a whole number from ${low} to ${high}`, {
      low,
      high,
    });
  }
  return value;
}

function str(value, name) {
  if (typeof value !== "string") throw new RuleSetError(name, "not_text", "must be text");
  return value;
}

const INT_TEXT = /^\s*[+-]?\d+(?:_\d+)*\s*$/;

function clock(value, name) {
  const text = str(value, name);
  const parts = text.split(":");
  const bad = () => new RuleSetError(name, "bad_clock", "must be HH:MM, e.g. 06:00");
  if (parts.length !== 2 || !parts.every((part) => INT_TEXT.test(part))) throw bad();
  const [hour, minute] = parts.map((part) => Number(part.replaceAll("_", "")));
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59) throw bad();
  const pad = (n) => String(n).padStart(2, "0");
  return { text: `${pad(hour)}:${pad(minute)}`, us: hour * HOUR_US + minute * MINUTE_US };
}

function get(obj, key, fallback) {
  return Object.hasOwn(obj, key) ? obj[key] : fallback;
}

function quota(data) {
  if (data === null) return null;
  const obj = object(data, "quota", ["exits", "window", "length"]);
  const window = str(get(obj, "window", "calendar_days"), "quota.window");
  if (!Object.values(WindowKind).includes(window)) {
    throw new RuleSetError("quota.window", "bad_choice", "must be calendar_days or rolling_hours", {
      choices: "calendar_days, rolling_hours",
    });
  }
  const limit = window === WindowKind.CALENDAR_DAYS ? 366 : 24 * 366;
  return Object.freeze({
    exits: int(get(obj, "exits", 1), "quota.exits", 1, 100),
    window,
    length: int(get(obj, "length", 3), "quota.length", 1, limit),
  });
}

function exitHours(data) {
  if (data === null || data === undefined) return null;
  const obj = object(data, "exit_hours", ["start", "end"]);
  const start = clock(get(obj, "start", null), "exit_hours.start");
  const end = clock(get(obj, "end", null), "exit_hours.end");
  if (start.us === end.us) {
    throw new RuleSetError(
      "exit_hours",
      "start_equals_end",
      "start equals end; use null for any time",
    );
  }
  return Object.freeze({ start: start.text, end: end.text, start_us: start.us, end_us: end.us });
}

function temperature(data) {
  const obj = object(data, "temperature", [
    "required",
    "fever_threshold_tenths",
    "plausible_min_tenths",
    "plausible_max_tenths",
  ]);
  const required = get(obj, "required", true);
  if (typeof required !== "boolean") {
    throw new RuleSetError("temperature.required", "not_boolean", "must be true or false");
  }
  const low = int(
    get(obj, "plausible_min_tenths", 340),
    "temperature.plausible_min_tenths",
    300,
    450,
  );
  const high = int(
    get(obj, "plausible_max_tenths", 430),
    "temperature.plausible_max_tenths",
    300,
    450,
  );
  const fever = int(
    get(obj, "fever_threshold_tenths", 373),
    "temperature.fever_threshold_tenths",
    300,
    450,
  );
  if (!(low < fever && fever <= high)) {
    throw new RuleSetError(
      "temperature.fever_threshold_tenths",
      "fever_outside_plausible",
      "must lie above plausible_min and at most plausible_max",
    );
  }
  return Object.freeze({
    required,
    fever_threshold_tenths: fever,
    plausible_min_tenths: low,
    plausible_max_tenths: high,
  });
}

/** zoneinfo reads names case-sensitively, Intl does not: refuse "asia/shanghai" as Python does
 * (a name Intl turns into another one, an alias such as "Etc/UTC", is kept). */
function sameCase(zone) {
  const resolved = new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions().timeZone;
  return resolved === zone || resolved.toLowerCase() !== zone.toLowerCase();
}

/** What the quota and max_out_at_once count (passes.CountKind): 一户一次 or 一人一次. */
export const CountKind = Object.freeze({ HOUSEHOLDS: "households", PEOPLE: "people" });

function countKind(value) {
  const text = str(value, "count");
  if (!Object.values(CountKind).includes(text)) {
    throw new RuleSetError("count", "bad_choice", "must be households or people", {
      choices: "households, people",
    });
  }
  return text;
}

/** How many quota exits and people out a crossing of ``people`` persons makes (RuleSet.units). */
export function unitsOf(rules, people) {
  return rules.count === CountKind.PEOPLE ? people : 1;
}

/** Cars without a vehicle pass (passes.rules.VehicleRules): local allow|refuse, outside
 * register|refuse. */
export const MAX_PLATE_PREFIXES = 40;
const PLATE_PREFIX = new RegExp(`^[${PROVINCES}][A-HJ-Z]?$`, "u");

function vehicleRules(data) {
  if (data === null) return null;
  const obj = object(data, "vehicles", ["local_prefixes", "local", "outside"]);
  const prefixes = get(obj, "local_prefixes", []);
  if (!Array.isArray(prefixes)) {
    throw new RuleSetError("vehicles.local_prefixes", "not_text", "must be a list of text");
  }
  if (prefixes.length > MAX_PLATE_PREFIXES) {
    throw new RuleSetError("vehicles.local_prefixes", "too_many", "too many prefixes", {
      high: MAX_PLATE_PREFIXES,
    });
  }
  for (const prefix of prefixes) {
    const text = str(prefix, "vehicles.local_prefixes");
    if (!PLATE_PREFIX.test(text)) {
      throw new RuleSetError(
        "vehicles.local_prefixes",
        "bad_plate_prefix",
        "is not a province abbreviation, optionally with its letter",
        { value: text },
      );
    }
  }
  const local = str(get(obj, "local", "allow"), "vehicles.local");
  if (local !== "allow" && local !== "refuse") {
    throw new RuleSetError("vehicles.local", "bad_choice", "must be allow or refuse", {
      choices: "allow, refuse",
    });
  }
  const outside = str(get(obj, "outside", "refuse"), "vehicles.outside");
  if (outside !== "register" && outside !== "refuse") {
    throw new RuleSetError("vehicles.outside", "bad_choice", "must be register or refuse", {
      choices: "register, refuse",
    });
  }
  return Object.freeze({
    local_prefixes: Object.freeze([...new Set(prefixes)]),
    local,
    outside,
  });
}

function vehicleRulesToDict(vehicles) {
  return {
    local_prefixes: [...vehicles.local_prefixes],
    local: vehicles.local,
    outside: vehicles.outside,
  };
}

/** Validate a decoded JSON object into a rule set (passes.rules_from_dict). */
export function rulesFromDict(data) {
  const obj = object(data, "(root)", [
    "version",
    "timezone",
    "quota",
    "max_out_at_once",
    "exit_hours",
    "max_outside_minutes",
    "temperature",
    "closed",
    "vehicles",
    "count",
  ]);
  const closed = get(obj, "closed", false);
  if (typeof closed !== "boolean") {
    throw new RuleSetError("closed", "not_boolean", "must be true or false");
  }
  const timezone = str(get(obj, "timezone", DEFAULT_TIMEZONE), "timezone");
  // Intl also takes offsets ("+08:00") and any letter case, which zoneinfo does not.
  if (!/^[A-Za-z]/.test(timezone) || !isKnownZone(timezone) || !sameCase(timezone)) {
    throw new RuleSetError(
      "timezone",
      "unknown_timezone",
      `unknown time zone ${JSON.stringify(timezone)}`,
      {
        value: timezone,
      },
    );
  }
  if (!Object.hasOwn(obj, "version")) throw new RuleSetError("version", "required", "is required");
  const version = int(obj.version, "version", 1, 2 ** 31 - 1);
  const parsedQuota = Object.hasOwn(obj, "quota")
    ? quota(obj.quota)
    : Object.freeze({ exits: 1, window: WindowKind.CALENDAR_DAYS, length: 3 });
  const maxOut = int(get(obj, "max_out_at_once", 1), "max_out_at_once", 1, 99);
  const hours = exitHours(get(obj, "exit_hours", null));
  const outside = get(obj, "max_outside_minutes", null);
  const maxOutside = outside === null ? null : int(outside, "max_outside_minutes", 1, 60 * 24 * 30);
  const rules = Object.freeze({
    version,
    timezone,
    quota: parsedQuota,
    max_out_at_once: maxOut,
    exit_hours: hours,
    max_outside_minutes: maxOutside,
    temperature: temperature(get(obj, "temperature", {})),
    closed,
    vehicles: vehicleRules(get(obj, "vehicles", null)),
    count: countKind(get(obj, "count", CountKind.HOUSEHOLDS)),
  });
  PARSED.add(rules);
  return rules;
}

/** Parse and validate rule JSON text (passes.rules_from_json). */
export function rulesFromJson(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new RuleSetError("(json)", "not_json", `not valid JSON: ${error.message}`, {
      line: 1,
      column: 1,
    });
  }
  return rulesFromDict(data);
}

/** The JSON form (RuleSet.to_dict); rulesFromDict inverts it. */
export function rulesToDict(rules) {
  return {
    version: rules.version,
    timezone: rules.timezone,
    quota: rules.quota === null ? null : { ...rules.quota },
    max_out_at_once: rules.max_out_at_once,
    exit_hours:
      rules.exit_hours === null
        ? null
        : { start: rules.exit_hours.start, end: rules.exit_hours.end },
    max_outside_minutes: rules.max_outside_minutes,
    temperature: { ...rules.temperature },
    ...(rules.closed ? { closed: true } : {}),
    ...(rules.vehicles ? { vehicles: vehicleRulesToDict(rules.vehicles) } : {}),
    ...(rules.count !== CountKind.HOUSEHOLDS ? { count: rules.count } : {}),
  };
}

/** ``rules`` as a parsed rule set: one rulesFromDict made, or its JSON object. */
export function asRuleSet(rules) {
  return PARSED.has(rules) ? rules : rulesFromDict(rules);
}

/** Exit hours contain the wall-clock time ``us`` after midnight (end exclusive; start > end
 * crosses midnight). */
export function exitHoursContain(hours, us) {
  if (hours.start_us < hours.end_us) return hours.start_us <= us && us < hours.end_us;
  return us >= hours.start_us || us < hours.end_us;
}
