// Lockdown zones as the decision sees them (passes/lockdown.py): 封控 "sealed" refuses every
// exit of the households under it (exempt ones too), 管控 "controlled" and 防范 "precaution"
// decide by the rules as usual. A lock travels inside the household state (``zones``); times
// are microseconds (timefmt.js).

import { Code } from "./codes.js";
import { formatUtc, parseUtc } from "./timefmt.js";

export const ZoneLevel = Object.freeze({
  SEALED: "sealed",
  CONTROLLED: "controlled",
  PRECAUTION: "precaution",
});
export const ZoneScope = Object.freeze({
  BUILDING: "building",
  COMPOUND: "compound",
  GRID: "grid",
});
/** The refusal code of a sealed lock of each scope. */
export const SEALED_CODES = Object.freeze({
  building: Code.ZONE_SEALED_BUILDING,
  compound: Code.ZONE_SEALED_COMPOUND,
  grid: Code.ZONE_SEALED_GRID,
});
const WIDTH = { building: 0, compound: 1, grid: 2 };
const LOCK_KEYS = ["level", "scope", "starts_at", "ends_at"];

/** A lock from its JSON form (ZoneLock.from_dict); throws on bad data. */
export function lockFromDict(data) {
  if (
    data === null ||
    typeof data !== "object" ||
    Array.isArray(data) ||
    Object.keys(data).length !== LOCK_KEYS.length ||
    !LOCK_KEYS.every((key) => Object.hasOwn(data, key))
  ) {
    throw new TypeError("a zone lock is {level, scope, starts_at, ends_at}");
  }
  if (!Object.values(ZoneLevel).includes(data.level)) throw new RangeError("bad zone level");
  if (!Object.values(ZoneScope).includes(data.scope)) throw new RangeError("bad zone scope");
  const startsAt = parseUtc(data.starts_at);
  if (startsAt === null) throw new TypeError("a zone lock needs starts_at");
  const endsAt = parseUtc(data.ends_at);
  if (endsAt !== null && endsAt <= startsAt) {
    throw new RangeError("a zone lock must end after it starts");
  }
  return Object.freeze({ level: data.level, scope: data.scope, starts_at: startsAt, ends_at: endsAt });
}

/** The JSON form (ZoneLock.to_dict). */
export function lockToDict(lock) {
  return {
    level: lock.level,
    scope: lock.scope,
    starts_at: formatUtc(lock.starts_at),
    ends_at: formatUtc(lock.ends_at),
  };
}

function inForce(lock, now) {
  return lock.starts_at <= now && (lock.ends_at === null || now < lock.ends_at);
}

/** The sealed lock that decides at ``now`` (passes.sealing_lock): of those in force, the one
 * that ends last (null counts as never), then the widest scope; null when none holds. */
export function sealingLock(locks, now) {
  let best = null;
  for (const lock of locks) {
    if (lock.level !== ZoneLevel.SEALED || !inForce(lock, now)) continue;
    if (best === null || later(lock, best)) best = lock;
  }
  return best;
}

function later(a, b) {
  const aOpen = a.ends_at === null;
  const bOpen = b.ends_at === null;
  if (aOpen !== bOpen) return aOpen;
  const aEnd = a.ends_at ?? a.starts_at;
  const bEnd = b.ends_at ?? b.starts_at;
  if (aEnd !== bEnd) return aEnd > bEnd;
  return WIDTH[a.scope] > WIDTH[b.scope];
}
