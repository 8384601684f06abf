// The offline decision a gate makes with its bundle, as the Python scanner makes it
// (scanner/deciding.py decide_offline, Decider.override and Decider.unlock):
//
// - no bundle: refused ``no_bundle``;
// - a time before the bundle's server time (beyond 2 min), or a failed clock check: refused
//   ``clock_fault``, unless a supervisor card unlocked the device (then noted);
// - an override made with a supervisor card: the card is checked against the bundle first (a
//   bad one refuses with its own code);
// - otherwise decide() with the bundle's keys, rules, revoked ids and the household's state
//   (the bundle's, with who is out and the counted exits taken from the device's own newer
//   crossings when ``localHousehold`` knows them); a rotating screen code is checked against
//   the bundle's active passes and decided as the pass it stands for;
// - a visitor pass (VP1) is decided by decideVisitor with the bundle's used and revoked ids,
//   plus an entry this device made with the same pass (``localVisitorUse``);
// - degraded mode: a bundle fetched more than ``maxBundleAgeMs`` (24 h) ago turns an allowed
//   verdict into ``stale_bundle`` unless a supervisor override is given or the device is
//   unlocked (then it is allowed, noted stale_bundle and override).
//
// readBundle (bundle_read.js) is exported here too: bundle.js is the phone gate's one import.

import { Code, OVERRIDE_REFUSAL_CODES, REASONS, displayOf } from "./codes.js";
import { decide } from "./decide.js";
import { PassError, parsePass } from "./pass_format.js";
import { DEFAULT_TIMEZONE } from "./rules.js";
import { isScreenCode, parseScreenCode, screenPassCheck, verifyScreenCode } from "./screen_code.js";
import { asHousehold, mergeHousehold } from "./state.js";
import { cardStanding, parseSupervisorCard, verifySupervisorCard } from "./supervisor_card.js";
import { HOUR_US, MINUTE_US, formatUtc, toInstant } from "./timefmt.js";
import { decideVisitor, isVisitorPass, verifyVisitorPass } from "./visitor_pass.js";
import { decideVehicle, isVehiclePass, verifyVehiclePass } from "./vehicle_pass.js";

export { BUNDLE_FORMAT, BundleError, readBundle } from "./bundle_read.js";

/** Scanner-side refusals the core does not make, with their reasons [zh, en]. */
export const NO_BUNDLE = "no_bundle";
export const SCANNER_REASONS = Object.freeze({
  stale_bundle: REASONS.stale_bundle,
  no_bundle: ["设备无离线数据，无法判断", "No offline data on this device"],
  clock_fault: REASONS.clock_fault,
  ...Object.fromEntries([...OVERRIDE_REFUSAL_CODES].map((code) => [code, REASONS[code]])),
});
/** Longest a supervisor card's unlock lasts (a successful bundle refresh ends it sooner). */
export const UNLOCK_FOR_MS = 12 * 3_600_000;
/** How far before the bundle's server time a scan may be before it is a clock fault. */
export const CLOCK_TOLERANCE_US = 2 * MINUTE_US;
/** The scanner's default limit on a bundle's age before offline allows need a supervisor. */
export const DEFAULT_MAX_BUNDLE_AGE_MS = (24 * HOUR_US) / 1000;

/** The offline household label: the household's code from the bundle (``3-2-401``, printed on
 * its card), else an opaque number (no personal data on the device). */
export function householdLabel(bundle, householdId) {
  if (householdId === null || householdId === undefined) return null;
  const code = bundle?.household_codes?.get(householdId);
  return code || `住户 #${householdId}`;
}

function swallowPassError(read) {
  try {
    return read();
  } catch (error) {
    if (error instanceof PassError) return null;
    throw error;
  }
}

/** The household a pass (or, with a bundle, a screen code) names; never verified. */
function householdIdOf(text, bundle) {
  if (isScreenCode(text)) {
    const passId = swallowPassError(() => parseScreenCode(text).fields.pass_id_hex);
    const issued = passId === null ? undefined : bundle?.passes?.get(passId);
    return issued === undefined ? null : issued.household_id;
  }
  return swallowPassError(() => parsePass(text).fields.household_id);
}

/** What decide() takes for a scanned text: a screen code checked against the bundle's active
 * passes (exactly like the pass it stands for), or the pass text itself. */
async function presentedCheck(text, bundle, at) {
  if (!isScreenCode(text)) return text;
  const screen = await verifyScreenCode(text, bundle.keys, at);
  const issued =
    screen.kind === "rejected" ? null : (bundle.passes?.get(screen.fields.pass_id_hex) ?? null);
  return screenPassCheck(screen, issued, bundle.keys, {
    communityId: bundle.community.id,
    now: at,
  });
}

/** A supervisor card checked offline against ``bundle`` at ``at`` (microseconds): the card, or
 * a rejection with its code (scanner.deciding.card_check). */
