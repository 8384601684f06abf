// Wall-clock arithmetic in a rule set's IANA time zone with Intl.DateTimeFormat: the same
// answers Python's zoneinfo gives (passes/schedule.py), including its choice for local times
// that do not exist or exist twice (PEP 495, fold=0: the offset in force before the change).
//
// Instants are milliseconds since the epoch (UTC). A "wall" time is the local date and time
// written as if it were UTC (Date.UTC(y, m - 1, d, h, mi, s, ms)); a "day" is a local date as
// whole days since 1970-01-01 (wall midnight / 86,400,000).

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

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

/** The wall time (see above) of instant ``ms`` in ``zone``. */
export function wallAt(zone, ms) {
  const parts = {};
  for (const part of formatter(zone).formatToParts(new Date(ms))) parts[part.type] = part.value;
  let year = Number(parts.year);
  if (parts.era === "BC" || parts.era === "B") year = 1 - year;
  const hour = Number(parts.hour) % 24; // some engines write midnight as 24 in h23
  const millis = ((ms % 1000) + 1000) % 1000; // zone offsets are whole seconds
  const wall = Date.UTC(
    2000,
    Number(parts.month) - 1,
    Number(parts.day),
    hour,
    Number(parts.minute),
    Number(parts.second),
    millis,
  );
  const date = new Date(wall);
  date.setUTCFullYear(year);
  return date.getTime();
}

/** The zone's UTC offset at instant ``ms``, in milliseconds (local = UTC + offset). */
export function offsetAt(zone, ms) {
  return wallAt(zone, ms) - ms;
}

/**
 * The instant at which ``wall`` happens in ``zone``, as Python's
 * ``datetime(..., tzinfo=ZoneInfo(zone)).astimezone(UTC)`` with fold=0: a wall time that
 * happens twice is its first occurrence; one skipped by a change of offset is read with the
 * offset in force before the change (so 02:30 on a spring-forward night is 03:30 after).
 */
export function wallToInstant(zone, wall) {
  const before = offsetAt(zone, wall - DAY_MS);
  const after = offsetAt(zone, wall + DAY_MS);
  const early = wall - before;
  if (before === after || offsetAt(zone, early) === before) return early;
  const late = wall - after;
  return offsetAt(zone, late) === after ? late : early;
}

/** The local date (a day number) of instant ``ms`` in ``zone``. */
export function localDay(zone, ms) {
  return Math.floor(wallAt(zone, ms) / DAY_MS);
}

/** Milliseconds since local midnight of instant ``ms`` in ``zone`` (the wall-clock time). */
export function localTimeOfDay(zone, ms) {
  const wall = wallAt(zone, ms);
  return wall - Math.floor(wall / DAY_MS) * DAY_MS;
}

/** The instant local ``day`` begins in ``zone`` (passes.schedule.local_midnight). */
export function localMidnight(zone, day) {
  return wallToInstant(zone, day * DAY_MS);
}

function pad(n) {
  return String(n).padStart(2, "0");
}

/** strftime("%m-%d") of a wall time or day*DAY_MS. */
export function monthDay(wall) {
  const date = new Date(wall);
  return `${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

/** strftime("%m-%d %H:%M") of instant ``ms`` read in ``zone``. */
export function monthDayTime(zone, ms) {
  const date = new Date(wallAt(zone, ms));
  return `${monthDay(date.getTime())} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}`;
}
