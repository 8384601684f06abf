// Wall-clock arithmetic in a rule set's IANA time zone with Intl.DateTimeFormat: the same
// answers Python's zoneinfo gives (passes/schedule.py), including its choice for local times
// that do not exist or exist twice (PEP 495, fold=0: the offset in force before the change).
//
// Instants are microseconds since the epoch (UTC; timefmt.js). A "wall" time is the local
// date and time written as if it were UTC, in microseconds; a "day" is a local date as whole
// days since 1970-01-01 (wall midnight / DAY_US).

import { DAY_US, SECOND_US } from "./timefmt.js";

export { DAY_US, HOUR_US, MINUTE_US, SECOND_US } from "./timefmt.js";

const formatters = new Map();

function formatter(zone) {
  let found = formatters.get(zone);
  if (found === undefined) {
    found = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      era: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(zone, found);
  }
  return found;
}

/** True iff ``zone`` is an IANA zone name this runtime knows. */
export function isKnownZone(zone) {
  if (typeof zone !== "string" || zone === "") return false;
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** The wall time (see above) of instant ``us`` in ``zone``. */
export function wallAt(zone, us) {
  const seconds = Math.floor(us / SECOND_US);
  const parts = {};
  for (const part of formatter(zone).formatToParts(new Date(seconds * 1000))) {
    parts[part.type] = part.value;
  }
  let year = Number(parts.year);
  if (parts.era === "BC" || parts.era === "B") year = 1 - year;
  const hour = Number(parts.hour) % 24; // some engines write midnight as 24 in h23
  const date = new Date(
    Date.UTC(2000, Number(parts.month) - 1, Number(parts.day), hour, Number(parts.minute)),
  );
  date.setUTCFullYear(year);
  // Zone offsets are whole seconds: the seconds and the fraction carry over unchanged.
  const wallMinute = date.getTime() / 1000;
  return (wallMinute + Number(parts.second)) * SECOND_US + (us - seconds * SECOND_US);
}

/** The zone's UTC offset at instant ``us``, in microseconds (local = UTC + offset). */
export function offsetAt(zone, us) {
  return wallAt(zone, us) - us;
}

/**
 * The instant at which ``wall`` happens in ``zone``, as Python's
 * ``datetime(..., tzinfo=ZoneInfo(zone)).astimezone(UTC)`` with fold=0: a wall time that
 * happens twice is its first occurrence; one skipped by a change of offset is read with the
 * offset in force before the change (so 02:30 on a spring-forward night is 03:30 after).
 */
export function wallToInstant(zone, wall) {
  const before = offsetAt(zone, wall - DAY_US);
  const after = offsetAt(zone, wall + DAY_US);
  const early = wall - before;
  if (before === after || offsetAt(zone, early) === before) return early;
  const late = wall - after;
  return offsetAt(zone, late) === after ? late : early;
}

/** The local date (a day number) of instant ``us`` in ``zone``. */
export function localDay(zone, us) {
  return Math.floor(wallAt(zone, us) / DAY_US);
}

/** Microseconds since local midnight of instant ``us`` in ``zone`` (the wall-clock time). */
export function localTimeOfDay(zone, us) {
  const wall = wallAt(zone, us);
  return wall - Math.floor(wall / DAY_US) * DAY_US;
}

/** The instant local ``day`` begins in ``zone`` (passes.schedule.local_midnight). */
export function localMidnight(zone, day) {
  return wallToInstant(zone, day * DAY_US);
}

function pad(n) {
  return String(n).padStart(2, "0");
}

function wallDate(wall) {
  return new Date(Math.floor(wall / 1000));
}

/** strftime("%m-%d") of a wall time (or day * DAY_US). */
export function monthDay(wall) {
  const date = wallDate(wall);
  return `${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

/** strftime("%m-%d %H:%M") of instant ``us`` read in ``zone``. */
export function monthDayTime(zone, us) {
  const wall = wallAt(zone, us);
  const date = wallDate(wall);
  return `${monthDay(wall)} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}`;
}
