"""The JavaScript decider on a real server's bundle: the demo compound's, built by
gate/devices/bundle.py from its database (its keys, household codes, active passes, crossing
times with microseconds), decides every card of the compound exactly as the scanner's offline
decision does, in both directions, fresh and stale, with and without an override."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from corpus_builder import Corpus
from node_runner import HERE, ROOT, assert_all_agree, node_path
from sqlalchemy import select

from gate.devices.bundle import build_bundle
from gate.issuing.models import IssuedPass
from gate.issuing.operations import pass_text
from passes import Direction, Override
from tests.e2e.browser_helpers import seed_site


def test_demo_bundle_decides_every_card_as_the_scanner_does(tmp_path: Path) -> None:
    node = node_path()
    site = seed_site(tmp_path, households=12)
    generated = datetime.now(UTC)
    with site.sessions() as session:
        records = list(session.scalars(select(IssuedPass).order_by(IssuedPass.id)))
        assert records, "the demo issued no passes"
        bundle, _etag = build_bundle(session, records[0].community_id, now=generated)
        texts = [pass_text(session, record) for record in records]
    site.app.extensions["checkpoint"].engine.dispose()
    corpus = Corpus()
    corpus.bundles["demo"] = bundle
    override = Override(supervisor="值班主任", reason="就医")
    for index, text in enumerate(texts):
        for later in (timedelta(minutes=5), timedelta(hours=9), timedelta(hours=30)):
            for direction in Direction:
                for temperature, chosen in ((365, None), (380, override), (None, None)):
                    corpus.add_bundle_case(
                        f"demo/{index}/{later}/{direction.value}/{temperature}",
                        "demo",
                        text,
                        now=generated + later,
                        direction=direction,
                        temperature=temperature,
                        override=chosen,
                    )
    path = tmp_path / "demo_cases.json"
    path.write_text(
        json.dumps(
            {
                "codes": [],
                "reasons": [],
                "keysets": {},
                "rulesets": {},
                "bundles": corpus.bundles,
                "cases": corpus.cases,
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    completed = subprocess.run(
        [node, str(HERE / "run_corpus.mjs"), "--json", f"--corpus={path}"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        check=False,
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["total"] == len(corpus.cases) >= 200
    assert_all_agree(result, "Node on the demo bundle")
    verdicts = {case["expected"]["code"] for case in corpus.cases}
    assert {None, "fever", "stale_bundle"} <= verdicts, verdicts
