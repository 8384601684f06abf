// The offline bundle (passes.wire.Bundle, ``checkpoint.bundle.v1``, GET /api/v1/bundle) and the
// offline decision a gate makes with it, as the Python scanner makes it
// (scanner/deciding.py decide_offline):
//
// - no bundle: refused ``no_bundle``;
// - a time before the bundle's server time (beyond 2 min): refused ``clock_fault`` (a bundle
//   age below zero: the device clock went back);
// - otherwise decide() with the bundle's keys, rules, revoked ids and the household's state
//   (the bundle's, with who is out and the counted exits taken from the device's own newer
//   crossings when ``localHousehold`` knows them);
// - degraded mode: a bundle fetched more than ``maxBundleAgeMs`` (24 h) ago turns an allowed
//   verdict into ``stale_bundle`` unless a supervisor override is given (then it is allowed,
//   noted stale_bundle and override).

import { Code, OVERRIDE_REFUSAL_CODES, REASONS, displayOf } from "./codes.js";
import { decide } from "./decide.js";
import { keySetFromList } from "./keys.js";
import { PassError, fromHex, parsePass, toHex } from "./pass_format.js";
import { DEFAULT_TIMEZONE, rulesFromDict } from "./rules.js";
import { isScreenCode, parseScreenCode, screenPassCheck, verifyScreenCode } from "./screen_code.js";
import { asHousehold, householdFromDict, mergeHousehold } from "./state.js";
import { cardStanding, parseSupervisorCard, verifySupervisorCard } from "./supervisor_card.js";
import {
  HOUR_US,
  MINUTE_US,
  SECOND_US,
  formatUtc,
  parseUtc,
  toDate,
  toInstant,
} from "./timefmt.js";

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
const BUNDLE_OPTIONAL = ["household_codes", "passes", "supervisor_cards", "revoked_card_ids"];
const PASS_KEYS = ["pass_id", "household_id", "key_id", "generation", "issued_at", "valid_until"];
const CARD_KEYS = ["card_id", "account_id", "valid_until"];

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
 * revoked_card_ids (Set of hex) | null, raw (the JSON)}.
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
    raw: data,
  });
}

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

/**
 * Decide a scanned ``text`` offline with ``bundle`` (readBundle's result), as the Python scanner
 * does (scanner.deciding.decide_offline; module doc). Options:
 *
 * - ``direction`` ("out"/"in"), ``temperature`` (integer tenths or null);
 * - ``now``: a Date, an ISO 8601 text or epoch seconds;
 * - ``override``: null, {supervisor, reason}, or cardOverride(cardText, reason): a card is
 *   checked against the bundle first, and a bad one refuses with its own code
 *   (supervisor_card_invalid / _expired / _revoked);
 * - ``maxBundleAgeMs`` (default 24 h);
 * - ``localHousehold`` (optional, async or not): (householdId, sinceMs) -> the device's own
 *   state of that household after its crossings since the bundle was generated (``sinceMs``:
 *   generated_at in milliseconds), parsed (advance's result) or in HouseholdState JSON form,
 *   or null;
 * - ``unlocked``: a supervisor card unlocked the device (unlockWithCard): a stale bundle or a
 *   clock fault no longer refuses, the crossing is noted instead;
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
    maxBundleAgeMs = DEFAULT_MAX_BUNDLE_AGE_MS,
    localHousehold = null,
    unlocked = false,
    clockFault = false,
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
  const verdict = await decide(await presentedCheck(text, bundle, at), {
    keys: bundle.keys,
    communityId: bundle.community.id,
    household,
    revokedPassIds: bundle.revoked_pass_ids,
    rules: bundle.rules,
    direction,
    temperature,
    now: formatUtc(at),
    override,
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
