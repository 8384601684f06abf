// The key set a gate verifies against (passes/keys.py): public keys only, by key id.

import { parseUtc } from "./timefmt.js";
import { verifyEd25519 } from "./ed25519.js";

export const ED25519 = "ed25519";
export const KeyStatus = Object.freeze({
  ACTIVE: "active",
  RETIRED: "retired",
  REVOKED: "revoked",
});
const STATUSES = new Set(Object.values(KeyStatus));

function whole(value, name) {
  const number =
    typeof value === "string" && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isInteger(number)) {
    throw new TypeError(`${name} must be a whole number`);
  }
  return number;
}

function base64Strict(text) {
  if (typeof text !== "string" || text.length % 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new TypeError("public_key must be Base64");
  }
  const binary = atob(text);
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

/** One public key from its JSON form (KeyEntry.from_dict); throws on bad data. Times are microseconds. */
export function keyEntryFromDict(data) {
  if (data === null || typeof data !== "object") throw new TypeError("bad key entry");
  if (!("key_id" in data) || !("public_key" in data))
    throw new TypeError("bad key entry: missing field");
  const keyId = whole(data.key_id, "key_id");
  if (keyId < 0 || keyId > 0xffff) throw new RangeError("key_id must fit 16 bits");
  const status = "status" in data ? data.status : "active";
  if (!STATUSES.has(status)) throw new RangeError(`bad key status ${status}`);
  const algorithm = String("algorithm" in data ? data.algorithm : ED25519);
  if (algorithm !== ED25519) throw new RangeError(`unsupported algorithm ${algorithm}`);
  const publicKey = base64Strict(data.public_key);
  if (publicKey.length !== 32) throw new RangeError("an Ed25519 public key is 32 bytes");
  return Object.freeze({
    key_id: keyId,
    public_key: publicKey,
    public_key_b64: data.public_key,
    status,
    algorithm,
    not_before: parseUtc(data.not_before ?? null),
    not_after: parseUtc(data.not_after ?? null),
  });
}

/** True iff the key was allowed to sign at instant ``us`` (KeyEntry.covers). */
export function keyCovers(entry, us) {
  if (entry.not_before !== null && us < entry.not_before) return false;
  return entry.not_after === null || us <= entry.not_after;
}

/** True iff ``signature`` is ``entry``'s signature of ``message``. */
export function keyVerifies(entry, message, signature) {
  return verifyEd25519(entry.public_key, message, signature);
}

/** A key set from its JSON list (KeySet.from_list): {entries, candidates(keyId)}. Two entries
 * may share an id; each is tried, in list order. */
export function keySetFromList(items) {
  if (!Array.isArray(items)) throw new TypeError("keys must be a list");
  const entries = Object.freeze(items.map(keyEntryFromDict));
  const byId = new Map();
  for (const entry of entries) byId.set(entry.key_id, [...(byId.get(entry.key_id) ?? []), entry]);
  return Object.freeze({
    entries,
    candidates: (keyId) => byId.get(keyId) ?? [],
  });
}

/** ``keys`` as a key set: a key set already, or its JSON list. */
export function asKeySet(keys) {
  return Array.isArray(keys) ? keySetFromList(keys) : keys;
}
