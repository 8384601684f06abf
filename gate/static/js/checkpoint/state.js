// A household's decision state (passes/state.py): a small frozen value the rules read and
// crossings advance. Times inside are microseconds since the epoch (timefmt.js); the JSON form
// (to/from dict) is the wire's, with ISO 8601 UTC strings.

import { lockFromDict, lockToDict } from "./lockdown.js";
import { WindowKind, asRuleSet, unitsOf } from "./rules.js";
import { DAY_US, HOUR_US, formatUtc, parseUtc } from "./timefmt.js";

export const Direction = Object.freeze({ OUT: "out", IN: "in" });
export const HouseholdStatus = Object.freeze({
  NORMAL: "normal",
  QUARANTINED: "quarantined",
  EXEMPT: "exempt",
});
const STATUSES = new Set(Object.values(HouseholdStatus));
const PARSED = new WeakSet();

const byTime = (a, b) => a - b;

function freezeState(state) {
  const value = Object.freeze({
    ...state,
    out_since: Object.freeze([...state.out_since]),
    exits: Object.freeze([...state.exits]),
    zones: Object.freeze([...(state.zones ?? [])]),
  });
  PARSED.add(value);
  return value;
}

function whole(value, name) {
  const number =
    typeof value === "string" && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isInteger(number)) {
    throw new TypeError(`bad household state: ${name} must be a whole number`);
  }
  return number;
}

function times(items, name) {
  if (!Array.isArray(items)) throw new TypeError(`bad household state: ${name} must be a list`);
  return items
    .map((item) => {
      if (item === null) throw new TypeError("bad household state: null time in list");
      return parseUtc(item);
    })
    .sort(byTime);
}

/** A state from its JSON form (HouseholdState.from_dict); throws on bad data. */
export function householdFromDict(data) {
  if (data === null || typeof data !== "object") throw new TypeError("bad household state");
  if (!Object.hasOwn(data, "household_id"))
    throw new TypeError("bad household state: household_id");
  const get = (key, fallback) => (Object.hasOwn(data, key) ? data[key] : fallback);
  const status = get("status", "normal");
  if (!STATUSES.has(status)) throw new RangeError(`bad household status ${status}`);
  return freezeState({
    household_id: whole(data.household_id, "household_id"),
    generation: whole(get("generation", 1), "generation"),
    status,
    quarantine_until: parseUtc(get("quarantine_until", null)),
    out_since: times(get("out_since", []), "out_since"),
    exits: times(get("exits", []), "exits"),
    zones: zoneLocks(get("zones", [])),
  });
}

function zoneLocks(items) {
  if (!Array.isArray(items)) throw new TypeError("bad household state: zones must be a list");
  return items.map(lockFromDict);
}

/** ``state`` parsed: one householdFromDict made, its JSON object, or null. */
export function asHousehold(state) {
  if (state === null || state === undefined) return null;
  return PARSED.has(state) ? state : householdFromDict(state);
}

/** The JSON form (HouseholdState.to_dict). */
export function householdToDict(state) {
  return {
    household_id: state.household_id,
    generation: state.generation,
    status: state.status,
    quarantine_until: formatUtc(state.quarantine_until),
    out_since: state.out_since.map(formatUtc),
    exits: state.exits.map(formatUtc),
    ...(state.zones.length ? { zones: state.zones.map(lockToDict) } : {}),
  };
}

/** Office-set fields (generation, status, quarantine) from ``bundleState``, who is out and the
 * counted exits from the device's own newer ``localState`` (scanner.bundle.merge_household). */
export function mergeHousehold(bundleState, localState) {
  return freezeState({ ...bundleState, out_since: localState.out_since, exits: localState.exits });
}

/** Quarantine ends by itself at quarantine_until (null: until lifted). */
export function isQuarantined(state, now) {
  if (state.status !== HouseholdStatus.QUARANTINED) return false;
  return state.quarantine_until === null || now < state.quarantine_until;
}

/** Drop exits that can no longer count towards the quota at ``now`` or later. */
export function pruneExits(exits, rules, now) {
  if (rules.quota === null) return [];
  const horizon =
    rules.quota.window === WindowKind.ROLLING_HOURS
      ? now - rules.quota.length * HOUR_US
      : now - (rules.quota.length + 1) * DAY_US; // a day longer than the window, whatever the offset
  return exits.filter((t) => t > horizon);
}

/**
 * The state after a crossing of ``people`` persons at ``at`` (passes.advance), ``at`` in
 * microseconds. Refused crossings change nothing; an allowed exit adds n people out and n
 * quota exits; an allowed entry brings the n longest-out people home (n = unitsOf(rules,
 * people): 1 when the rules count households).
 */
export function advanceAt(state, direction, allowed, at, rules, people = 1) {
  if (!allowed) return state;
  const units = unitsOf(rules, people);
  if (direction === Direction.OUT) {
    const added = new Array(units).fill(at);
    return freezeState({
      ...state,
      out_since: [...state.out_since, ...added].sort(byTime),
      exits: [...pruneExits(state.exits, rules, at), ...added].sort(byTime),
    });
  }
  return freezeState({ ...state, out_since: state.out_since.slice(units) });
}

/**
 * advanceAt for callers outside the decider: ``state`` parsed or its JSON form, ``at`` a Date,
 * an ISO 8601 text, or MILLISECONDS since the epoch (a number, as Date.now() gives), ``rules``
 * parsed or JSON. For a phone that replays its own journal onto a bundle's state.
 */
export function advance(state, direction, allowed, at, rules, people = 1) {
  let us;
  if (at instanceof Date) us = at.getTime() * 1000;
  else if (typeof at === "string") us = parseUtc(at);
  else if (typeof at === "number" && Number.isFinite(at)) us = Math.round(at * 1000);
  else throw new TypeError("at must be a Date, an ISO 8601 text or milliseconds");
  return advanceAt(asHousehold(state), direction, allowed, us, asRuleSet(rules), people);
}
