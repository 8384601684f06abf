"""The pure core of Checkpoint: pass format, signing and verifying, rules, the decision.

No I/O, no clock, no environment: keys, rules, household state and ``now`` are
arguments, so the gate server and an offline scanner run exactly the same code.
"""

from passes import wire
from passes.codes import (
    OVERRIDE_REFUSAL_CODES,
    PASS_VALIDITY_CODES,
    REMEASURE_CODES,
    Code,
    reason,
)
from passes.decision import Override, Verdict, decide, describe
from passes.errors import PassError
from passes.keys import KeyEntry, KeySet, KeyStatus, SigningKey, new_pass_id
from passes.pass_format import MAX_INPUT_LENGTH, PREFIX, TEXT_LENGTH, Pass, SignedPass, parse_pass
from passes.qr import qr_modules, qr_version, render_png, render_svg
from passes.rules import (
    ExitHours,
    Quota,
    RuleSet,
    RuleSetError,
    TemperatureRules,
    WindowKind,
    rules_from_dict,
    rules_from_json,
)
from passes.schedule import (
    counted_exits,
    last_day_covered,
    next_exit_at,
    overdue_since,
    quota_free_at,
)
from passes.screen_code import (
    SCREEN_PREFIX,
    ScreenCode,
    ScreenCodeCheck,
    VerifiedScreenCode,
    is_screen_code,
    parse_screen_code,
    screen_code_for,
    screen_pass_check,
    sign_screen_code,
    verify_screen_code,
)
from passes.state import Direction, HouseholdState, HouseholdStatus, advance
from passes.supervisor_card import (
    CARD_PREFIX,
    CardCheck,
    CardRejected,
    CardState,
    SupervisorCard,
    VerifiedCard,
    card_for,
    card_standing,
    is_supervisor_card,
    parse_supervisor_card,
    sign_supervisor_card,
    verify_supervisor_card,
)
from passes.timefmt import format_utc, parse_utc
from passes.verification import PassCheck, PassRejected, VerifiedPass, verify_pass
from passes.wire import WireFormatError

__all__ = [
    "CARD_PREFIX",
    "MAX_INPUT_LENGTH",
    "OVERRIDE_REFUSAL_CODES",
    "PASS_VALIDITY_CODES",
    "PREFIX",
    "REMEASURE_CODES",
    "SCREEN_PREFIX",
    "TEXT_LENGTH",
    "CardCheck",
    "CardRejected",
    "CardState",
    "Code",
    "Direction",
    "ExitHours",
    "HouseholdState",
    "HouseholdStatus",
    "KeyEntry",
    "KeySet",
    "KeyStatus",
    "Override",
    "Pass",
    "PassCheck",
    "PassError",
    "PassRejected",
    "Quota",
    "RuleSet",
    "RuleSetError",
    "ScreenCode",
    "ScreenCodeCheck",
    "SignedPass",
    "SigningKey",
    "SupervisorCard",
    "TemperatureRules",
    "Verdict",
    "VerifiedCard",
    "VerifiedPass",
    "VerifiedScreenCode",
    "WindowKind",
    "WireFormatError",
    "advance",
    "card_for",
    "card_standing",
    "counted_exits",
    "decide",
    "describe",
    "format_utc",
    "is_screen_code",
    "is_supervisor_card",
    "last_day_covered",
    "new_pass_id",
    "next_exit_at",
    "overdue_since",
    "parse_pass",
    "parse_screen_code",
    "parse_supervisor_card",
    "parse_utc",
    "qr_modules",
    "qr_version",
    "quota_free_at",
    "reason",
    "render_png",
    "render_svg",
    "rules_from_dict",
    "rules_from_json",
    "screen_code_for",
    "screen_pass_check",
    "sign_screen_code",
    "sign_supervisor_card",
    "verify_pass",
    "verify_screen_code",
    "verify_supervisor_card",
    "wire",
]
