"""Stable machine codes for every verdict, and their human reasons in zh-CN and en.

A code's string value is permanent: it is stored in every crossing row, exported to
auditors and matched by scanners. New codes may be added; none is renamed or reused.
Tests assert codes, never message text.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """Why a crossing was refused, or a note attached to an allowed one."""

    # Pass validity (evaluated first; any of these stops evaluation).
    BAD_FORMAT = "bad_format"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    KEY_REVOKED = "key_revoked"
    KEY_NOT_VALID = "key_not_valid"
    VALIDITY_TOO_LONG = "validity_too_long"
    WRONG_COMMUNITY = "wrong_community"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"
    UNKNOWN_HOUSEHOLD = "unknown_household"
    SCREEN_CODE_STALE = "screen_code_stale"
    """A rotating screen code past its short validity (a screenshot): the pass may be fine."""
    UNKNOWN_PASS = "unknown_pass"  # noqa: S105 - a code, not a password
    # Health.
    SENSOR_ERROR = "sensor_error"
    NO_TEMPERATURE = "no_temperature"
    FEVER = "fever"
    # Household rules (exit only).
    QUARANTINED = "quarantined"
    OUTSIDE_HOURS = "outside_hours"
    ALREADY_OUT = "already_out"
    QUOTA = "quota"
    EXITS_CLOSED = "exits_closed"
    """全封闭: the rules allow no exits at all (exempt households excepted)."""
    ZONE_SEALED_BUILDING = "zone_sealed_building"
    """封控: the household's building is sealed (exempt households too): no exits."""
    ZONE_SEALED_COMPOUND = "zone_sealed_compound"
    """封控: the household's compound is sealed."""
    ZONE_SEALED_GRID = "zone_sealed_grid"
    """封控: the household's grid is sealed."""
    # Scanner policy: offline with a bundle older than its limit (degraded mode).
    STALE_BUNDLE = "stale_bundle"
    # Scanner policy: its clock is behind time it has already seen, or jumped (never decide).
    CLOCK_FAULT = "clock_fault"
    # Override refused: the crossing stays refused (its own code shown, the refusal's kept).
    SUPERVISOR_CARD_INVALID = "supervisor_card_invalid"
    SUPERVISOR_CARD_EXPIRED = "supervisor_card_expired"
    SUPERVISOR_CARD_REVOKED = "supervisor_card_revoked"
    SUPERVISOR_LOGIN_INVALID = "supervisor_login_invalid"
    OVERRIDE_UNAUTHORIZED = "override_unauthorized"
    # Notes on allowed crossings (never a refusal).
    ENTRY_WITHOUT_EXIT = "entry_without_exit"
    OVERRIDE = "override"
    RETURNED_LATE = "returned_late"
    """An entry of a person out longer than the rules' ``max_outside_minutes`` (overdue)."""
    # Outsiders (gate.visitors): people without a household pass.
    NO_PASS = "no_pass"  # noqa: S105 - a code, not a password
    """无证人员: a person without a pass, registered at the gate and turned back (劝返)."""
    HANDED_OVER = "handed_over"
    """A delivery handed over at the gate: recorded, nobody entered (a refusal to enter)."""
    VISITOR_PASS_USED = "visitor_pass_used"  # noqa: S105 - a code, not a password
    VISITOR_PASS_REVOKED = "visitor_pass_revoked"  # noqa: S105 - a code, not a password
    VISITOR_PASS_EXPIRED = "visitor_pass_expired"  # noqa: S105 - a code, not a password
    VISITOR_PASS_NOT_YET_VALID = "visitor_pass_not_yet_valid"  # noqa: S105 - a code
    VISITOR = "visitor"
    """Note on an allowed crossing made with a visitor pass."""
    # Vehicles (gate.vehicles): a car by its vehicle pass or by the plate typed at the gate.
    PLATE_INVALID = "plate_invalid"
    """The typed plate is no mainland plate (passes.plates)."""
    PLATE_MISMATCH = "plate_mismatch"
    """The typed plate is not the one on the vehicle pass (a card moved to another car)."""
    VEHICLE_PASS_REQUIRED = "vehicle_pass_required"  # noqa: S105 - a code, not a password
    """A local plate without a vehicle pass where the rule refuses it."""
    OUTSIDE_PLATE = "outside_plate"
    """外地车辆: a plate outside the local prefixes, refused by the rule."""
    VEHICLE_PASS = "vehicle_pass"  # noqa: S105 - a code, not a password
    """Note on an allowed crossing of a car with its vehicle pass."""
    PLATE_REGISTERED = "plate_registered"
    """Note: a car without a pass let in by the rule, its plate logged."""
    OUTSIDE_PLATE_REGISTERED = "outside_plate_registered"
    """Note: an outside plate let in by the rule (登记放行), its plate logged."""


