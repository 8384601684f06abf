// UTC timestamps in JSON, as passes/timefmt.py, and the decider's unit of time.
//
// Inside the decider an instant is an integer number of MICROSECONDS since the Unix epoch:
// Python's datetimes carry microseconds (a scanner's crossing times do), and integers up to
// 2^53 hold them exactly until the year 2255, so every comparison and sum is exact, as in
// Python. The entry points (decide, decideFromBundle, readBundle, advance) take Dates or ISO
// texts and convert with toInstant.

export const SECOND_US = 1_000_000;
export const MINUTE_US = 60 * SECOND_US;
export const HOUR_US = 60 * MINUTE_US;
export const DAY_US = 24 * HOUR_US;

/** Python's ``format_utc``: ISO 8601 in UTC with ``Z``, a fraction only when non-zero (six
 * digits, as datetime.isoformat writes it); null stays null. ``us``: microseconds. */
export function formatUtc(us) {
  if (us === null || us === undefined) return null;
  if (!Number.isSafeInteger(us)) throw new RangeError("not a time");
  const seconds = Math.floor(us / SECOND_US);
  const fraction = us - seconds * SECOND_US;
  const text = new Date(seconds * 1000).toISOString().slice(0, 19);
  return fraction === 0 ? `${text}Z` : `${text}.${String(fraction).padStart(6, "0")}Z`;
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?(Z|[+-]\d{2}:\d{2}(?::\d{2})?)?$/;

/** Python's ``parse_utc`` for the ISO 8601 forms the wire uses: a time with ``Z`` or an
 * offset (a time without a zone is refused); null stays null. Returns microseconds. */
export function parseUtc(text) {
  if (text === null || text === undefined) return null;
  if (typeof text !== "string") throw new TypeError("timestamp must be a string");
  const match = ISO.exec(text);
  if (match === null) throw new RangeError(`not an ISO 8601 time: ${JSON.stringify(text)}`);
  const [, y, mo, d, h, mi, s = "0", frac = "", zone] = match;
  if (zone === undefined) {
    throw new RangeError(`timestamp ${JSON.stringify(text)} has no time zone`);
  }
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number);
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
  date.setUTCFullYear(year);
  if (
    year < 1 ||
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw new RangeError(`not a valid time: ${JSON.stringify(text)}`);
  }
  let offset = 0;
  if (zone !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const [oh, om, os = "0"] = zone.slice(1).split(":");
    if (Number(oh) > 23 || Number(om) > 59 || Number(os) > 59) {
      throw new RangeError(`not a valid offset: ${JSON.stringify(text)}`);
    }
    offset = sign * ((Number(oh) * 60 + Number(om)) * 60 + Number(os));
  }
  return (date.getTime() / 1000 - offset) * SECOND_US + Number(frac.padEnd(6, "0"));
}

/** An instant from a Date, an ISO 8601 text with a zone, or epoch SECONDS (a number, kept to
 * the microsecond), in microseconds. */
export function toInstant(now) {
  if (now instanceof Date) {
    const ms = now.getTime();
    if (!Number.isFinite(ms)) throw new RangeError("invalid Date");
    return ms * 1000;
  }
  if (typeof now === "string") {
    const us = parseUtc(now);
    if (us === null) throw new TypeError("now must be a time");
    return us;
  }
  if (typeof now === "number" && Number.isFinite(now)) return Math.round(now * SECOND_US);
  throw new TypeError("now must be a Date, an ISO 8601 text or epoch seconds");
}

/** A Date (millisecond resolution) for an instant in microseconds. */
export function toDate(us) {
  return new Date(Math.floor(us / 1000));
}
