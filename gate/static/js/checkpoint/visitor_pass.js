// Visitor passes, format VP1 (passes/visitor_pass.py), and the visitor and walk-in decisions
// (passes/visitor_decision.py), for the offline phone gate. ``VP1:`` + 140 Base45 characters
// = 93 bytes:
//
//   offset  size  field
//   0       1     format version, always 0x01 for VP1
//   1       2     key id (u16)
//   3       12    visitor pass id (96 random bits)
//   15      4     community id (u32)
//   19      4     valid from, Unix seconds UTC (u32)
//   23      4     valid until, Unix seconds UTC (u32), inclusive, at most 31 days later
//   27      1     uses: 1 single use, 0 any entries within the window
//   28      1     kind: 1 visitor, 2 delivery, 3 medical, 4 official, 5 other
//   29      64    Ed25519 signature over VISITOR_SIGNING_CONTEXT + bytes 0..28
//
// The decisions' order is the Python module's (see its docstring); tests/js corpus cases
// (corpus_visitors.py) hold both to the same answers.

import { Code, displayOf } from "./codes.js";
import { describe, healthCodes } from "./decide.js";
import { KeyStatus, asKeySet, keyCovers, keyVerifies } from "./keys.js";
import { PassError, concatBytes, openEnvelope, toHex } from "./pass_format.js";
import { asRuleSet } from "./rules.js";
import { Direction } from "./state.js";
import { DAY_US, SECOND_US, toInstant } from "./timefmt.js";

export const VISITOR_VERSION = 1;
export const VISITOR_PREFIX = "VP1:";
export const VISITOR_BODY_LENGTH = 29;
export const VISITOR_TEXT_LENGTH = VISITOR_PREFIX.length + 140;
export const VISITOR_SIGNING_CONTEXT = new TextEncoder().encode("checkpoint/visitor-pass/v1\0");
export const MAX_VISITOR_VALIDITY_US = 31 * DAY_US;
export const VISITOR_KINDS = Object.freeze(["visitor", "delivery", "medical", "official", "other"]);

function visitorRejected(code, detail, fields = null) {
  return Object.freeze({ kind: "rejected", code, detail, fields });
}

/** True iff ``text`` claims to be a visitor pass (has the VP1 prefix); proves nothing. */
export function isVisitorPass(text) {
  return typeof text === "string" && text.startsWith(VISITOR_PREFIX);
}

/** Parse the exact VP1 shape: {fields, body, signature}, nothing verified; throws PassError
 * (bad_format). fields = {key_id, pass_id (hex), community_id, valid_from, valid_until
 * (microseconds), single_use, kind (its stored name)}. */
export function parseVisitorPass(text) {
  const { body, signature } = openEnvelope(text, {
    prefix: VISITOR_PREFIX,
    textLength: VISITOR_TEXT_LENGTH,
    bodyLength: VISITOR_BODY_LENGTH,
    version: VISITOR_VERSION,
  });
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const uses = body[27];
  const kind = VISITOR_KINDS[body[28] - 1];
  if ((uses !== 0 && uses !== 1) || kind === undefined) {
    throw new PassError(Code.BAD_FORMAT, "bad_field");
  }
  const fields = Object.freeze({
    key_id: view.getUint16(1),
    pass_id: toHex(body.slice(3, 15)),
    community_id: view.getUint32(15),
    valid_from: view.getUint32(19) * SECOND_US,
    valid_until: view.getUint32(23) * SECOND_US,
    single_use: uses === 1,
    kind,
  });
  const validity = fields.valid_until - fields.valid_from;
  if (!(validity >= 0 && validity <= MAX_VISITOR_VALIDITY_US)) {
    throw new PassError(Code.BAD_FORMAT, "bad_field");
  }
  return { fields, body, signature };
}

/**
 * Check a presented visitor pass's authenticity; no input makes it throw. First failure wins:
 * bad_format -> unknown_key -> bad_signature -> key_revoked -> key_not_valid ->
 * wrong_community. The window and use are decideVisitor's.
 */