PASS_VALIDITY_CODES = frozenset(
    {
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
    }
)
"""Codes that mean the pass itself is not good; nothing about the household is known."""

OVERRIDE_REFUSAL_CODES = frozenset(
    {
        Code.SUPERVISOR_CARD_INVALID,
        Code.SUPERVISOR_CARD_EXPIRED,
        Code.SUPERVISOR_CARD_REVOKED,
        Code.SUPERVISOR_LOGIN_INVALID,
        Code.OVERRIDE_UNAUTHORIZED,
    }
)
"""Why an override was not let count: shown instead of the refusal's own reason, which stays
the crossing's code (the office still sees ``fever``)."""

REMEASURE_CODES = frozenset({Code.SENSOR_ERROR, Code.NO_TEMPERATURE})
"""Codes that ask the volunteer to measure again: shown amber, never allowed, never overridden."""

_REASONS: dict[Code, tuple[str, str]] = {
    Code.BAD_FORMAT: ("不是本系统的出入证", "Not a Checkpoint pass"),
    Code.UNKNOWN_KEY: ("出入证签发密钥未知", "Pass signed by an unknown key"),
    Code.BAD_SIGNATURE: ("出入证签名无效（可能伪造）", "Invalid signature (possible forgery)"),
    Code.KEY_REVOKED: ("出入证签发密钥已作废", "The pass's signing key was revoked"),
    Code.KEY_NOT_VALID: ("出入证签发时间不在密钥有效期内", "Pass issued outside its key's period"),
    Code.VALIDITY_TOO_LONG: (
        "出入证有效期超出上限（疑似伪造）",
        "Pass valid for longer than any pass is issued (possible forgery)",
    ),
    Code.WRONG_COMMUNITY: ("非本小区出入证", "Pass belongs to another community"),
    Code.NOT_YET_VALID: ("出入证尚未生效", "Pass not yet valid"),
    Code.EXPIRED: ("出入证已过期", "Pass expired"),
    Code.REVOKED: ("出入证已挂失作废", "Pass revoked"),
    Code.SUPERSEDED: ("出入证已补办，旧证作废", "Pass replaced by a newer card"),
    Code.UNKNOWN_HOUSEHOLD: ("住户未登记", "Household not registered"),
    Code.SCREEN_CODE_STALE: (
        "动态码已过期，请让住户刷新页面",
        "Screen code out of date: ask the resident to reload the page",
    ),
    Code.UNKNOWN_PASS: ("出入证未登记（非本系统签发）", "Pass not on record (not issued here)"),
    Code.SENSOR_ERROR: ("体温读数异常，请复测", "Implausible temperature reading, re-measure"),
    Code.NO_TEMPERATURE: ("未测体温，请测温", "No temperature reading, please measure"),
    Code.FEVER: ("体温异常，请留观并联系医护人员", "Fever: hold and call medical staff"),
    Code.QUARANTINED: ("居家隔离中，不得外出", "Household in home quarantine"),
    Code.OUTSIDE_HOURS: ("不在允许外出时段", "Outside exit hours"),
    Code.ALREADY_OUT: ("本户已有人外出未归", "A member of this household is already out"),
    Code.QUOTA: ("本户外出次数已用完", "Household outing quota used up"),
    Code.EXITS_CLOSED: ("全封闭管理，暂停外出", "Full lockdown: no exits"),
    Code.ZONE_SEALED_BUILDING: ("所在楼栋封控中，不得外出", "Building sealed: no exits"),
    Code.ZONE_SEALED_COMPOUND: ("所在小区封控中，不得外出", "Compound sealed: no exits"),
    Code.ZONE_SEALED_GRID: ("所在网格封控中，不得外出", "Grid sealed: no exits"),
    Code.STALE_BUNDLE: ("离线过久，需值班负责人放行", "Offline too long: supervisor needed"),
    Code.CLOCK_FAULT: ("设备时钟异常，请联系值班负责人", "Device clock fault: call the supervisor"),
    Code.SUPERVISOR_CARD_INVALID: (
        "主管卡无效，不能放行",
        "Not a valid supervisor card of this community: override refused",
    ),
    Code.SUPERVISOR_CARD_EXPIRED: (
        "主管卡已过期，不能放行",
        "Supervisor card expired: override refused",
    ),
    Code.SUPERVISOR_CARD_REVOKED: (
        "主管卡已作废，不能放行",
        "Supervisor card revoked: override refused",
    ),
    Code.SUPERVISOR_LOGIN_INVALID: (
        "主管账号或密码错误，不能放行",
        "Supervisor account or password wrong: override refused",
    ),
    Code.OVERRIDE_UNAUTHORIZED: (
        "放行需刷主管卡",
        "An override needs a supervisor card",
    ),
    Code.ENTRY_WITHOUT_EXIT: ("无外出记录的进入", "Entry without a recorded exit"),
    Code.OVERRIDE: ("值班负责人放行", "Let through by supervisor override"),
    Code.RETURNED_LATE: ("超时返回，请提醒住户按时返回", "Came back later than allowed"),
    Code.NO_PASS: ("无证人员，劝返", "No pass: turned back"),
    Code.HANDED_OVER: ("物品已在出入口交接，人员未进入", "Handed over at the gate, nobody entered"),
    Code.VISITOR_PASS_USED: (
        "访客通行证已使用（仅限一次）",
        "Visitor pass already used (single use)",
    ),
    Code.VISITOR_PASS_REVOKED: ("访客通行证已作废", "Visitor pass revoked"),
    Code.VISITOR_PASS_EXPIRED: ("访客通行证已过期", "Visitor pass expired"),
    Code.VISITOR_PASS_NOT_YET_VALID: ("访客通行证尚未生效", "Visitor pass not yet valid"),
    Code.VISITOR: ("访客凭访客通行证进入", "Visitor with a visitor pass"),
    Code.PLATE_INVALID: ("车牌号格式不正确，请核对", "Not a valid plate: check it"),
    Code.PLATE_MISMATCH: ("车牌与车辆通行证不符", "Plate does not match the vehicle pass"),
    Code.VEHICLE_PASS_REQUIRED: ("无车辆通行证，禁止进入", "No vehicle pass: entry refused"),
    Code.OUTSIDE_PLATE: ("外地车辆，禁止进入", "Outside plate: entry refused"),
    Code.VEHICLE_PASS: ("车辆凭通行证通行", "Vehicle with its vehicle pass"),
    Code.PLATE_REGISTERED: ("车牌已登记，放行", "Plate logged, let through"),
    Code.OUTSIDE_PLATE_REGISTERED: ("外地车辆已登记，放行", "Outside plate logged, let through"),
}

UNTIL_CODES = frozenset(
    {Code.QUARANTINED, Code.ZONE_SEALED_BUILDING, Code.ZONE_SEALED_COMPOUND, Code.ZONE_SEALED_GRID}
)
"""Refusals whose time is the last day they hold (``（至 12-14）``), not the next outing."""

_NEXT_EXIT = ("，下次可外出：{when}", "; next outing allowed {when}")
_UNTIL = ("（至 {when}）", " (until {when})")


def reason(code: Code, lang: str = "zh", *, next_exit: str | None = None) -> str:
    """The one-line human reason for ``code`` in ``lang`` ("zh" or "en").

    ``next_exit`` is an already localised time text appended for quota-like refusals.
    """
    index = 1 if lang.startswith("en") else 0
    text = _REASONS[code][index]
    if next_exit is not None:
        template = _UNTIL if code in UNTIL_CODES else _NEXT_EXIT
        text += template[index].format(when=next_exit)
    return text
