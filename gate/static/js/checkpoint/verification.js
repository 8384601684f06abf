// Pass validity (passes/verification.py). Order, the first failure wins:
// bad_format -> unknown_key -> bad_signature -> key_revoked -> key_not_valid ->
// validity_too_long -> wrong_community -> not_yet_valid -> expired.
// Revocation and generation need the household's record and are checked by decide().
//
// A check is {kind: "verified", fields, key} or {kind: "rejected", code, detail, fields}
// (``fields`` only when the signature verified; null for forgeries and bad shapes).

import { Code } from "./codes.js";
import { KeyStatus, asKeySet, keyCovers, keyVerifies } from "./keys.js";
import { PassError, parsePass, signedMessage } from "./pass_format.js";
import { DAY_US } from "./timefmt.js";

/** No pass is issued for longer than 400 days (passes.verification.MAX_PASS_VALIDITY). */
export const MAX_PASS_VALIDITY_US = 400 * DAY_US;

export function verified(fields, key) {
  return Object.freeze({ kind: "verified", fields, key });
}

export function rejected(code, detail, fields = null) {
  return Object.freeze({ kind: "rejected", code, detail, fields });
}

/**
 * Check a presented pass text (passes.verify_pass); no input makes it throw (it rejects only
 * where no Ed25519 can be checked at all: ed25519.js).
 * ``keys`` is a key set or its JSON list; ``now`` microseconds since the epoch. A pass is
 * valid from issued_at through valid_until inclusive.
 */
export async function verifyPass(text, keys, { communityId, now }) {
  let signed;
  try {
    signed = parsePass(text);
  } catch (error) {
    if (error instanceof PassError) return rejected(error.code, error.detail);
    throw error;
  }
  const candidates = asKeySet(keys).candidates(signed.fields.key_id);
  if (candidates.length === 0) return rejected(Code.UNKNOWN_KEY, "unknown_key");
  const message = signedMessage(signed.body);
  let key = null;
  for (const entry of candidates) {
    if (await keyVerifies(entry, message, signed.signature)) {
      key = entry;
      break;
    }
  }
  if (key === null) return rejected(Code.BAD_SIGNATURE, "bad_signature");
  const fields = signed.fields;
  if (key.status === KeyStatus.REVOKED) return rejected(Code.KEY_REVOKED, "key_revoked", fields);
  if (!keyCovers(key, fields.issued_at)) {
    return rejected(Code.KEY_NOT_VALID, "issued_outside_key_period", fields);
  }
  if (fields.valid_until - fields.issued_at > MAX_PASS_VALIDITY_US) {
    return rejected(Code.VALIDITY_TOO_LONG, "validity_too_long", fields);
  }
  if (fields.community_id !== communityId) {
    return rejected(Code.WRONG_COMMUNITY, "wrong_community", fields);
  }
  if (now < fields.issued_at) return rejected(Code.NOT_YET_VALID, "not_yet_valid", fields);
  if (now > fields.valid_until) return rejected(Code.EXPIRED, "expired", fields);
  return verified(fields, key);
}
