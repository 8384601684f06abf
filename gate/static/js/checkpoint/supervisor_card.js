// Supervisor cards, format SV1 (passes/supervisor_card.py): ``SV1:`` + 143 Base45 characters
// = 95 bytes:
//
//   offset  size  field
//   0       1     format version, always 0x01 for SV1
//   1       2     key id (u16): the community key that signed this card
//   3       12    card id (96 random bits)
//   15      4     account id (u32): the supervisor's user account
//   19      4     community id (u32)
//   23      4     issued at, Unix seconds UTC (u32)
//   27      4     valid until, Unix seconds UTC (u32), inclusive, at most 400 days after
//   31      64    Ed25519 signature over CARD_SIGNING_CONTEXT + bytes 0..30
//
// A check is {kind: "card", fields, key} or {kind: "rejected", code, detail, fields}.

import { Code } from "./codes.js";
import { KeyStatus, asKeySet, keyCovers, keyVerifies } from "./keys.js";
import { PassError, concatBytes, openEnvelope, toHex } from "./pass_format.js";
import { DAY_US, SECOND_US } from "./timefmt.js";

export const CARD_VERSION = 1;
export const CARD_PREFIX = "SV1:";
export const CARD_BODY_LENGTH = 31;
export const CARD_TEXT_LENGTH = CARD_PREFIX.length + 143;
export const CARD_SIGNING_CONTEXT = new TextEncoder().encode("checkpoint/supervisor-card/v1\0");
export const MAX_CARD_VALIDITY_US = 400 * DAY_US;

function cardRejected(code, detail, fields = null) {
  return Object.freeze({ kind: "rejected", code, detail, fields });
}

/** True iff ``text`` claims to be a supervisor card (has the SV1 prefix); proves nothing. */
export function isSupervisorCard(text) {
  return typeof text === "string" && text.startsWith(CARD_PREFIX);
}

/** Parse the exact SV1 shape: {fields, body, signature}, nothing verified; throws PassError
 * (bad_format). fields = {key_id, card_id (hex), account_id, community_id, issued_at,
 * valid_until (microseconds)}. */
export function parseSupervisorCard(text) {
  const { body, signature } = openEnvelope(text, {
    prefix: CARD_PREFIX,
    textLength: CARD_TEXT_LENGTH,
    bodyLength: CARD_BODY_LENGTH,
    version: CARD_VERSION,
  });
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const fields = Object.freeze({
    key_id: view.getUint16(1),
    card_id: toHex(body.slice(3, 15)),
    account_id: view.getUint32(15),
    community_id: view.getUint32(19),
    issued_at: view.getUint32(23) * SECOND_US,
    valid_until: view.getUint32(27) * SECOND_US,
  });
  const validity = fields.valid_until - fields.issued_at;
  if (!(validity >= 0 && validity <= MAX_CARD_VALIDITY_US))
    throw new PassError(Code.BAD_FORMAT, "bad_field");
  return { fields, body, signature };
}

/**
 * Check a presented card at ``now`` (microseconds); no input makes it throw. First failure wins, all
 * supervisor_card_invalid but the last: bad format -> unknown key -> bad signature -> key
 * revoked -> made outside the key's period -> another community -> not yet valid; then
 * supervisor_card_expired. Revocation needs the issuer's list: cardStanding.
 */
export async function verifySupervisorCard(text, keys, { communityId, now }) {
  const invalid = Code.SUPERVISOR_CARD_INVALID;
  let parsed;
  try {
    parsed = parseSupervisorCard(text);
  } catch (error) {
    if (error instanceof PassError) return cardRejected(invalid, error.detail);
    throw error;
  }
  const { fields, body, signature } = parsed;
  const candidates = asKeySet(keys).candidates(fields.key_id);
  if (candidates.length === 0) return cardRejected(invalid, "unknown_key");
  const message = concatBytes(CARD_SIGNING_CONTEXT, body);
  let key = null;
  for (const entry of candidates) {
    if (await keyVerifies(entry, message, signature)) {
      key = entry;
      break;
    }
  }
  if (key === null) return cardRejected(invalid, "bad_signature");
  if (key.status === KeyStatus.REVOKED) return cardRejected(invalid, "key_revoked", fields);
  if (!keyCovers(key, fields.issued_at))
    return cardRejected(invalid, "issued_outside_key_period", fields);
  if (fields.community_id !== communityId) return cardRejected(invalid, "wrong_community", fields);
  if (now < fields.issued_at) return cardRejected(invalid, "not_yet_valid", fields);
  if (now > fields.valid_until)
    return cardRejected(Code.SUPERVISOR_CARD_EXPIRED, "expired", fields);
  return Object.freeze({ kind: "card", fields, key });
}

/**
 * ``check`` against the issuer's list as an offline device holds it (passes.card_standing):
 * ``known`` maps card id (hex) -> {account_id, ...}, ``revoked`` is a Set of hex card ids. A
 * revoked card is supervisor_card_revoked; one the list does not know, or knows for another
 * account, supervisor_card_invalid. A rejection passes through.
 */
export function cardStanding(check, { known, revoked }) {
  if (check.kind === "rejected") return check;
  if (revoked.has(check.fields.card_id)) {
    return cardRejected(Code.SUPERVISOR_CARD_REVOKED, "revoked", check.fields);
  }
  const state = known.get(check.fields.card_id);
  if (state === undefined || state.account_id !== check.fields.account_id) {
    return cardRejected(Code.SUPERVISOR_CARD_INVALID, "not_issued", check.fields);
  }
  return check;
}
