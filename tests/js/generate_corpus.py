"""Generate the decider corpus: cases decided by passes.decide for the JavaScript decider.

    python tests/js/generate_corpus.py           # write tests/js/corpus/decide_cases.json.gz
    python tests/js/generate_corpus.py --check   # exit 1 if the committed file is stale

Every case is decided by the Python code when the corpus is built (passes.decide, the screen
code checks, the scanner's offline decision with a bundle); tests/js/run_corpus.mjs runs the
JavaScript decider (gate/static/js/checkpoint/) over the same inputs and must agree on every
field. Change passes/ and the JavaScript together, then run this script and commit both.
Deterministic: fixed keys, seeds and times, gzip without a time stamp. The text inside has one
case per line (``zcat`` it to read); ``--check`` names the cases a change altered.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script or imported by the test: the helpers sit here
    sys.path.insert(0, str(HERE))
if str(HERE.parents[1]) not in sys.path:
    sys.path.insert(0, str(HERE.parents[1]))

from corpus_builder import Corpus  # noqa: E402
from corpus_bundle import add_bundles  # noqa: E402
from corpus_cards import add_cards  # noqa: E402
from corpus_keys import KEYSETS  # noqa: E402
from corpus_lockdown import add_lockdown, add_lockdown_bundles  # noqa: E402
from corpus_parsing import add_bundle_json, add_rule_json  # noqa: E402
from corpus_people import add_people  # noqa: E402
from corpus_random import add_random  # noqa: E402
from corpus_rules import (  # noqa: E402
    add_closed,
    add_health,
    add_microseconds,
    add_people_out,
    add_quarantine,
    add_rolling_edges,
)
from corpus_screen import add_screen_codes  # noqa: E402
from corpus_validity import add_pass_validity  # noqa: E402
from corpus_vehicles import add_vehicles  # noqa: E402
from corpus_visitors import add_visitors  # noqa: E402
from corpus_zones import add_calendar_edges, add_exit_hours, add_next_exit  # noqa: E402

from passes import Code, reason  # noqa: E402

CORPUS_PATH = HERE / "corpus" / "decide_cases.json.gz"
FORMAT = "checkpoint.decider-corpus.v1"
RANDOM_SCENARIOS = 900
STALE_MESSAGE = (
    "tests/js/corpus/decide_cases.json is stale: passes/ (or the scanner's offline decision) "
    "no longer gives the verdicts it records. Carry the change to gate/static/js/checkpoint/, "
    "then run: python tests/js/generate_corpus.py"
)


def _reasons() -> list[dict[str, Any]]:
    rows = []
    for code in Code:
        for lang in ("zh", "en"):
            for when in (None, "11-29", "11-29 08:00"):
                rows.append(
                    {
                        "code": code.value,
                        "lang": lang,
                        "next_exit": when,
                        "text": reason(code, lang, next_exit=when),
                    }
                )
    return rows


def build_corpus() -> dict[str, Any]:
    """The whole corpus as a JSON-ready object (cases decided now, by the Python code)."""
    corpus = Corpus()
    add_pass_validity(corpus)
    add_screen_codes(corpus)
    add_health(corpus)
    add_calendar_edges(corpus)
    add_rolling_edges(corpus)
    add_exit_hours(corpus)
    add_quarantine(corpus)
    add_people_out(corpus)
    add_closed(corpus)
    add_next_exit(corpus)
    add_microseconds(corpus)
    add_bundles(corpus)
    add_rule_json(corpus)
    add_cards(corpus)
    add_bundle_json(corpus)
    add_random(corpus, RANDOM_SCENARIOS)
    add_lockdown(corpus)
    add_lockdown_bundles(corpus)
    add_people(corpus)
    add_vehicles(corpus)
    add_visitors(corpus)
    return {
        "format": FORMAT,
        "generated_by": "tests/js/generate_corpus.py",
        "codes": [code.value for code in Code],
        "reasons": _reasons(),
        "keysets": {name: keys.to_list() for name, keys in KEYSETS.items()},
        "rulesets": corpus.rulesets,
        "bundles": corpus.bundles,
        "cases": corpus.cases,
    }


def render(corpus: dict[str, Any]) -> str:
    """Canonical text: the tables first, then one case per line (reviewable diffs)."""

    def dump(value: object) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    head = {key: value for key, value in corpus.items() if key != "cases"}
    lines = [f"  {dump(key)}:{dump(value)}," for key, value in sorted(head.items())]
    cases = [f"    {dump(case)}" for case in corpus["cases"]]
    return "{\n" + "\n".join(lines) + '\n  "cases":[\n' + ",\n".join(cases) + "\n  ]\n}\n"


def compress(text: str) -> bytes:
    """gzip without a time stamp or name, so equal text gives equal bytes."""
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def read_committed(path: Path = CORPUS_PATH) -> str | None:
    """The committed corpus text, or None if there is none."""
    return gzip.decompress(path.read_bytes()).decode("utf-8") if path.exists() else None


def stale_cases(fresh: dict[str, Any], committed_text: str | None) -> list[str]:
    """What differs between the corpus the code gives now and the committed one: case ids
    (first 20), or a note on the tables. Empty when the committed file is up to date."""
    if committed_text is None:
        return ["(no committed corpus)"]
    if committed_text == render(fresh):
        return []
    committed = json.loads(committed_text)
    changed = [key for key in fresh if key != "cases" and fresh[key] != committed.get(key)]
    old = {case["id"]: case for case in committed.get("cases", [])}
    for case in fresh["cases"]:
        if old.get(case["id"]) != case:
            changed.append(case["id"])
    if len(fresh["cases"]) != len(old):
        changed.append(f"(case count {len(old)} -> {len(fresh['cases'])})")
    return changed[:20] or ["(formatting)"]


def main(argv: list[str]) -> int:
    """Write the corpus, or with ``--check`` report whether the committed one is stale."""
    if "--check" in argv:
        changed = stale_cases(build_corpus(), read_committed())
        if changed:
            print(STALE_MESSAGE + "\nchanged: " + ", ".join(changed), file=sys.stderr)
            return 1
        print(f"{CORPUS_PATH.relative_to(HERE.parents[1])} is up to date")
        return 0
    corpus = build_corpus()
    CORPUS_PATH.parent.mkdir(parents=True, exist_ok=True)
    CORPUS_PATH.write_bytes(compress(render(corpus)))
    print(f"wrote {len(corpus['cases'])} cases to {CORPUS_PATH.relative_to(HERE.parents[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
