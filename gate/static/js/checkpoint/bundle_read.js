// Reading the offline bundle (passes.wire.Bundle, ``checkpoint.bundle.v1``, GET /api/v1/bundle)
// as strictly as Python reads it: the same fields required, the same refused, in the same
// order, so the first problem named is the one Python names.

import { keySetFromList } from "./keys.js";
import { fromHex, toHex } from "./pass_format.js";
import { rulesFromDict } from "./rules.js";
import { householdFromDict } from "./state.js";
import { SECOND_US, parseUtc, toDate, toInstant } from "./timefmt.js";

export const BUNDLE_FORMAT = "checkpoint.bundle.v1";
const BUNDLE_KEYS = [
  "content_hash",
  "generated_at",
  "community",
  "rules",
  "keys",
  "revoked_pass_ids",
  "households",
];
const BUNDLE_OPTIONAL = [
  "household_codes",
  "passes",
  "supervisor_cards",
  "revoked_card_ids",
  "duty",
  "used_visitor_pass_ids",
];
const DUTY_KEYS = ["starts_at", "ends_at", "names"];
const MAX_DUTY_SLOTS = 64;
const MAX_DUTY_NAMES = 16;
const MAX_DUTY_NAME = 64;
const PASS_KEYS = ["pass_id", "household_id", "key_id", "generation", "issued_at", "valid_until"];
const CARD_KEYS = ["card_id", "account_id", "valid_until"];

