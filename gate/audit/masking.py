"""What an audit reader may see of a value that is itself a credential.

A pass's manual code (人工核验码) lets whoever types it at the gate through as the household,
so the audit trail (read by auditors too) shows only enough of it to tell two codes apart.
"""

from __future__ import annotations

SHOWN = 2
"""How many of a manual code's last characters stay readable."""


def mask_manual_code(code: object) -> str:
    """``7R7Z-72Y6`` -> ``****-**Y6``: the last :data:`SHOWN` characters, the rest starred
    (dashes kept). Empty for None or ""; a value too short to mask is starred whole."""
    text = "" if code is None else str(code).strip()
    characters = [c for c in text if c != "-"]
    if len(characters) <= SHOWN:
        return "*" * len(characters)
    keep = len(characters) - SHOWN
    out: list[str] = []
    seen = 0
    for c in text:
        if c == "-":
            out.append(c)
            continue
        out.append("*" if seen < keep else c)
        seen += 1
    return "".join(out)
