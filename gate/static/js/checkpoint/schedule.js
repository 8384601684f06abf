// Time arithmetic of the rules (passes/schedule.py): quota windows, exit hours, the next
// allowed exit, overdue. Instants are microseconds (timefmt.js); local dates and wall-clock
// hours are read in the rule set's zone (zone.js).

import { sealingLock } from "./lockdown.js";
import { exitHoursContain, unitsOf, WindowKind } from "./rules.js";
import { HouseholdStatus, isQuarantined } from "./state.js";
import {
  DAY_US,
  HOUR_US,
  MINUTE_US,
  localDay,
  localMidnight,
  localTimeOfDay,
  wallAt,
  wallToInstant,
} from "./zone.js";

/** The exits that count towards the quota window ending at ``now``: calendar window of L
 * days = local dates today-L+1 .. today; rolling window of L hours = strictly after now - L h. */
export function countedExits(state, rules, now) {
  if (rules.quota === null) return [];
  const length = rules.quota.length;
  if (rules.quota.window === WindowKind.ROLLING_HOURS) {
    const start = now - length * HOUR_US;
    return state.exits.filter((t) => start < t && t <= now);
  }
  const start = localMidnight(rules.timezone, localDay(rules.timezone, now) - (length - 1));
  return state.exits.filter((t) => start <= t && t <= now);
}

/** The earliest moment >= ``now`` at which ``units`` more exits fit the quota (null: never,
 * more than the quota allows in any window). */
export function quotaFreeAt(state, rules, now, units = 1) {
  if (rules.quota === null) return now;
  if (units > rules.quota.exits) return null;
  const counted = [...countedExits(state, rules, now)].sort((a, b) => a - b);
  const surplus = counted.length + units - 1 - rules.quota.exits;
  if (surplus < 0) return now;
  const leaving = counted[surplus];
  if (rules.quota.window === WindowKind.ROLLING_HOURS)
    return leaving + rules.quota.length * HOUR_US;
  return localMidnight(rules.timezone, localDay(rules.timezone, leaving) + rules.quota.length);
}

/** True iff exits are allowed at ``now`` by the exit hours (true if there are none). */
export function withinExitHours(rules, now) {
  if (rules.exit_hours === null) return true;
  return exitHoursContain(rules.exit_hours, localTimeOfDay(rules.timezone, now));
}

/** ``now`` if inside exit hours, else the next start of the exit hours. Like Python, the
 * opening is compared with ``now`` as wall-clock times of the same zone. */
export function nextOpening(rules, now) {
  if (rules.exit_hours === null || withinExitHours(rules, now)) return now;
  const local = wallAt(rules.timezone, now);
  let opening = Math.floor(local / DAY_US) * DAY_US + rules.exit_hours.start_us;
  if (opening <= local) opening += DAY_US;
  return wallToInstant(rules.timezone, opening);
}

/** The earliest moment >= ``now`` when an exit of ``people`` persons would pass a sealed zone,
 * quarantine, quota and hours; null while sealed or quarantined with no end date, or when the
 * group is larger than the quota. Ignores people already out. Repeated until no step moves the
 * moment (a seal that starts while the quota waits), as passes.next_exit_at. */
export function nextExitAt(state, rules, now, people = 1) {
  const units = unitsOf(rules, people);
  if (state.zones.length === 0) return nextCandidate(state, rules, now, units);
  let moment = now;
  for (let round = 0; round < 16; round += 1) {
    const start = moment;
    moment = nextCandidate(state, rules, start, units);
    if (moment === null || moment === start) return moment;
  }
  return moment;
}

function nextCandidate(state, rules, now, units) {
  let moment = now;
  const seal = sealingLock(state.zones, moment);
  if (seal !== null) {
    if (seal.ends_at === null) return null;
    moment = seal.ends_at;
  }
  if (isQuarantined(state, moment)) {
    if (state.quarantine_until === null) return null;
    moment = state.quarantine_until;
  }
  if (state.status !== HouseholdStatus.EXEMPT) {
    const free = quotaFreeAt(state, rules, moment, units);
    if (free === null) return null;
    moment = Math.max(moment, free);
  }
  return nextOpening(rules, moment);
}

/** Exit times of members out longer than max_outside_minutes (empty if no limit). */
export function overdueSince(state, rules, now) {
  if (rules.max_outside_minutes === null) return [];
  const limit = now - rules.max_outside_minutes * MINUTE_US;
  return state.out_since.filter((t) => t < limit);
}

/** The last local date (a day number) a period ending at ``end`` covers: a quarantine "through
 * 11-29" ends at local midnight starting 11-30, shown as 11-29. */
export function lastDayCovered(end, rules) {
  const local = wallAt(rules.timezone, end);
  const day = Math.floor(local / DAY_US);
  return local === day * DAY_US ? day - 1 : day;
}
