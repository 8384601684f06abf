// The one decision (passes/decision.py), in JavaScript for the offline phone gate. It must give
// exactly the verdicts of passes.decide: tests/js/corpus/decide_cases.json holds cases made by
// the Python function, and tests/js/test_decider_corpus.py runs this module over all of them
// in Node and in Chromium. Change passes/ and this module together.
//
// Order of evaluation (as in Python):
// 1. pass validity (verification.js), then revoked, unknown_household, superseded; the first
//    failure stops evaluation;
// 2. health: sensor_error, no_temperature, fever;
// 3. household rules, exits only: quarantined, outside_hours, already_out, quota.
// Steps 2-3 collect every failing code; the first is the primary code. A supervisor override
// turns a 2-3 refusal into an allowed crossing (keeping its codes) except sensor_error and
// no_temperature; step 1 refusals cannot be overridden.

import { Code, REMEASURE_CODES, UNTIL_CODES, displayOf, reason } from "./codes.js";
import { asKeySet } from "./keys.js";
import { SEALED_CODES, sealingLock } from "./lockdown.js";
import { toHex } from "./pass_format.js";
import { asRuleSet, unitsOf } from "./rules.js";
import {
  countedExits,
  lastDayCovered,
  nextExitAt,
  overdueSince,
  withinExitHours,
} from "./schedule.js";
import {
  Direction,
  HouseholdStatus,
  advanceAt,
  asHousehold,
  householdToDict,
  isQuarantined,
} from "./state.js";
import { DAY_US, formatUtc, toInstant } from "./timefmt.js";
import { verifyPass } from "./verification.js";
import { monthDay, monthDayTime } from "./zone.js";

const TIMED_CODES = new Set([Code.QUOTA, Code.OUTSIDE_HOURS, ...UNTIL_CODES]);
/** Most persons one crossing may carry (passes.MAX_PEOPLE). */
export const MAX_PEOPLE = 20;

/**
 * The one-line reason for a verdict from its stored facts (passes.describe). ``nextExit`` is
 * microseconds or null; ``lang`` "zh" or "en".
 */
export function describe({ allowed, code, notes, nextExit, timezone, lang = "zh" }) {
  if (allowed) {
    if (notes.includes(Code.OVERRIDE)) return reason(Code.OVERRIDE, lang);
    if (notes.length) return reason(notes[0], lang);
    return lang === "zh" ? "准予通行" : "Allowed";
  }
  if (code === null || code === undefined) throw new RangeError("a refusal needs a code");
  let when = null;
  if (nextExit !== null && UNTIL_CODES.has(code)) {
    when = monthDay(lastDayCovered(nextExit, { timezone }) * DAY_US);
  } else if (nextExit !== null && TIMED_CODES.has(code)) {
    when = monthDayTime(timezone, nextExit);
  }
  return reason(code, lang, when);
}

/** A supervisor override: {supervisor, reason}, both non-blank (passes.Override). */
export function checkOverride(override) {
  if (override === null || override === undefined) return null;
  const { supervisor, reason: why } = override;
  if (
    typeof supervisor !== "string" ||
    typeof why !== "string" ||
    !supervisor.trim() ||
    !why.trim()
  ) {
    throw new TypeError("an override needs the supervisor's name and a reason");
  }
  return Object.freeze({ supervisor, reason: why });
}

function hexSet(ids) {
  const out = new Set();
  for (const id of ids ?? []) out.add(typeof id === "string" ? id.toLowerCase() : toHex(id));
  return out;
}

function isTenths(value) {
  return typeof value === "number" && Number.isInteger(value);
}

export function healthCodes(temperature, rules) {
  const limits = rules.temperature;
  if (temperature === null || temperature === undefined)
    return limits.required ? [Code.NO_TEMPERATURE] : [];
  if (!isTenths(temperature)) return [Code.SENSOR_ERROR];
  if (!(limits.plausible_min_tenths <= temperature && temperature <= limits.plausible_max_tenths)) {
    return [Code.SENSOR_ERROR];
  }
  return temperature >= limits.fever_threshold_tenths ? [Code.FEVER] : [];
}

function exitCodes(household, rules, now, units) {
  const codes = [];
  const seal = sealingLock(household.zones, now);
  if (seal !== null) codes.push(SEALED_CODES[seal.scope]);
  if (rules.closed && household.status !== HouseholdStatus.EXEMPT) codes.push(Code.EXITS_CLOSED);
  if (isQuarantined(household, now)) codes.push(Code.QUARANTINED);
  if (!withinExitHours(rules, now)) codes.push(Code.OUTSIDE_HOURS);
  if (household.out_since.length + units > rules.max_out_at_once) codes.push(Code.ALREADY_OUT);
  const quota = rules.quota;
  if (
    quota !== null &&
    household.status !== HouseholdStatus.EXEMPT &&
    countedExits(household, rules, now).length + units > quota.exits
  ) {
    codes.push(Code.QUOTA);
  }
  return codes;
}

/** Whether the person an entry brings home (the longest out) was out past the limit. */
function returnsLate(household, rules, now) {
  const late = overdueSince(household, rules, now);
  return late.length > 0 && late[0] === household.out_since[0];
}

