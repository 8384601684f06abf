"""The JavaScript decider's file list (gate/static/js/checkpoint/files.json), which the phone
gate's service worker keeps for offline use, names every file the decider can load."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DECIDER = ROOT / "gate" / "static" / "js" / "checkpoint"
IMPORT = re.compile(r"""(?:from|import)\s*\(?\s*["'](\.{1,2}/[^"']+)["']""")


def _listed() -> set[Path]:
    data = json.loads((DECIDER / "files.json").read_text(encoding="utf-8"))
    return {(DECIDER / name).resolve() for name in data["files"]}


def _imported_from(start: Path) -> set[Path]:
    """Every module ``start`` loads, directly or through others (static and dynamic imports)."""
    seen: set[Path] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for target in IMPORT.findall(module.read_text(encoding="utf-8")):
            todo.append((module.parent / target).resolve())
    return seen


def test_file_list_names_every_module_the_decider_loads_and_nothing_else() -> None:
    listed = _listed()
    assert all(path.is_file() for path in listed), sorted(p for p in listed if not p.is_file())
    loaded = _imported_from((DECIDER / "index.js").resolve())
    own = {path.resolve() for path in DECIDER.glob("*.js")}
    assert loaded <= listed, f"not in files.json: {sorted(loaded - listed)}"
    assert own <= listed, f"not in files.json: {sorted(own - listed)}"
    assert listed <= loaded | own, f"listed but never loaded: {sorted(listed - loaded - own)}"


def test_vendored_ed25519_keeps_its_license_beside_it() -> None:
    vendor = ROOT / "gate" / "static" / "vendor" / "noble-ed25519"
    assert "MIT License" in (vendor / "LICENSE").read_text(encoding="utf-8")
    assert (
        (vendor / "index.js")
        .read_text(encoding="utf-8")
        .startswith("/*! noble-ed25519 - MIT License")
    )
