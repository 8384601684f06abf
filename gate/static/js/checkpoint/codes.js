// Stable verdict codes and their one-line reasons in zh-CN and en, as passes/codes.py.
// A code's string value is permanent; the corpus test fails if a code or a text here differs
// from the Python table.

export const Code = Object.freeze({
  BAD_FORMAT: "bad_format",
  UNKNOWN_KEY: "unknown_key",
  BAD_SIGNATURE: "bad_signature",
  KEY_REVOKED: "key_revoked",
  KEY_NOT_VALID: "key_not_valid",
  VALIDITY_TOO_LONG: "validity_too_long",
  WRONG_COMMUNITY: "wrong_community",
  NOT_YET_VALID: "not_yet_valid",
  EXPIRED: "expired",
  REVOKED: "revoked",
  SUPERSEDED: "superseded",
  UNKNOWN_HOUSEHOLD: "unknown_household",
  SCREEN_CODE_STALE: "screen_code_stale",
  UNKNOWN_PASS: "unknown_pass",
  SENSOR_ERROR: "sensor_error",
  NO_TEMPERATURE: "no_temperature",
  FEVER: "fever",
  QUARANTINED: "quarantined",
  OUTSIDE_HOURS: "outside_hours",
  ALREADY_OUT: "already_out",
  QUOTA: "quota",
  EXITS_CLOSED: "exits_closed",
  ZONE_SEALED_BUILDING: "zone_sealed_building",
  ZONE_SEALED_COMPOUND: "zone_sealed_compound",
  ZONE_SEALED_GRID: "zone_sealed_grid",
  STALE_BUNDLE: "stale_bundle",
  CLOCK_FAULT: "clock_fault",
  SUPERVISOR_CARD_INVALID: "supervisor_card_invalid",
  SUPERVISOR_CARD_EXPIRED: "supervisor_card_expired",
  SUPERVISOR_CARD_REVOKED: "supervisor_card_revoked",
  SUPERVISOR_LOGIN_INVALID: "supervisor_login_invalid",
  OVERRIDE_UNAUTHORIZED: "override_unauthorized",
  ENTRY_WITHOUT_EXIT: "entry_without_exit",
  OVERRIDE: "override",
  RETURNED_LATE: "returned_late",
  NO_PASS: "no_pass",
  HANDED_OVER: "handed_over",
  VISITOR_PASS_USED: "visitor_pass_used",
  VISITOR_PASS_REVOKED: "visitor_pass_revoked",
  VISITOR_PASS_EXPIRED: "visitor_pass_expired",
  VISITOR_PASS_NOT_YET_VALID: "visitor_pass_not_yet_valid",
  VISITOR: "visitor",
  PLATE_INVALID: "plate_invalid",
  PLATE_MISMATCH: "plate_mismatch",
  VEHICLE_PASS_REQUIRED: "vehicle_pass_required",
  OUTSIDE_PLATE: "outside_plate",
  VEHICLE_PASS: "vehicle_pass",
  PLATE_REGISTERED: "plate_registered",
  OUTSIDE_PLATE_REGISTERED: "outside_plate_registered",
});

/** Codes that mean the pass itself is not good; nothing about the household is known. */
export const PASS_VALIDITY_CODES = Object.freeze(
  new Set([
    Code.BAD_FORMAT,
    Code.UNKNOWN_KEY,
    Code.BAD_SIGNATURE,
    Code.KEY_REVOKED,
    Code.KEY_NOT_VALID,
    Code.VALIDITY_TOO_LONG,
    Code.WRONG_COMMUNITY,
    Code.NOT_YET_VALID,
    Code.EXPIRED,
    Code.REVOKED,
    Code.SUPERSEDED,
    Code.UNKNOWN_HOUSEHOLD,
    Code.SCREEN_CODE_STALE,
    Code.UNKNOWN_PASS,
    Code.VISITOR_PASS_USED,
    Code.VISITOR_PASS_REVOKED,
    Code.VISITOR_PASS_EXPIRED,
    Code.VISITOR_PASS_NOT_YET_VALID,
    Code.PLATE_MISMATCH,
  ]),
);

/** Why an override was not let count (shown instead of the refusal's own reason). */
export const OVERRIDE_REFUSAL_CODES = Object.freeze(
  new Set([
    Code.SUPERVISOR_CARD_INVALID,
    Code.SUPERVISOR_CARD_EXPIRED,
    Code.SUPERVISOR_CARD_REVOKED,
    Code.SUPERVISOR_LOGIN_INVALID,
    Code.OVERRIDE_UNAUTHORIZED,
  ]),
);

/** Codes that ask the volunteer to measure again: amber, never allowed, never overridden. */
export const REMEASURE_CODES = Object.freeze(new Set([Code.SENSOR_ERROR, Code.NO_TEMPERATURE]));

