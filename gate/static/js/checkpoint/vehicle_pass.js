// Vehicle passes, format VH1 (passes/vehicle_pass.py), and the car decision
// (passes/vehicle_decision.py), for the offline phone gate. ``VH1:`` + 167 Base45 characters
// = 111 bytes:
//
//   offset  size  field
//   0       1     format version, always 0x01 for VH1
//   1       2     key id (u16)
//   3       12    vehicle pass id (96 random bits)
//   15      4     community id (u32)
//   19      4     household id (u32)
//   23      4     issued at, Unix seconds UTC (u32): valid from
//   27      4     valid until, Unix seconds UTC (u32), inclusive, at most 400 days after
//   31      16    plate, normalised, UTF-8, NUL-padded
//   47      64    Ed25519 signature over VEHICLE_SIGNING_CONTEXT + bytes 0..46
//
// The decision's order is the Python module's (see its docstring); tests/js corpus cases
// (corpus_vehicles.py) hold both to the same answers.

import { Code, displayOf } from "./codes.js";
import { describe } from "./decide.js";
import { KeyStatus, asKeySet, keyCovers, keyVerifies } from "./keys.js";
import { PassError, concatBytes, openEnvelope, toHex } from "./pass_format.js";
import { PlateError, parsePlate } from "./plates.js";
import { asRuleSet } from "./rules.js";
import { Direction, HouseholdStatus, asHousehold, householdToDict, isQuarantined } from "./state.js";
import { DAY_US, SECOND_US, formatUtc, toInstant } from "./timefmt.js";

export const VEHICLE_VERSION = 1;
export const VEHICLE_PREFIX = "VH1:";
export const VEHICLE_BODY_LENGTH = 47;
export const VEHICLE_TEXT_LENGTH = VEHICLE_PREFIX.length + 167;
export const VEHICLE_SIGNING_CONTEXT = new TextEncoder().encode("checkpoint/vehicle-pass/v1\0");
export const MAX_VEHICLE_VALIDITY_US = 400 * DAY_US;

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function vehicleRejected(code, detail, fields = null) {
  return Object.freeze({ kind: "rejected", code, detail, fields });
}

/** True iff ``text`` claims to be a vehicle pass (has the VH1 prefix); proves nothing. */
export function isVehiclePass(text) {
  return typeof text === "string" && text.startsWith(VEHICLE_PREFIX);
}

/** Parse the exact VH1 shape: {fields, body, signature}, nothing verified; throws PassError
 * (bad_format). fields = {key_id, pass_id (hex), community_id, household_id, issued_at,
 * valid_until (microseconds), plate}. */
export function parseVehiclePass(text) {
  const { body, signature } = openEnvelope(text, {
    prefix: VEHICLE_PREFIX,
    textLength: VEHICLE_TEXT_LENGTH,
    bodyLength: VEHICLE_BODY_LENGTH,
    version: VEHICLE_VERSION,
  });
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let end = 47;
  while (end > 31 && body[end - 1] === 0) end -= 1;
  const raw = body.slice(31, end);
  let plate;
  try {
    if (raw.includes(0)) throw new PassError(Code.BAD_FORMAT, "bad_field");
    plate = UTF8.decode(raw);
    if (parsePlate(plate).text !== plate) throw new PassError(Code.BAD_FORMAT, "bad_field");
  } catch (error) {
    if (error instanceof PassError || error instanceof PlateError || error instanceof TypeError) {
      throw new PassError(Code.BAD_FORMAT, "bad_field");
    }
    throw error;
  }
  const fields = Object.freeze({
    key_id: view.getUint16(1),
    pass_id: toHex(body.slice(3, 15)),
    community_id: view.getUint32(15),
    household_id: view.getUint32(19),
    issued_at: view.getUint32(23) * SECOND_US,
    valid_until: view.getUint32(27) * SECOND_US,
    plate,
  });
  const validity = fields.valid_until - fields.issued_at;
  if (!(validity >= 0 && validity <= MAX_VEHICLE_VALIDITY_US)) {
    throw new PassError(Code.BAD_FORMAT, "bad_field");
  }
  return { fields, body, signature };
}

/**
 * Check a presented vehicle pass at ``now`` (microseconds); no input makes it throw. First
 * failure wins: bad_format -> unknown_key -> bad_signature -> key_revoked -> key_not_valid ->
 * wrong_community -> not_yet_valid -> expired.
 */
export async function verifyVehiclePass(text, keys, { communityId, now }) {
  let parsed;
  try {
    parsed = parseVehiclePass(text);
  } catch (error) {
    if (error instanceof PassError) return vehicleRejected(error.code, error.detail);
    throw error;
  }
  const { fields, body, signature } = parsed;
  const candidates = asKeySet(keys).candidates(fields.key_id);
  if (candidates.length === 0) return vehicleRejected(Code.UNKNOWN_KEY, "unknown_key");
  const message = concatBytes(VEHICLE_SIGNING_CONTEXT, body);
  let key = null;
  for (const entry of candidates) {
    if (await keyVerifies(entry, message, signature)) {
      key = entry;
      break;
    }
  }
  if (key === null) return vehicleRejected(Code.BAD_SIGNATURE, "bad_signature");
  if (key.status === KeyStatus.REVOKED) {
    return vehicleRejected(Code.KEY_REVOKED, "key_revoked", fields);
  }
  if (!keyCovers(key, fields.issued_at)) {
    return vehicleRejected(Code.KEY_NOT_VALID, "issued_outside_key_period", fields);
  }
  if (fields.community_id !== communityId) {
    return vehicleRejected(Code.WRONG_COMMUNITY, "wrong_community", fields);
  }
  if (now < fields.issued_at) return vehicleRejected(Code.NOT_YET_VALID, "not_yet_valid", fields);
  if (now > fields.valid_until) return vehicleRejected(Code.EXPIRED, "expired", fields);
  return Object.freeze({ kind: "verified", fields, key });
}

