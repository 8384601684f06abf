// UTC timestamps in JSON, as passes/timefmt.py. Instants are integer milliseconds since the
// Unix epoch (JavaScript's own resolution): Python keeps microseconds, so a time with a
// sub-millisecond part is truncated here. Everything the server sends is whole seconds.

/** Python's ``format_utc``: ISO 8601 in UTC with ``Z``, a fraction only when non-zero
 * (six digits, as datetime.isoformat writes it); null stays null. */
export function formatUtc(ms) {
  if (ms === null || ms === undefined) return null;
  if (!Number.isFinite(ms)) throw new RangeError("not a time");
  const text = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const fraction = text.slice(20, 23);
  return fraction === "000" ? `${text.slice(0, 19)}Z` : `${text.slice(0, 19)}.${fraction}000Z`;
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?(Z|[+-]\d{2}:\d{2}(?::\d{2})?)?$/;

/** Python's ``parse_utc`` for the ISO 8601 forms the wire uses: a time with ``Z`` or an
 * offset (a time without a zone is refused); null stays null. Returns milliseconds. */
export function parseUtc(text) {
  if (text === null || text === undefined) return null;
  if (typeof text !== "string") throw new TypeError("timestamp must be a string");
  const match = ISO.exec(text);
  if (match === null) throw new RangeError(`not an ISO 8601 time: ${JSON.stringify(text)}`);
  const [, y, mo, d, h, mi, s = "0", frac = "", zone] = match;
  if (zone === undefined)
    throw new RangeError(`timestamp ${JSON.stringify(text)} has no time zone`);
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number);
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(wall);
  if (
    year < 1 ||
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw new RangeError(`not a valid time: ${JSON.stringify(text)}`);
  }
  const millis = Math.floor(Number(frac.padEnd(6, "0")) / 1000);
  let offset = 0;
  if (zone !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const [oh, om, os = "0"] = zone.slice(1).split(":");
    if (Number(oh) > 23 || Number(om) > 59 || Number(os) > 59) {
      throw new RangeError(`not a valid offset: ${JSON.stringify(text)}`);
    }
    offset = sign * ((Number(oh) * 60 + Number(om)) * 60 + Number(os)) * 1000;
  }
  return wall + millis - offset;
}

/** An instant given as a Date, or as epoch seconds (a number), as milliseconds. */
export function toMillis(now) {
  if (now instanceof Date) {
    const ms = now.getTime();
    if (!Number.isFinite(ms)) throw new RangeError("invalid Date");
    return ms;
  }
  if (typeof now === "number" && Number.isFinite(now)) return Math.round(now * 1000);
  throw new TypeError("now must be a Date or epoch seconds");
}