export async function verifyVisitorPass(text, keys, { communityId }) {
  let parsed;
  try {
    parsed = parseVisitorPass(text);
  } catch (error) {
    if (error instanceof PassError) return visitorRejected(error.code, error.detail);
    throw error;
  }
  const { fields, body, signature } = parsed;
  const candidates = asKeySet(keys).candidates(fields.key_id);
  if (candidates.length === 0) return visitorRejected(Code.UNKNOWN_KEY, "unknown_key");
  const message = concatBytes(VISITOR_SIGNING_CONTEXT, body);
  let key = null;
  for (const entry of candidates) {
    if (await keyVerifies(entry, message, signature)) {
      key = entry;
      break;
    }
  }
  if (key === null) return visitorRejected(Code.BAD_SIGNATURE, "bad_signature");
  if (key.status === KeyStatus.REVOKED) {
    return visitorRejected(Code.KEY_REVOKED, "key_revoked", fields);
  }
  if (!keyCovers(key, fields.valid_from)) {
    return visitorRejected(Code.KEY_NOT_VALID, "issued_outside_key_period", fields);
  }
  if (fields.community_id !== communityId) {
    return visitorRejected(Code.WRONG_COMMUNITY, "wrong_community", fields);
  }
  return Object.freeze({ kind: "verified", fields, key });
}

function isTenths(value) {
  return typeof value === "number" && Number.isInteger(value);
}

function verdictJson({ allowed, codes, notes, rules, direction, passId, temperature }) {
  const code = codes.length ? codes[0] : null;
  const reasonOf = (lang) =>
    describe({ allowed, code, notes, nextExit: null, timezone: rules.timezone, lang });
  return {
    allowed,
    display: displayOf(allowed, code),
    code,
    codes,
    notes,
    reason_zh: reasonOf("zh"),
    reason_en: reasonOf("en"),
    next_exit_at: null,
    rule_version: rules.version,
    direction,
    household_id: null,
    pass_id: passId,
    temperature_tenths: isTenths(temperature) ? temperature + 0 : null,
    state_after: null,
    override: null,
    timezone: rules.timezone,
  };
}

function validityCode(check, direction, used, revoked, now) {
  if (check.kind !== "verified") return check.code;
  if (direction === Direction.OUT) return null;
  const fields = check.fields;
  if (revoked.has(fields.pass_id)) return Code.VISITOR_PASS_REVOKED;
  if (now < fields.valid_from) return Code.VISITOR_PASS_NOT_YET_VALID;
  if (now > fields.valid_until) return Code.VISITOR_PASS_EXPIRED;
  if (fields.single_use && used.has(fields.pass_id)) return Code.VISITOR_PASS_USED;
  return null;
}

function idSet(ids) {
  return new Set([...(ids ?? [])].map((id) => String(id).toLowerCase()));
}

/**
 * Decide one crossing with a visitor pass, exactly as passes.decide_visitor. ``presented``:
 * the scanned text or a verifyVisitorPass check; ``usedPassIds`` / ``revokedPassIds``: hex
 * ids (array or Set); ``temperature``: integer tenths or null (anything else: sensor error).
 * Returns the verdict's JSON (as decide's) with ``consumes``: whether recording it uses the
 * pass up (an allowed entry with a single-use pass).
 */
export async function decideVisitor(
  presented,
  { keys, communityId, usedPassIds, revokedPassIds, rules, direction, temperature, now },
) {
  const at = toInstant(now);
  const ruleSet = asRuleSet(rules);
  const check =
    presented !== null && typeof presented === "object" && "kind" in presented
      ? presented
      : await verifyVisitorPass(presented, asKeySet(keys), { communityId });
  const code = validityCode(check, direction, idSet(usedPassIds), idSet(revokedPassIds), at);
  const codes = code !== null ? [code] : healthCodes(temperature, ruleSet);
  const allowed = codes.length === 0;
  const verdict = verdictJson({
    allowed,
    codes,
    notes: allowed && direction === Direction.IN ? [Code.VISITOR] : [],
    rules: ruleSet,
    direction,
    passId: check.fields ? check.fields.pass_id : null,
    temperature,
  });
  const consumes =
    allowed && direction === Direction.IN && check.kind === "verified" && check.fields.single_use;
  return { ...verdict, consumes };
}

/** The verdict for a person without a pass registered at the gate, exactly as
 * passes.decide_walk_in: refused no_pass (turned back) or handed_over (a delivery left at
 * the gate); a temperature, when one was taken (not null), adds its health codes. */
export function decideWalkIn({ handedOver, rules, direction, temperature = null }) {
  const ruleSet = asRuleSet(rules);
  const primary = handedOver ? Code.HANDED_OVER : Code.NO_PASS;
  const health = temperature === null || temperature === undefined ? [] : healthCodes(temperature, ruleSet);
  return verdictJson({
    allowed: false,
    codes: [primary, ...health],
    notes: [],
    rules: ruleSet,
    direction,
    passId: null,
    temperature,
  });
}