function plateOrNull(text) {
  if (text === null || text === undefined) return null;
  try {
    return parsePlate(text);
  } catch (error) {
    if (error instanceof PlateError) return null;
    throw error;
  }
}

function outsideOf(plate, rules) {
  if (plate === null || rules.vehicles === null || rules.vehicles === undefined) return null;
  return !rules.vehicles.local_prefixes.some((prefix) => plate.startsWith(prefix));
}

function decisionJson({ allowed, codes, notes, rules, direction, household, fields, nextExit }) {
  const code = codes.length ? codes[0] : null;
  const reasonOf = (lang) =>
    describe({ allowed, code, notes, nextExit, timezone: rules.timezone, lang });
  return {
    allowed,
    display: displayOf(allowed, code),
    code,
    codes,
    notes,
    reason_zh: reasonOf("zh"),
    reason_en: reasonOf("en"),
    next_exit_at: formatUtc(nextExit),
    rule_version: rules.version,
    direction,
    household_id: fields === null ? null : fields.household_id,
    pass_id: fields === null ? null : fields.pass_id,
    temperature_tenths: null,
    state_after: household === null ? null : householdToDict(household),
    override: null,
    timezone: rules.timezone,
  };
}

/**
 * Decide one car with a vehicle pass, exactly as passes.decide_vehicle. ``presented``: the
 * scanned text or a verifyVehiclePass check; ``typedPlate``: what was typed, or null;
 * ``household``: the state of the pass's household (JSON or parsed) or null;
 * ``revokedPassIds``: hex ids (array or Set). Returns the verdict's JSON (as decide's) with
 * ``plate`` (normalised, or null) and ``outside`` (true, false, or null: no rule says).
 */
export async function decideVehicle(
  presented,
  { typedPlate = null, keys, communityId, household, revokedPassIds, rules, direction, now },
) {
  const at = toInstant(now);
  const ruleSet = asRuleSet(rules);
  const state = household === null || household === undefined ? null : asHousehold(household);
  const check =
    presented !== null && typeof presented === "object" && "kind" in presented
      ? presented
      : await verifyVehiclePass(presented, asKeySet(keys), { communityId, now: at });
  const revoked = new Set(revokedPassIds ?? []);
  const fields = check.fields ?? null;
  const typed = plateOrNull(typedPlate);
  const codes = [];
  let nextExit = null;
  if (check.kind !== "verified") {
    codes.push(check.code);
  } else if (revoked.has(fields.pass_id)) {
    codes.push(Code.REVOKED);
  } else if (state === null || state.household_id !== fields.household_id) {
    codes.push(Code.UNKNOWN_HOUSEHOLD);
  } else if (typedPlate !== null && typedPlate !== undefined && typed === null) {
    codes.push(Code.PLATE_INVALID);
  } else if (typed !== null && typed.text !== fields.plate) {
    codes.push(Code.PLATE_MISMATCH);
  } else if (direction === Direction.OUT) {
    if (ruleSet.closed && state.status !== HouseholdStatus.EXEMPT) codes.push(Code.EXITS_CLOSED);
    if (isQuarantined(state, at)) {
      codes.push(Code.QUARANTINED);
      nextExit = state.quarantine_until;
    }
  }
  const allowed = codes.length === 0;
  const plate = typed !== null ? typed.text : fields !== null ? fields.plate : null;
  const matched =
    fields !== null && state !== null && state.household_id === fields.household_id
      ? state
      : null;
  const verdict = decisionJson({
    allowed,
    codes,
    notes: allowed ? [Code.VEHICLE_PASS] : [],
    rules: ruleSet,
    direction,
    household: matched,
    fields,
    nextExit,
  });
  return { ...verdict, plate, outside: outsideOf(plate, ruleSet) };
}

/** Decide one car by its typed plate alone, exactly as passes.decide_plate: the verdict's
 * JSON with ``plate`` and ``outside``, as decideVehicle. */
export function decidePlate({ plate, rules, direction }) {
  const ruleSet = asRuleSet(rules);
  const checked = plateOrNull(plate);
  const base = { rules: ruleSet, direction, household: null, fields: null, nextExit: null };
  if (checked === null) {
    const verdict = decisionJson({ ...base, allowed: false, codes: [Code.PLATE_INVALID], notes: [] });
    return { ...verdict, plate: null, outside: null };
  }
  const outside = outsideOf(checked.text, ruleSet);
  const vehicles = ruleSet.vehicles ?? null;
  let code = null;
  if (direction === Direction.IN && vehicles !== null) {
    if (outside && vehicles.outside === "refuse") code = Code.OUTSIDE_PLATE;
    else if (!outside && vehicles.local === "refuse") code = Code.VEHICLE_PASS_REQUIRED;
  }
  const note = outside ? Code.OUTSIDE_PLATE_REGISTERED : Code.PLATE_REGISTERED;
  const verdict = decisionJson({
    ...base,
    allowed: code === null,
    codes: code === null ? [] : [code],
    notes: code === null ? [note] : [],
  });
  return { ...verdict, plate: checked.text, outside };
}