function passRefusal(check, household, revoked) {
  if (check.kind !== "verified") return check.code;
  if (revoked.has(check.fields.pass_id_hex)) return Code.REVOKED;
  if (household === null || household.household_id !== check.fields.household_id) {
    return Code.UNKNOWN_HOUSEHOLD;
  }
  if (check.fields.generation !== household.generation) return Code.SUPERSEDED;
  return null;
}

function verdictJson(v) {
  const reasonOf = (lang) =>
    describe({
      allowed: v.allowed,
      code: v.code,
      notes: v.notes,
      nextExit: v.nextExitAt,
      timezone: v.rules.timezone,
      lang,
    });
  return {
    allowed: v.allowed,
    display: displayOf(v.allowed, v.code),
    code: v.code,
    codes: v.codes,
    notes: v.notes,
    reason_zh: reasonOf("zh"),
    reason_en: reasonOf("en"),
    next_exit_at: formatUtc(v.nextExitAt),
    rule_version: v.rules.version,
    direction: v.direction,
    household_id: v.fields === null ? null : v.fields.household_id,
    pass_id: v.fields === null ? null : v.fields.pass_id_hex,
    temperature_tenths: isTenths(v.temperature) ? v.temperature + 0 : null,
    state_after: v.stateAfter === null ? null : householdToDict(v.stateAfter),
    override:
      v.override === null ? null : { supervisor: v.override.supervisor, reason: v.override.reason },
    timezone: v.rules.timezone,
  };
}

/**
 * Decide one crossing, exactly as passes.decide. Pure: everything it knows comes in here.
 *
 * - ``presented``: the scanned text, or a check from verifyPass / screenPassCheck.
 * - ``keys``: the key set (keySetFromList) or its JSON list; ``communityId``: a number.
 * - ``household``: the state of the pass's household (householdFromDict or its JSON form), or
 *   null when unknown; ``revokedPassIds``: hex pass ids (array or Set) or Uint8Arrays.
 * - ``rules``: a rule set (rulesFromDict) or its JSON object.
 * - ``direction``: "out" or "in".
 * - ``temperature``: integer tenths of a degree Celsius, or null; anything else (a fraction,
 *   NaN, a string, a boolean) is a sensor error and never allowed.
 * - ``now``: a JS Date, an ISO 8601 text with its zone (to the microsecond, as the wire
 *   writes times), or epoch SECONDS as a number.
 * - ``override``: null or {supervisor, reason}, both non-blank.
 * - ``people``: how many persons cross (1 to MAX_PEOPLE, default 1); it counts only when the
 *   rules count people (``count: "people"``).
 *
 * Returns a plain object: the wire verdict (allowed, display, code, codes, notes, reason_zh,
 * reason_en, next_exit_at, rule_version) and the rest of passes.Verdict in JSON form
 * (direction, household_id, pass_id as hex, temperature_tenths, state_after as the
 * HouseholdState JSON, override, timezone). Times are ISO 8601 UTC strings.
 */
export async function decide(
  presented,
  {
    keys,
    communityId,
    household,
    revokedPassIds,
    rules,
    direction,
    temperature,
    now,
    override = null,
    people = 1,
  },
) {
  if (!Number.isInteger(people) || people < 1 || people > MAX_PEOPLE) {
    throw new RangeError(`people must be a whole number from 1 to ${MAX_PEOPLE}`);
  }
  const at = toInstant(now);
  const ruleSet = asRuleSet(rules);
  const state = asHousehold(household);
  const overrideValue = checkOverride(override);
  if (direction !== Direction.OUT && direction !== Direction.IN)
    throw new RangeError("direction must be 'out' or 'in'");
  const check =
    presented !== null && typeof presented === "object" && "kind" in presented
      ? presented
      : await verifyPass(presented, asKeySet(keys), { communityId, now: at });
  const refusal = passRefusal(check, state, hexSet(revokedPassIds));
  if (refusal !== null || state === null || check.kind !== "verified") {
    const code = refusal ?? Code.UNKNOWN_HOUSEHOLD;
    return verdictJson({
      allowed: false,
      direction,
      code,
      codes: [code],
      notes: [],
      rules: ruleSet,
      nextExitAt: null,
      fields: check.fields ?? null,
      temperature,
      stateAfter: state,
      override: null,
    });
  }
  const codes = [...healthCodes(temperature, ruleSet)];
  const units = unitsOf(ruleSet, people);
  if (direction === Direction.OUT) codes.push(...exitCodes(state, ruleSet, at, units));
  const notes = [];
  let allowed = codes.length === 0;
  if (codes.length && overrideValue !== null && !codes.some((code) => REMEASURE_CODES.has(code))) {
    allowed = true;
    notes.push(Code.OVERRIDE);
  }
  if (allowed && direction === Direction.IN && state.out_since.length === 0) {
    notes.push(Code.ENTRY_WITHOUT_EXIT);
  }
  if (allowed && direction === Direction.IN && returnsLate(state, ruleSet, at)) {
    notes.push(Code.RETURNED_LATE);
  }
  const stateAfter = advanceAt(state, direction, allowed, at, ruleSet, people);
  return verdictJson({
    allowed,
    direction,
    code: codes.length ? codes[0] : null,
    codes,
    notes,
    rules: ruleSet,
    nextExitAt: nextExitAt(stateAfter, ruleSet, at, people),
    fields: check.fields,
    temperature,
    stateAfter,
    override: notes.includes(Code.OVERRIDE) ? overrideValue : null,
  });
}
