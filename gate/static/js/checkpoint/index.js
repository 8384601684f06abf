// The JavaScript decider in one import: the same decisions as the Python package ``passes``
// (see decide.js), for the phone gate offline. Plain ES modules, no build step: served as
// /static/js/checkpoint/*.js to browsers and imported from the file system by Node 20.
//
// Time: decide, decideFromBundle, readBundle and advance take Dates (or ISO 8601 texts);
// everything else works in integer microseconds since the epoch, exactly as Python's
// datetimes (timefmt.js: toInstant, toDate, formatUtc, parseUtc).

export { ALPHABET, Base45Error, b45decode, b45encode } from "./base45.js";
export {
  Code,
  OVERRIDE_REFUSAL_CODES,
  PASS_VALIDITY_CODES,
  REASONS,
  REMEASURE_CODES,
  displayOf,
  reason,
} from "./codes.js";
export {
  BUNDLE_FORMAT,
  BundleError,
  CLOCK_TOLERANCE_US,
  DEFAULT_MAX_BUNDLE_AGE_MS,
  NO_BUNDLE,
  SCANNER_REASONS,
  UNLOCK_FOR_MS,
  cardOverride,
  checkCard,
  decideFromBundle,
  householdLabel,
  readBundle,
  unlockWithCard,
} from "./bundle.js";
export { checkOverride, decide, describe } from "./decide.js";
export { ed25519Backend, useEd25519, verifyEd25519 } from "./ed25519.js";
export { KeyStatus, keyCovers, keyEntryFromDict, keySetFromList } from "./keys.js";
export {
  MAX_INPUT_LENGTH,
  PREFIX,
  PassError,
  TEXT_LENGTH,
  fromHex,
  parsePass,
  toHex,
} from "./pass_format.js";
export { PROVINCES, PlateError, normalisePlate, parsePlate, plateProblem } from "./plates.js";
export {
  DEFAULT_TIMEZONE,
  RuleSetError,
  WindowKind,
  rulesFromDict,
  rulesFromJson,
  rulesToDict,
} from "./rules.js";
export {
  countedExits,
  lastDayCovered,
  nextExitAt,
  overdueSince,
  quotaFreeAt,
  withinExitHours,
} from "./schedule.js";
export {
  MAX_LIFETIME_SECONDS,
  SCREEN_PREFIX,
  isScreenCode,
  issuedPassFromDict,
  parseScreenCode,
  screenPassCheck,
  verifyScreenCode,
} from "./screen_code.js";
export {
  CARD_PREFIX,
  cardStanding,
  isSupervisorCard,
  parseSupervisorCard,
  verifySupervisorCard,
} from "./supervisor_card.js";
export {
  Direction,
  HouseholdStatus,
  advance,
  advanceAt,
  householdFromDict,
  householdToDict,
  isQuarantined,
  mergeHousehold,
} from "./state.js";
export { formatUtc, parseUtc, toDate, toInstant } from "./timefmt.js";
export { MAX_PASS_VALIDITY_US, verifyPass } from "./verification.js";
export {
  VEHICLE_PREFIX,
  decidePlate,
  decideVehicle,
  isVehiclePass,
  parseVehiclePass,
  verifyVehiclePass,
} from "./vehicle_pass.js";
export {
  VISITOR_PREFIX,
  decideVisitor,
  decideWalkIn,
  isVisitorPass,
  parseVisitorPass,
  verifyVisitorPass,
} from "./visitor_pass.js";
