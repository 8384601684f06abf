// Rotating screen codes, format CS1 (passes/screen_code.py): ``CS1:`` + 134 Base45 characters
// = 89 bytes:
//
//   offset  size  field
//   0       1     format version, always 0x01 for CS1
//   1       2     key id (u16): the community key that signed this code
//   3       12    pass id: the issued pass this code stands for
//   15      2     generation (u16) of that pass
//   17      4     valid from, Unix seconds UTC (u32)
//   21      4     valid until, Unix seconds UTC (u32), inclusive, at most 15 min after
//   25      64    Ed25519 signature over SCREEN_SIGNING_CONTEXT + bytes 0..24
//
// The gate verifies the code (verifyScreenCode), looks up the pass it names, checks that pass
// (screenPassCheck) and hands the check to decide() like a scanned pass.

import { Code } from "./codes.js";
import { KeyStatus, asKeySet, keyCovers, keyVerifies } from "./keys.js";
import { PassError, concatBytes, fromHex, openEnvelope, toHex } from "./pass_format.js";
import { SECOND_US, parseUtc } from "./timefmt.js";
import { rejected, verified } from "./verification.js";

export const SCREEN_VERSION = 1;
export const SCREEN_PREFIX = "CS1:";
export const SCREEN_BODY_LENGTH = 25;
export const SCREEN_TEXT_LENGTH = SCREEN_PREFIX.length + 134;
export const SCREEN_SIGNING_CONTEXT = new TextEncoder().encode("checkpoint/screen/v1\0");
export const MAX_LIFETIME_SECONDS = 15 * 60;

/** True iff ``text`` claims to be a screen code (has the CS1 prefix); proves nothing else. */
export function isScreenCode(text) {
  return typeof text === "string" && text.startsWith(SCREEN_PREFIX);
}

/** Parse the exact CS1 shape; throws PassError (bad_format) otherwise. Returns {fields, body,
 * signature}, fields = {key_id, pass_id, pass_id_hex, generation, valid_from, valid_until}. */
export function parseScreenCode(text) {
  const { body, signature } = openEnvelope(text, {
    prefix: SCREEN_PREFIX,
    textLength: SCREEN_TEXT_LENGTH,
    bodyLength: SCREEN_BODY_LENGTH,
    version: SCREEN_VERSION,
  });
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const passId = body.slice(3, 15);
  const fields = Object.freeze({
    version: view.getUint8(0),
    key_id: view.getUint16(1),
    pass_id: passId,
    pass_id_hex: toHex(passId),
    generation: view.getUint16(15),
    valid_from: view.getUint32(17) * SECOND_US,
    valid_until: view.getUint32(21) * SECOND_US,
  });
  const lifetime = (fields.valid_until - fields.valid_from) / SECOND_US;
  if (!(lifetime >= 0 && lifetime <= MAX_LIFETIME_SECONDS))
    throw new PassError(Code.BAD_FORMAT, "bad_field");
  return { fields, body, signature };
}

/**
 * Check a presented screen code at ``now`` (microseconds); no input makes it throw (it
 * rejects only where no Ed25519 can be checked: ed25519.js). First failure wins:
 * bad_format -> unknown_key -> bad_signature -> key_revoked -> key_not_valid ->
 * not_yet_valid -> screen_code_stale. Returns {kind: "screen", fields, key} or a rejection.
 */
export async function verifyScreenCode(text, keys, now) {
  let signed;
  try {
    signed = parseScreenCode(text);
  } catch (error) {
    if (error instanceof PassError) return rejected(error.code, error.detail);
    throw error;
  }
  const candidates = asKeySet(keys).candidates(signed.fields.key_id);
  if (candidates.length === 0) return rejected(Code.UNKNOWN_KEY, "unknown_key");
  const message = concatBytes(SCREEN_SIGNING_CONTEXT, signed.body);
  let key = null;
  for (const entry of candidates) {
    if (await keyVerifies(entry, message, signed.signature)) {
      key = entry;
      break;
    }
  }
  if (key === null) return rejected(Code.BAD_SIGNATURE, "bad_signature");
  const fields = signed.fields;
  if (key.status === KeyStatus.REVOKED) return rejected(Code.KEY_REVOKED, "key_revoked");
  if (!keyCovers(key, fields.valid_from))
    return rejected(Code.KEY_NOT_VALID, "screen_code_outside_key_period");
  if (now < fields.valid_from) return rejected(Code.NOT_YET_VALID, "screen_code_not_yet_valid");
  if (now > fields.valid_until) return rejected(Code.SCREEN_CODE_STALE, "screen_code_stale");
  return Object.freeze({ kind: "screen", fields, key });
}

/** A stored pass's facts from JSON: {key_id, pass_id (hex), household_id, community_id,
 * generation, issued_at, valid_until (ISO 8601)}; the form a bundle's pass index carries. */
export function issuedPassFromDict(data) {
  const passId = fromHex(data.pass_id);
  if (passId.length !== 12) throw new RangeError("pass_id must be 12 bytes");
  return Object.freeze({
    version: 1,
    key_id: data.key_id,
    pass_id: passId,
    pass_id_hex: toHex(passId),
    household_id: data.household_id,
    community_id: data.community_id,
    generation: data.generation,
    issued_at: parseUtc(data.issued_at),
    valid_until: parseUtc(data.valid_until),
  });
}

/**
 * The check decide() takes for the pass a screen code stands for (passes.screen_pass_check).
 * ``screen`` is verifyScreenCode's result (a rejection passes through); ``issued`` the stored
 * facts of the pass it names (issuedPassFromDict form) or null: unknown_household. Then, as for
 * a scanned pass after its signature: unknown_key, key_revoked, key_not_valid,
 * wrong_community, not_yet_valid, expired; a code for another generation is superseded.
 */
export function screenPassCheck(screen, issued, keys, { communityId, now }) {
  if (screen.kind === "rejected") return screen;
  if (issued === null || issued === undefined || issued.pass_id_hex !== screen.fields.pass_id_hex) {
    return rejected(Code.UNKNOWN_HOUSEHOLD, "screen_code_unknown_pass");
  }
  if (issued.generation !== screen.fields.generation) {
    return rejected(Code.SUPERSEDED, "screen_code_generation", issued);
  }
  const candidates = asKeySet(keys).candidates(issued.key_id);
  if (candidates.length === 0) return rejected(Code.UNKNOWN_KEY, "unknown_key");
  // Several entries may share an id; prefer one that is not revoked.
  const key = candidates.find((entry) => entry.status !== KeyStatus.REVOKED) ?? candidates[0];
  if (key.status === KeyStatus.REVOKED) return rejected(Code.KEY_REVOKED, "key_revoked", issued);
  if (!keyCovers(key, issued.issued_at))
    return rejected(Code.KEY_NOT_VALID, "issued_outside_key_period", issued);
  if (issued.community_id !== communityId)
    return rejected(Code.WRONG_COMMUNITY, "wrong_community", issued);
  if (now < issued.issued_at) return rejected(Code.NOT_YET_VALID, "not_yet_valid", issued);
  if (now > issued.valid_until) return rejected(Code.EXPIRED, "expired", issued);
  return verified(issued, key);
}