/** The bundle JSON does not follow its format: ``field`` names the path, as WireFormatError. */
export class BundleError extends Error {
  constructor(field, problem) {
    super(`${field}: ${problem}`);
    this.field = field;
    this.problem = problem;
  }
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function exactly(data, path, keys, optional = [], format = null) {
  if (!isObject(data)) throw new BundleError(path || "body", "must be a JSON object");
  const prefix = path ? `${path}.` : "";
  if (format !== null) {
    if (!Object.hasOwn(data, "format"))
      throw new BundleError(`${prefix}format`, `is missing (expected '${format}')`);
    if (data.format !== format) throw new BundleError(`${prefix}format`, `must be '${format}'`);
  }
  for (const key of keys)
    if (!Object.hasOwn(data, key)) throw new BundleError(prefix + key, "is missing");
  for (const key of Object.keys(data)) {
    if (!keys.includes(key) && !optional.includes(key) && !(format !== null && key === "format")) {
      throw new BundleError(prefix + key.slice(0, 60), "is not a field of this message");
    }
  }
  return data;
}

function text(value, name, limit, { empty = false } = {}) {
  if (typeof value !== "string" || (!empty && !value)) {
    throw new BundleError(name, empty ? "must be text" : "must be non-empty text");
  }
  if ([...value].length > limit) throw new BundleError(name, `longer than ${limit} characters`);
  if (value.includes("\0") || (typeof value.isWellFormed === "function" && !value.isWellFormed())) {
    throw new BundleError(name, "must not contain NUL characters or lone surrogates");
  }
  return value;
}

function whole(value, name, low, high) {
  if (typeof value !== "number" || !Number.isInteger(value) || value < low || value > high) {
    throw new BundleError(name, `must be a whole number from ${low} to ${high}`);
  }
  return value;
}

function time(value, name) {
  try {
    const us = parseUtc(value);
    if (us !== null) return us;
  } catch {
    // reported below
  }
  throw new BundleError(name, "must be an ISO 8601 time with a zone, e.g. 2026-11-22T08:00:00Z");
}

function list(value, name) {
  if (!Array.isArray(value)) throw new BundleError(name, "must be a list");
  return value;
}

function id12(value, name) {
  if (typeof value === "string" && value.length === 24 && /^[0-9a-fA-F]+$/.test(value))
    return value.toLowerCase();
  throw new BundleError(name, "must be 24 hex digits");
}

function wrap(name, read) {
  try {
    return read();
  } catch (error) {
    if (error instanceof BundleError) throw error;
    throw new BundleError(name, `not valid (${error.message})`);
  }
}

function householdCodes(value) {
  if (!isObject(value)) throw new BundleError("household_codes", "must be a JSON object");
  const codes = new Map();
  for (const [key, code] of Object.entries(value)) {
    const name = `household_codes.${key.slice(0, 20)}`;
    if (!/^[0-9]+$/.test(key) || Number(key) >= 2 ** 32)
      throw new BundleError(name, "must be a household id");
    if (typeof code !== "string" || !code || [...code].length > 32) {
      throw new BundleError(name, "must be text of 1 to 32 characters");
    }
    codes.set(Number(key), text(code, `${name}.code`, 32));
  }
  return codes;
}

function issuedPasses(value, communityId) {
  const passes = new Map();
  const items = list(value, "passes");
  items.forEach((item, index) => exactly(item, `passes[${index}]`, PASS_KEYS)); // all shapes first
  items.forEach((item, index) => {
    const path = `passes[${index}]`;
    const passId = id12(item.pass_id, `${path}.pass_id`);
    const keyId = whole(item.key_id, `${path}.key_id`, 0, 0xffff);
    const generation = whole(item.generation, `${path}.generation`, 0, 0xffff);
    const householdId = whole(item.household_id, `${path}.household_id`, 0, 2 ** 32 - 1);
    const issuedAt = time(item.issued_at, `${path}.issued_at`);
    const validUntil = time(item.valid_until, `${path}.valid_until`);
    const u32 = (us) => us % SECOND_US === 0 && us >= 0 && us / SECOND_US <= 0xffffffff;
    if (!u32(issuedAt) || !u32(validUntil) || validUntil < issuedAt) {
      throw new BundleError(path, "not a pass (its times)");
    }
    const fields = Object.freeze({
      version: 1,
      key_id: keyId,
      pass_id: fromHex(passId),
      pass_id_hex: passId,
      household_id: householdId,
      community_id: communityId,
      generation,
      issued_at: issuedAt,
      valid_until: validUntil,
    });
    passes.set(passId, fields);
  });
  return passes;
}

function supervisorCards(value) {
  const items = list(value, "supervisor_cards");
  items.forEach((item, index) => exactly(item, `supervisor_cards[${index}]`, CARD_KEYS));
  const cards = new Map();
  items.forEach((item, index) => {
    const path = `supervisor_cards[${index}]`;
    const cardId = id12(item.card_id, `${path}.card_id`);
    cards.set(
      cardId,
      Object.freeze({
        card_id: cardId,
        account_id: whole(item.account_id, `${path}.account_id`, 1, 2 ** 32 - 1),
        valid_until: time(item.valid_until, `${path}.valid_until`),
      }),
    );
  });
  return cards;
}

/** The bundle's duty shifts at the fetching gate, read as passes.wire._duty reads them:
 * [{starts_at, ends_at (Dates), names}], frozen. */
function dutySlots(value) {
  const items = list(value, "duty").map((item, index) =>
    exactly(item, `duty[${index}]`, DUTY_KEYS),
  );
  if (items.length > MAX_DUTY_SLOTS) throw new BundleError("duty", `at most ${MAX_DUTY_SLOTS} shifts`);
  return Object.freeze(
    items.map((item, index) => {
      const name = `duty[${index}].names`;
      const names = list(item.names, name);
      const good = (n) => typeof n === "string" && n.length > 0 && [...n].length <= MAX_DUTY_NAME;
      if (names.length > MAX_DUTY_NAMES || !names.every(good)) {
        throw new BundleError(name, `must be at most ${MAX_DUTY_NAMES} names of text`);
      }
      const startsAt = time(item.starts_at, `duty[${index}].starts_at`);
      const endsAt = time(item.ends_at, `duty[${index}].ends_at`);
      if (endsAt <= startsAt) throw new BundleError(`duty[${index}].ends_at`, "must be after starts_at");
      return Object.freeze({ starts_at: toDate(startsAt), ends_at: toDate(endsAt), names });
    }),
  );
}

/**
 * Read the bundle JSON (an object, or its text) as strictly as passes.wire.Bundle.from_json;
 * throws BundleError naming the bad field. ``fetchedAt`` (a Date, an ISO 8601 text or epoch
 * seconds; default: the bundle's generated_at) is when this device fetched it: the bundle's
 * age counts from then.
 *
 * Returns a frozen object: {content_hash, generated_at, fetched_at (Dates; generated_at_us,
 * fetched_at_us the same in microseconds), community: {id, name, timezone}, rules, keys,
 * revoked_pass_ids (Set of hex), households (Map id -> state),
 * household_codes (Map id -> "3-2-401") | null, passes (Map hex pass id -> facts) | null,
 * supervisor_cards (Map hex card id -> {card_id, account_id, valid_until}) | null,
 * revoked_card_ids (Set of hex) | null, used_visitor_pass_ids (Set of hex: single-use visitor
 * passes already consumed) | null, duty (the gate's shifts: [{starts_at, ends_at, names}]) | null,
 * raw (the JSON)}.
 */
export function readBundle(json, { fetchedAt = null } = {}) {
  const data = typeof json === "string" ? JSON.parse(json) : json;
  // Field by field in the order passes.wire.Bundle.from_json reads them, so that the first
  // problem found is the one Python names.
  exactly(data, "", BUNDLE_KEYS, BUNDLE_OPTIONAL, BUNDLE_FORMAT);
  const community = exactly(data.community, "community", ["id", "name", "timezone"]);
  const communityId = whole(community.id, "community.id", 1, 2 ** 32 - 1);
  const contentHash = text(data.content_hash, "content_hash", 64);
  const generatedAt = time(data.generated_at, "generated_at");
  const communityName = text(community.name, "community.name", 200, { empty: true });
  const timezone = text(community.timezone, "community.timezone", 64);
  if (!isObject(data.rules)) throw new BundleError("rules", "must be a JSON object");
  const rules = wrap("rules", () => rulesFromDict(data.rules));
  const keys = wrap("keys", () => keySetFromList(list(data.keys, "keys")));
  const revoked = wrap(
    "revoked_pass_ids",
    () => new Set(list(data.revoked_pass_ids, "revoked_pass_ids").map((id) => toHex(fromHex(id)))),
  );
  const households = new Map();
  for (const state of wrap("households", () =>
    list(data.households, "households").map(householdFromDict),
  )) {
    households.set(state.household_id, state);
  }
  const has = (key) => data[key] !== undefined && data[key] !== null;
  return Object.freeze({
    content_hash: contentHash,
    generated_at: toDate(generatedAt),
    fetched_at: fetchedAt === null ? toDate(generatedAt) : toDate(toInstant(fetchedAt)),
    generated_at_us: generatedAt,
    fetched_at_us: fetchedAt === null ? generatedAt : toInstant(fetchedAt),
    community: Object.freeze({ id: communityId, name: communityName, timezone }),
    rules,
    keys,
    revoked_pass_ids: revoked,
    households,
    household_codes: has("household_codes") ? householdCodes(data.household_codes) : null,
    passes: has("passes") ? issuedPasses(data.passes, communityId) : null,
    supervisor_cards: has("supervisor_cards") ? supervisorCards(data.supervisor_cards) : null,
    revoked_card_ids: has("revoked_card_ids")
      ? new Set(
          list(data.revoked_card_ids, "revoked_card_ids").map((id) => id12(id, "revoked_card_ids")),
        )
      : null,
    duty: has("duty") ? dutySlots(data.duty) : null,
    used_visitor_pass_ids: has("used_visitor_pass_ids")
      ? new Set(
          list(data.used_visitor_pass_ids, "used_visitor_pass_ids").map((id) =>
            id12(id, "used_visitor_pass_ids"),
          ),
        )
      : null,
    raw: data,
  });
}