export async function checkCard(text, bundle, at) {
  const check = await verifySupervisorCard(text, bundle.keys, {
    communityId: bundle.community.id,
    now: at,
  });
  return cardStanding(check, {
    known: bundle.supervisor_cards ?? new Map(),
    revoked: bundle.revoked_card_ids ?? new Set(),
  });
}

/** The override a supervisor card makes (scanner.deciding.Decider.override): the supervisor
 * as the device knows it (the card's short number), the reason (1-500 characters once
 * trimmed) and the card text, which the server verifies again on upload. */
export function cardOverride(cardText, reason) {
  const text = typeof reason === "string" ? reason.trim() : "";
  if (!text || [...text].length > 500) {
    throw new RangeError("an override needs a reason of 1 to 500 characters");
  }
  const cardId = swallowPassError(() => parseSupervisorCard(cardText).fields.card_id);
  const supervisor = cardId === null ? "主管卡" : `主管卡 ${cardId.slice(0, 8).toUpperCase()}`;
  return Object.freeze({ supervisor, reason: text, card: cardText });
}

async function householdState(bundle, householdId, localHousehold) {
  const base = bundle.households.get(householdId);
  if (base === undefined) return null;
  const mine = localHousehold
    ? asHousehold(await localHousehold(householdId, Math.floor(bundle.generated_at_us / 1000)))
    : null;
  return mine === null ? base : mergeHousehold(base, mine);
}

function isTenths(value) {
  return typeof value === "number" && Number.isInteger(value);
}

function scannerRefusal(
  bundle,
  code,
  { direction, temperature, householdId, ruleVersion, degraded = false, labelled = true },
) {
  const [zh, en] = SCANNER_REASONS[code];
  return {
    allowed: false,
    display: "refuse",
    code,
    codes: [code],
    notes: [],
    reason_zh: zh,
    reason_en: en,
    next_exit_at: null,
    rule_version: ruleVersion,
    direction,
    household_id: householdId,
    pass_id: null,
    temperature_tenths: isTenths(temperature) ? temperature + 0 : null,
    state_after: null,
    override: null,
    timezone: bundle === null ? DEFAULT_TIMEZONE : bundle.community.timezone,
    household_label: householdLabel(labelled ? bundle : null, householdId),
    offline: true,
    degraded,
  };
}

/** A visitor pass decided offline (scanner.deciding._visitor_verdict): the bundle's used and
 * revoked ids, plus an entry this device made with the same pass. */
async function visitorVerdict(bundle, text, { direction, temperature, at, localVisitorUse }) {
  const communityId = bundle.community.id;
  const check = await verifyVisitorPass(text, bundle.keys, { communityId });
  const used = new Set(bundle.used_visitor_pass_ids ?? []);
  if (check.kind === "verified" && check.fields.single_use && localVisitorUse) {
    if (await localVisitorUse(text)) used.add(check.fields.pass_id);
  }
  const { consumes: _consumes, ...verdict } = await decideVisitor(check, {
    keys: bundle.keys,
    communityId,
    usedPassIds: used,
    revokedPassIds: bundle.revoked_pass_ids,
    rules: bundle.rules,
    direction,
    temperature,
    now: formatUtc(at),
  });
  return verdict;
}

/** A car's vehicle pass decided offline (scanner.vehicles.vehicle_verdict): its household's
 * state read for quarantine and 全封闭, never moved (state_after null); a typed plate must be
 * the pass's. The verdict carries the car's ``plate``. */
async function vehicleVerdict(bundle, text, { direction, at, localHousehold, typedPlate }) {
  const communityId = bundle.community.id;
  const check = await verifyVehiclePass(text, bundle.keys, { communityId, now: at });
  const household =
    check.kind === "verified"
      ? await householdState(bundle, check.fields.household_id, localHousehold)
      : null;
  const { outside: _outside, ...verdict } = await decideVehicle(check, {
    typedPlate,
    keys: bundle.keys,
    communityId,
    household,
    revokedPassIds: bundle.revoked_pass_ids,
    rules: bundle.rules,
    direction,
    now: formatUtc(at),
  });
  return { ...verdict, state_after: null };
}

/**
 * Decide a scanned ``text`` offline with ``bundle`` (readBundle's result), as the Python scanner
 * does (scanner.deciding.decide_offline; module doc). Options:
 *
 * - ``direction`` ("out"/"in"), ``temperature`` (integer tenths or null);
 * - ``now``: a Date, an ISO 8601 text or epoch seconds;
 * - ``override``: null, {supervisor, reason}, or cardOverride(cardText, reason): a card is
 *   checked against the bundle first, and a bad one refuses with its own code
 *   (supervisor_card_invalid / _expired / _revoked);
 * - ``people``: how many persons cross on the pass (default 1; decide's ``people``);
 * - ``maxBundleAgeMs`` (default 24 h);
 * - ``localHousehold`` (optional, async or not): (householdId, sinceMs) -> the device's own
 *   state of that household after its crossings since the bundle was generated (``sinceMs``:
 *   generated_at in milliseconds), parsed (advance's result) or in HouseholdState JSON form,
 *   or null;
 * - ``unlocked``: a supervisor card unlocked the device (unlockWithCard): a stale bundle or a
 *   clock fault no longer refuses, the crossing is noted instead;
 * - ``localVisitorUse`` (optional, async or not): (text) -> whether this device already let
 *   someone in with exactly this visitor pass (its journal): a single-use one is then used;
 * - ``typedPlate``: the plate typed with a car's vehicle pass (VH1), or null;
 * - ``clockFault``: the device's own clock check failed (a clock behind the newest time it
 *   has seen); refused clock_fault unless unlocked.
 *
 * Returns decide()'s verdict object plus ``household_label``, ``offline`` (true) and
 * ``degraded`` (the bundle was older than its limit).
 */
