"""The JavaScript plate check (plates.js) agrees with passes/plates.py: the shared table, and
a few hundred generated inputs (typos, full-width, separators) answered by both."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

from node_runner import ROOT, node_path

from passes.plates import PROVINCES, PlateError, parse_plate

HERE = Path(__file__).resolve().parent
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdeio〇 ·-警学挂领港澳使Ｅ１" + PROVINCES[:8]


def _python_answer(text: str) -> dict[str, str]:
    try:
        plate = parse_plate(text)
    except PlateError as error:
        return {"problem": error.code.value}
    return {"plate": plate.text, "kind": plate.kind}


def test_javascript_plates_agree_with_the_table_and_with_python(tmp_path: Path) -> None:
    rng = random.Random(15)
    inputs = [
        rng.choice(PROVINCES + "使")
        + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 9)))
        for _ in range(600)
    ]
    inputs_file = tmp_path / "inputs.json"
    inputs_file.write_text(json.dumps(inputs, ensure_ascii=False), encoding="utf-8")
    completed = subprocess.run(
        [node_path(), str(HERE / "plates_check.mjs"), str(inputs_file)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["failures"] == []
    assert result["total"] > 60
    assert result["answers"] == [_python_answer(text) for text in inputs]
    assert any("plate" in answer for answer in result["answers"])