/** code -> [zh, en] */
export const REASONS = Object.freeze({
  bad_format: ["不是本系统的出入证", "Not a Checkpoint pass"],
  unknown_key: ["出入证签发密钥未知", "Pass signed by an unknown key"],
  bad_signature: ["出入证签名无效（可能伪造）", "Invalid signature (possible forgery)"],
  key_revoked: ["出入证签发密钥已作废", "The pass's signing key was revoked"],
  key_not_valid: ["出入证签发时间不在密钥有效期内", "Pass issued outside its key's period"],
  validity_too_long: [
    "出入证有效期超出上限（疑似伪造）",
    "Pass valid for longer than any pass is issued (possible forgery)",
  ],
  wrong_community: ["非本小区出入证", "Pass belongs to another community"],
  not_yet_valid: ["出入证尚未生效", "Pass not yet valid"],
  expired: ["出入证已过期", "Pass expired"],
  revoked: ["出入证已挂失作废", "Pass revoked"],
  superseded: ["出入证已补办，旧证作废", "Pass replaced by a newer card"],
  unknown_household: ["住户未登记", "Household not registered"],
  screen_code_stale: [
    "动态码已过期，请让住户刷新页面",
    "Screen code out of date: ask the resident to reload the page",
  ],
  unknown_pass: ["出入证未登记（非本系统签发）", "Pass not on record (not issued here)"],
  sensor_error: ["体温读数异常，请复测", "Implausible temperature reading, re-measure"],
  no_temperature: ["未测体温，请测温", "No temperature reading, please measure"],
  fever: ["体温异常，请留观并联系医护人员", "Fever: hold and call medical staff"],
  quarantined: ["居家隔离中，不得外出", "Household in home quarantine"],
  outside_hours: ["不在允许外出时段", "Outside exit hours"],
  already_out: ["本户已有人外出未归", "A member of this household is already out"],
  quota: ["本户外出次数已用完", "Household outing quota used up"],
  exits_closed: ["全封闭管理，暂停外出", "Full lockdown: no exits"],
  zone_sealed_building: ["所在楼栋封控中，不得外出", "Building sealed: no exits"],
  zone_sealed_compound: ["所在小区封控中，不得外出", "Compound sealed: no exits"],
  zone_sealed_grid: ["所在网格封控中，不得外出", "Grid sealed: no exits"],
  stale_bundle: ["离线过久，需值班负责人放行", "Offline too long: supervisor needed"],
  clock_fault: ["设备时钟异常，请联系值班负责人", "Device clock fault: call the supervisor"],
  supervisor_card_invalid: [
    "主管卡无效，不能放行",
    "Not a valid supervisor card of this community: override refused",
  ],
  supervisor_card_expired: ["主管卡已过期，不能放行", "Supervisor card expired: override refused"],
  supervisor_card_revoked: ["主管卡已作废，不能放行", "Supervisor card revoked: override refused"],
  supervisor_login_invalid: [
    "主管账号或密码错误，不能放行",
    "Supervisor account or password wrong: override refused",
  ],
  override_unauthorized: ["放行需刷主管卡", "An override needs a supervisor card"],
  entry_without_exit: ["无外出记录的进入", "Entry without a recorded exit"],
  override: ["值班负责人放行", "Let through by supervisor override"],
  returned_late: ["超时返回，请提醒住户按时返回", "Came back later than allowed"],
  no_pass: ["无证人员，劝返", "No pass: turned back"],
  handed_over: ["物品已在出入口交接，人员未进入", "Handed over at the gate, nobody entered"],
  visitor_pass_used: ["访客通行证已使用（仅限一次）", "Visitor pass already used (single use)"],
  visitor_pass_revoked: ["访客通行证已作废", "Visitor pass revoked"],
  visitor_pass_expired: ["访客通行证已过期", "Visitor pass expired"],
  visitor_pass_not_yet_valid: ["访客通行证尚未生效", "Visitor pass not yet valid"],
  visitor: ["访客凭访客通行证进入", "Visitor with a visitor pass"],
  plate_invalid: ["车牌号格式不正确，请核对", "Not a valid plate: check it"],
  plate_mismatch: ["车牌与车辆通行证不符", "Plate does not match the vehicle pass"],
  vehicle_pass_required: ["无车辆通行证，禁止进入", "No vehicle pass: entry refused"],
  outside_plate: ["外地车辆，禁止进入", "Outside plate: entry refused"],
  vehicle_pass: ["车辆凭通行证通行", "Vehicle with its vehicle pass"],
  plate_registered: ["车牌已登记，放行", "Plate logged, let through"],
  outside_plate_registered: ["外地车辆已登记，放行", "Outside plate logged, let through"],
});

const NEXT_EXIT = ["，下次可外出：{when}", "; next outing allowed {when}"];
const UNTIL = ["（至 {when}）", " (until {when})"];
/** Refusals whose time is the last day they hold, not the next outing (passes UNTIL_CODES). */
export const UNTIL_CODES = new Set([
  Code.QUARANTINED,
  Code.ZONE_SEALED_BUILDING,
  Code.ZONE_SEALED_COMPOUND,
  Code.ZONE_SEALED_GRID,
]);

/**
 * The one-line reason for ``code`` in ``lang`` ("zh" or "en"), as passes.reason.
 * ``nextExit`` is an already formatted time text appended for quota-like refusals.
 */
export function reason(code, lang = "zh", nextExit = null) {
  const index = lang.startsWith("en") ? 1 : 0;
  const texts = REASONS[code];
  if (texts === undefined) throw new RangeError(`unknown code ${code}`);
  let text = texts[index];
  if (nextExit !== null && nextExit !== undefined) {
    const template = UNTIL_CODES.has(code) ? UNTIL : NEXT_EXIT;
    text += template[index].replace("{when}", () => nextExit);
  }
  return text;
}

/** The screen for a verdict: "allow", "remeasure" or "refuse" (passes.wire.display_of). */
export function displayOf(allowed, code) {
  if (allowed) return "allow";
  return REMEASURE_CODES.has(code) ? "remeasure" : "refuse";
}
