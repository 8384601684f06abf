"""``checkpoint vehicles`` end to end on a temporary SQLite file: a car registered for a
household with its pass issued and printed (the PNG's QR decodes to the pass, the PDF is a
PDF), listed, revoked and removed, all audited; bad plates and unknown households are
refused in Chinese with a non-zero exit and nothing written."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import test_cli_registry as registry
from factories import make_household
from PIL import Image
from test_cli_registry import Office

from gate.cli.vehicles import vehicles_group
from gate.community.models import Community
from gate.db import session_factory, transaction
from gate.vehicles.models import Vehicle, VehiclePassRecord
from passes.vehicle_pass import parse_vehicle_pass

zxingcpp = pytest.importorskip("zxingcpp")
registry.root.add_command(vehicles_group)

NUMBER = re.compile(r"\b([0-9A-F]{8})\b")


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    office = Office(tmp_path)
    office("db", "upgrade")
    with transaction(session_factory(office.engine)) as session:
        community = Community(id=350322, name="幸福里社区", code="xfl")
        session.add(community)
        session.flush()
        make_household(session, community=community, code="1-2-301")
    office("keys", "create")
    try:
        yield office
    finally:
        office.engine.dispose()


def test_help_is_chinese_with_examples(office: Office) -> None:
    text = office("vehicles", "--help").output
    for word in ("车辆", "add", "issue", "revoke", "remove", "list", "check", "card"):
        assert word in text
    for command in ("add", "issue", "card", "revoke", "remove", "list", "check"):
        helptext = office("vehicles", command, "--help").output
        assert "示例" in helptext
        assert "Example: checkpoint vehicles" in helptext


def test_register_issue_print_list_revoke_remove(office: Office, tmp_path: Path) -> None:
    png = tmp_path / "车辆证.png"
    added = office(
        "vehicles", "add", "--household", "1-2-301", "--plate", "鲁ｅ d12345", "--note", "白色轿车",
        "--out", str(png),
    )  # fmt: skip
    assert "鲁ED12345" in added.output
    number = NUMBER.search(added.output)
    assert number is not None
    image = np.asarray(Image.open(png).convert("L"))
    texts = [result.text for result in zxingcpp.read_barcodes(image)]
    assert len(texts) == 1
    fields, _body, _signature = parse_vehicle_pass(texts[0])
    assert fields.plate == "鲁ED12345"
    listing = office("vehicles", "list").output
    assert f"鲁ED12345\t新能源\t1-2-301\t{number.group(1)}" in listing
    pdf = tmp_path / "card.pdf"
    office("vehicles", "card", "--plate", "鲁ED12345", "--out", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    office("vehicles", "revoke", "--plate", "鲁ED12345", "--reason", "遗失")
    assert "\t-\t-\t" in office("vehicles", "list").output
    office("vehicles", "issue", "--plate", "鲁ED12345", "--days", "30")
    office("vehicles", "remove", "--plate", "鲁ED12345", "--reason", "已售出")
    assert office.count(VehiclePassRecord, VehiclePassRecord.revoked_at.is_(None)) == 0
    for action in ("vehicle.add", "vehicle_pass.issue", "vehicle_pass.print", "vehicle.remove"):
        assert office.audit(action), action
    assert len(office.audit("vehicle_pass.revoke")) == 1


def test_bad_input_is_refused_and_nothing_is_written(office: Office) -> None:
    bad = office("vehicles", "add", "--household", "1-2-301", "--plate", "鲁E1234", code=1)
    assert "7" in bad.output  # the plate-length message names 7 characters
    office("vehicles", "add", "--household", "9-9-999", "--plate", "鲁E12345", code=1)
    office("vehicles", "add", "--household", "1-2-301", "--plate", "鲁E12345", "--days", "999",
           "--issue", code=1)  # fmt: skip
    assert office.count(Vehicle) == 0
    office("vehicles", "revoke", "--plate", "鲁E12345", "--reason", "x", code=1)


def test_check_prints_the_normal_form_or_why_not(office: Office) -> None:
    assert office("vehicles", "check", "使 014578").output.strip() == "使014578\t使馆"
    assert office("vehicles", "check", "鲁E12345D").output.strip() == "鲁E12345D\t新能源"
    office("vehicles", "check", "港A12345", code=1)


def _sheet(path: Path, rows: list[list[str]]) -> Path:
    header = ["户编号", "楼栋", "房号", "户主姓名", "联系电话", "车牌号"]
    path.write_text("\n".join(",".join(row) for row in [header, *rows]) + "\n", "utf-8-sig")
    return path


def test_the_import_takes_the_plate_column(office: Office, tmp_path: Path) -> None:
    sheet = _sheet(
        tmp_path / "住户.csv",
        [
            ["5-1-101", "5", "101", "赵一", "13800000001", "鲁e 12345、鲁ED54321"],
            ["5-1-102", "5", "102", "钱二", "13800000002", ""],
        ],
    )
    office("households", "import", str(sheet))
    listing = office("vehicles", "list").output
    assert "鲁E12345\t普通\t5-1-101" in listing
    assert "鲁ED54321\t新能源\t5-1-101" in listing
    office("households", "import", str(sheet))  # the same sheet again: nothing doubles
    assert office.count(Vehicle) == 2


def test_a_bad_or_taken_plate_refuses_its_row_and_nothing_is_imported(
    office: Office, tmp_path: Path
) -> None:
    bad = _sheet(tmp_path / "bad.csv", [["5-1-101", "5", "101", "赵一", "13800000001", "鲁E1"]])
    result = office("households", "import", str(bad), code=1)
    assert "鲁E1" in result.output
    office("vehicles", "add", "--household", "1-2-301", "--plate", "鲁E12345")
    taken = _sheet(
        tmp_path / "taken.csv", [["5-1-101", "5", "101", "赵一", "13800000001", "鲁E12345"]]
    )
    office("households", "import", str(taken), code=1)
    assert office.count(Vehicle) == 1