export async function decideFromBundle(
  bundle,
  text,
  {
    direction,
    temperature = null,
    now,
    override = null,
    people = 1,
    maxBundleAgeMs = DEFAULT_MAX_BUNDLE_AGE_MS,
    localHousehold = null,
    unlocked = false,
    clockFault = false,
    localVisitorUse = null,
    typedPlate = null,
  },
) {
  const at = toInstant(now);
  if (bundle === null || bundle === undefined) {
    return scannerRefusal(null, NO_BUNDLE, {
      direction,
      temperature,
      householdId: null,
      ruleVersion: 0,
    });
  }
  const householdId = householdIdOf(text, bundle);
  const refusal = (code, values = {}) =>
    scannerRefusal(bundle, code, {
      direction,
      temperature,
      householdId,
      ruleVersion: bundle.rules.version,
      ...values,
    });
  const faulty = clockFault || at < bundle.generated_at_us - CLOCK_TOLERANCE_US;
  if (faulty && !unlocked) return refusal(Code.CLOCK_FAULT); // a bundle age below zero
  if (override?.card !== null && override?.card !== undefined) {
    const card = await checkCard(override.card, bundle, at);
    if (card.kind === "rejected") return refusal(card.code); // recorded, refused with its code
  }
  const household =
    householdId === null ? null : await householdState(bundle, householdId, localHousehold);
  const verdict = isVisitorPass(text)
    ? await visitorVerdict(bundle, text, { direction, temperature, at, localVisitorUse })
    : isVehiclePass(text)
      ? await vehicleVerdict(bundle, text, { direction, at, localHousehold, typedPlate })
      : await decide(await presentedCheck(text, bundle, at), {
          keys: bundle.keys,
          communityId: bundle.community.id,
          household,
          revokedPassIds: bundle.revoked_pass_ids,
          rules: bundle.rules,
          direction,
          temperature,
          now: formatUtc(at),
          override,
          people,
        });
  const degraded = Math.max(at - bundle.fetched_at_us, 0) > maxBundleAgeMs * 1000;
  if (degraded && verdict.allowed && (override === null || override === undefined) && !unlocked) {
    return refusal(Code.STALE_BUNDLE, { householdId: verdict.household_id, degraded: true });
  }
  let notes = verdict.notes;
  if (degraded && verdict.allowed) {
    // allowed in degraded mode only by a supervisor
    notes = notes.includes(Code.OVERRIDE)
      ? [...notes, Code.STALE_BUNDLE]
      : [...notes, Code.STALE_BUNDLE, Code.OVERRIDE];
  }
  if (faulty && verdict.allowed) {
    // let through on a card's unlock, the clock in doubt
    notes = [
      ...(notes.includes(Code.OVERRIDE) ? notes : [...notes, Code.OVERRIDE]),
      Code.CLOCK_FAULT,
    ];
  }
  return {
    ...verdict,
    display: displayOf(verdict.allowed, verdict.code),
    notes,
    household_label: householdLabel(bundle, verdict.household_id),
    offline: true,
    degraded,
  };
}

/**
 * Unlock the clock-fault and stale-bundle refusals with a supervisor card
 * (scanner.deciding.Decider.unlock): null when the card counts (signature, not expired,
 * issued, not revoked, checked against ``bundle``), else a refusal with the card's code
 * (no_bundle without a bundle). ``clockFault``: the device clock failed its check, so the
 * card is dated by the bundle's server time instead of ``now``. The caller keeps the unlock
 * until its next successful bundle refresh, or 12 hours (UNLOCK_FOR_MS) at most.
 */
export async function unlockWithCard(bundle, cardText, { now, clockFault = false }) {
  const at = toInstant(now);
  const refusal = (code, ruleVersion) =>
    scannerRefusal(bundle ?? null, code, {
      direction: "out",
      temperature: null,
      householdId: null,
      ruleVersion,
    });
  if (bundle === null || bundle === undefined) return refusal(NO_BUNDLE, 0);
  const when = clockFault ? bundle.generated_at_us : Math.max(bundle.generated_at_us, at);
  const check = await checkCard(cardText, bundle, when);
  return check.kind === "rejected" ? refusal(check.code, bundle.rules.version) : null;
}
