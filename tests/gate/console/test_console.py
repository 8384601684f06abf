"""The office console through the Flask test client: roles, community scoping, the forms.

Each test gets a compound (``api_helpers.build_compound``: community A with households,
passes, a gate and an enrolled scanner) plus users of every role, and a second community B
with its own household, pass, crossing, device and user to prove that A's users get 404 for
B's rows. Users log in through the real login form. CSRF is off except in the CSRF test.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path

import pytest
from api_helpers import Compound, build_compound
from factories import make_building, make_crossing, make_device, make_pass
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select

from gate.accounts.models import Role, User
from gate.accounts.operations import create_user
from gate.audit.models import AuditEvent
from gate.audit.operations import record_event
from gate.community.models import Community
from gate.community.models import RuleSet as RuleSetRecord
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.devices.models import Device
from gate.households.models import Household
from gate.issuing.models import IssuedPass, PassStatus
from gate.tls.certificates import prepare_tls, tls_paths
from passes import Direction, HouseholdStatus

PASSWORD = "correct-horse-battery"
ROLES = ("admin", "office", "auditor", "volunteer")


@dataclass
class Other:
    """Community B's rows, by id or code."""

    household_code: str
    pass_id: int
    crossing_id: int
    device_id: int
    user_id: int


@dataclass
class Console:
    compound: Compound
    other: Other

    def client(self, role: str | None, *, csrf: bool = False) -> FlaskClient:
        self.compound.app.config["WTF_CSRF_ENABLED"] = csrf
        client = self.compound.app.test_client()
        if role is not None:
            answer = client.post("/login", data={"username": f"a-{role}", "password": PASSWORD})
            assert answer.status_code == 302, answer.get_data(as_text=True)
        return client

    @property
    def code(self) -> str:
        return self.compound.residents[0].code

    def sessions(self):  # type: ignore[no-untyped-def]
        return self.compound.sessions


@pytest.fixture
def console(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Console]:
    compound = build_compound(db_url, tmp_path, households=3)
    sessions = compound.sessions
    with transaction(sessions) as session:
        for role in ROLES:
            create_user(
                session,
                community_id=compound.community_id,
                username=f"a-{role}",
                password=PASSWORD,
                role=Role(role),
                actor="test",
            )
        b = Community(
            id=secrets.randbelow(2**31 - 1) + 1, name="乙社区", code=f"b{secrets.token_hex(3)}"
        )
        session.add(b)
        session.flush()
        building = make_building(session, b)
        household = Household(
            id=secrets.randbelow(2**31 - 10_000) + 10_000,
            community_id=b.id,
            building=building,
            code="B-1-101",
            room="101",
        )
        session.add(household)
        session.flush()
        issued = make_pass(session, household)
        device = make_device(session, community=b)
        crossing = make_crossing(session, device, household, conflict=True, offline=True)
        b_user = create_user(
            session,
            community_id=b.id,
            username="b-office",
            password=PASSWORD,
            role=Role.OFFICE,
            actor="test",
        )
        other = Other(household.code, issued.id, crossing.id, device.id, b_user.id)
    try:
        yield Console(compound, other)
    finally:
        compound.dispose()


# --- roles ----------------------------------------------------------------------------------------

OFFICE = {"admin", "office"}
READ = {"admin", "office", "auditor"}
ADMIN = {"admin"}
PAGES = [
    ("/", READ),
    ("/households", OFFICE),
    ("/households/{code}", OFFICE),
    ("/households/{code}/edit", OFFICE),
    ("/households/new", OFFICE),
    ("/households/import", OFFICE),
    ("/passes/print", OFFICE),
    ("/rules", OFFICE),
    ("/log", READ),
    ("/log/conflicts", READ),
    ("/log/chain", READ),
    ("/devices", OFFICE),
    ("/users", ADMIN),
    ("/audit", READ),
]


def test_each_page_renders_for_its_roles_and_refuses_the_others(console: Console) -> None:
    clients = {role: console.client(role) for role in ROLES}
    anonymous = console.client(None)
    for template, allowed in PAGES:
        url = template.format(code=console.code)
        for role, client in clients.items():
            answer = client.get(url)
            expected = 200 if role in allowed else 403
            assert answer.status_code == expected, (url, role, answer.get_data(as_text=True)[:500])
            if expected == 200:
                html = answer.get_data(as_text=True)
                assert "style=" not in html, url
                assert "<script>" not in html, url
        answer = anonymous.get(url)
        assert answer.status_code == 302, url
        assert "/login" in answer.headers["Location"], url


def test_another_communitys_rows_answer_404(console: Console) -> None:
    other = console.other
    office, admin = console.client("office"), console.client("admin")
    assert office.get(f"/households/{other.household_code}").status_code == 404
    assert office.get(f"/households/{other.household_code}/edit").status_code == 404
    card = f"/households/{console.code}/passes/{other.pass_id}/card.png"
    assert office.get(card).status_code == 404
    revoke = f"/households/{console.code}/passes/{other.pass_id}/revoke"
    assert office.post(revoke, data={"reason": "x"}).status_code == 404
    status = f"/households/{other.household_code}/status"
    assert office.post(status, data={"action": "exempt", "reason": "x"}).status_code == 404
    review = f"/log/conflicts/{other.crossing_id}/review"
    assert office.post(review, data={"note": "x"}).status_code == 404
    assert (
        office.post(f"/devices/{other.device_id}/revoke", data={"reason": "x"}).status_code == 404
    )
    assert admin.post(f"/users/{other.user_id}/disable").status_code == 404
    assert admin.post(f"/users/{other.user_id}/role", data={"role": "auditor"}).status_code == 404
    # and nothing of B leaks into A's lists
    assert other.household_code not in office.get("/households?q=B-1").get_data(as_text=True)
    log = office.get(f"/log?household={other.household_code}").get_data(as_text=True)
    assert f'data-id="{other.crossing_id}"' not in log
    with transaction(console.sessions(), read_only=True) as session:
        issued = session.get(IssuedPass, other.pass_id)
        device = session.get(Device, other.device_id)
        user = session.get(User, other.user_id)
        assert issued is not None
        assert issued.status is PassStatus.ACTIVE
        assert device is not None
        assert device.revoked_at is None
        assert user is not None
        assert user.disabled_at is None
        assert user.role is Role.OFFICE


def test_csrf_token_is_required_on_console_forms(console: Console) -> None:
    client = console.client("office", csrf=False)
    console.compound.app.config["WTF_CSRF_ENABLED"] = True
    answer = client.post(
        f"/households/{console.code}/status", data={"action": "exempt", "reason": "x"}
    )
    assert answer.status_code == 400
    with transaction(console.sessions(), read_only=True) as session:
        row = session.scalar(select(Household).where(Household.code == console.code))
        assert row is not None
        assert row.status is HouseholdStatus.NORMAL


# --- households -----------------------------------------------------------------------------------


def test_quarantine_form_changes_status_and_writes_an_audit_event(console: Console) -> None:
    client = console.client("office")
    answer = client.post(
        f"/households/{console.code}/status",
        data={"action": "quarantine", "until": "2026-11-30", "reason": "密接者"},
    )
    assert answer.status_code == 302
    with transaction(console.sessions(), read_only=True) as session:
        row = session.scalar(select(Household).where(Household.code == console.code))
        assert row is not None
        assert row.status is HouseholdStatus.QUARANTINED
        event = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "household.quarantine", AuditEvent.subject_id == console.code
            )
        )
        assert event is not None
        assert event.actor == "a-office"
        assert event.reason == "密接者"
    page = client.get(f"/households/{console.code}").get_data(as_text=True)
    assert "密接者" in page


def test_quarantine_without_a_date_or_reason_is_refused(console: Console) -> None:
    client = console.client("office")
    url = f"/households/{console.code}/status"
    assert client.post(url, data={"action": "quarantine", "reason": "x"}).status_code == 400
    assert client.post(url, data={"action": "exempt", "reason": ""}).status_code == 400
    with transaction(console.sessions(), read_only=True) as session:
        row = session.scalar(select(Household).where(Household.code == console.code))
        assert row is not None
        assert row.status is HouseholdStatus.NORMAL


def test_household_detail_and_search_show_only_masked_personal_data(console: Console) -> None:
    resident = console.compound.residents[0]
    client = console.client("office")
    detail = client.get(f"/households/{resident.code}").get_data(as_text=True)
    found = client.get("/households", query_string={"q": resident.member_phones[1]})
    listing = found.get_data(as_text=True).split("<tbody>")[1]  # the query itself is echoed above
    assert resident.code in listing
    for html in (detail, listing):
        for secret in (*resident.member_names, *resident.member_phones, *resident.id_numbers):
            assert secret not in html
    assert resident.member_names[0][0] + "*" in detail


def test_new_household_and_edit_use_the_import_validation(console: Console) -> None:
    client = console.client("office")
    form = {
        "household_code": "9-1-101",
        "building": "9",
        "unit": "1",
        "room": "101",
        "head_name": "王五",
        "phone": "12345",
    }
    bad = client.post("/households/new", data=form)
    assert bad.status_code == 400
    assert "field-error" in bad.get_data(as_text=True)
    form["phone"] = "13912345678"
    assert client.post("/households/new", data=form).status_code == 302
    edited = client.post("/households/9-1-101/edit", data={**form, "room": "102"})
    assert edited.status_code == 302
    again = client.post("/households/new", data=form)
    assert again.status_code == 400
    with transaction(console.sessions(), read_only=True) as session:
        row = session.scalar(select(Household).where(Household.code == "9-1-101"))
        assert row is not None
        assert row.room == "102"
        assert row.members[0].name == "王五"


HEADER = "户编号,楼栋,单元,房号,户主姓名,联系电话\n"


def _upload(client: FlaskClient, text: str, name: str = "households.csv"):  # type: ignore[no-untyped-def]
    return client.post(
        "/households/import",
        data={"sheet": (io.BytesIO(text.encode("utf-8")), name)},
        content_type="multipart/form-data",
    )


def _household_count(console: Console) -> int:
    with transaction(console.sessions(), read_only=True) as session:
        return session.scalar(select(func.count()).select_from(Household)) or 0


def test_import_preview_lists_row_errors_and_imports_nothing(console: Console) -> None:
    client = console.client("office")
    before = _household_count(console)
    text = HEADER + "7-1-101,7,1,101,赵六,13800000001\n7-1-102,7,1,102,钱七,not-a-phone\n"
    answer = _upload(client, text)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert 'id="row-errors"' in html
    assert '<td class="num">3</td>' in html
    assert "phone" in html
    assert "Import now" not in html
    assert "households_import_confirm" not in html
    assert _household_count(console) == before


def test_import_preview_then_confirm_writes_all_rows(console: Console) -> None:
    client = console.client("office")
    before = _household_count(console)
    text = HEADER + "7-1-101,7,1,101,赵六,13800000001\n7-1-102,7,1,102,钱七,13800000002\n"
    preview = _upload(client, text)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert 'id="created">2<' in html
    assert _household_count(console) == before  # a preview writes nothing
    token = html.split('name="token" type="hidden" value="')[1].split('"')[0]
    done = client.post(
        "/households/import/confirm", data={"token": token, "filename": "households.csv"}
    )
    assert done.status_code == 302
    assert _household_count(console) == before + 2
    replay = client.post("/households/import/confirm", data={"token": token})
    assert replay.status_code == 302  # the upload is gone: nothing imported twice
    assert _household_count(console) == before + 2
    bogus = client.post("/households/import/confirm", data={"token": "../../etc/passwd"})
    assert bogus.status_code in (302, 400)


def test_issue_revoke_and_card_download(console: Console) -> None:
    client = console.client("office")
    code = console.code
    assert client.post(f"/households/{code}/passes", data={"valid_days": "30"}).status_code == 302
    with transaction(console.sessions(), read_only=True) as session:
        household = session.scalar(select(Household).where(Household.code == code))
        assert household is not None
        newest = session.scalars(
            select(IssuedPass)
            .where(IssuedPass.household_id == household.id)
            .order_by(IssuedPass.id.desc())
        ).first()
        assert newest is not None
    card = client.get(f"/households/{code}/passes/{newest.id}/card.png")
    assert card.status_code == 200
    assert card.data.startswith(b"\x89PNG")
    assert "attachment" in card.headers["Content-Disposition"]
    revoke = client.post(
        f"/households/{code}/passes/{newest.id}/revoke", data={"reason": "卡片遗失"}
    )
    assert revoke.status_code == 302
    assert client.get(f"/households/{code}/passes/{newest.id}/card.png").status_code == 404
    reissue = client.post(f"/households/{code}/passes", data={"valid_days": "30", "reissue": "y"})
    assert reissue.status_code == 302
    with transaction(console.sessions(), read_only=True) as session:
        household = session.scalar(select(Household).where(Household.code == code))
        revoked = session.get(IssuedPass, newest.id)
        assert household is not None
        assert household.generation == 2
        assert revoked is not None
        assert revoked.status is PassStatus.REVOKED
        assert revoked.revoke_reason == "卡片遗失"


def test_print_passes_for_a_building_downloads_a_pdf(console: Console) -> None:
    client = console.client("office")
    page = client.get("/passes/print").get_data(as_text=True)
    building_id = page.split('<select class="input" id="building" name="building">')[1]
    building_id = building_id.split('<option value="')[2].split('"')[0]
    answer = client.post("/passes/print", data={"building": building_id})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert answer.mimetype == "application/pdf"
    assert answer.data.startswith(b"%PDF")
    # A Chinese file name (出入证-<building>.pdf) with an ASCII fallback.
    assert "filename*=UTF-8''%E5%87%BA%E5%85%A5%E8%AF%81-" in answer.headers["Content-Disposition"]
    assert client.post("/passes/print", data={}).status_code == 400


# --- rules ----------------------------------------------------------------------------------------


def _versions(console: Console) -> list[int]:
    with transaction(console.sessions(), read_only=True) as session:
        return list(
            session.scalars(
                select(RuleSetRecord.version)
                .where(RuleSetRecord.community_id == console.compound.community_id)
                .order_by(RuleSetRecord.version)
            )
        )


def test_saving_rules_creates_a_new_version(console: Console) -> None:
    client = console.client("office")
    rules = console.compound.rules.to_dict()
    rules["max_outside_minutes"] = 240
    answer = client.post(
        "/rules",
        data={"rules_json": json.dumps(rules), "reason": "限时4小时", "action": "save"},
    )
    assert answer.status_code == 302
    assert _versions(console) == [1, 2]
    with transaction(console.sessions(), read_only=True) as session:
        community = session.get(Community, console.compound.community_id)
        assert community is not None
        assert community.current_rule_version == 2
    page = client.get("/rules").get_data(as_text=True)
    assert "240" in page


def test_bad_rules_json_names_the_field_and_saves_nothing(console: Console) -> None:
    client = console.client("office")
    rules = console.compound.rules.to_dict()
    rules["quota"] = {"exits": 0, "window": "calendar_days", "length": 3}
    answer = client.post("/rules", data={"rules_json": json.dumps(rules), "action": "save"})
    assert answer.status_code == 400
    assert "quota.exits" in answer.get_data(as_text=True)
    broken = client.post("/rules", data={"rules_json": "{not json", "action": "save"})
    assert broken.status_code == 400
    assert "(json)" in broken.get_data(as_text=True)
    assert _versions(console) == [1]


def test_dry_run_shows_refusals_by_code_and_saves_nothing(console: Console) -> None:
    compound = console.compound
    api = compound.client()
    resident = compound.residents[0]
    assert compound.scan(api, resident.pass_text, Direction.OUT).status_code < 300
    compound.clock.advance(hours=1)
    assert compound.scan(api, resident.pass_text, Direction.IN).status_code < 300
    compound.clock.advance(hours=1)
    client = console.client("office")
    rules = compound.rules.to_dict()
    rules["exit_hours"] = {"start": "06:00", "end": "07:00"}  # the 09:00 exit falls outside
    answer = client.post(
        "/rules/dryrun", data={"rules_json": json.dumps(rules), "days": "7", "action": "dryrun"}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200, html[:500]
    assert 'id="dry-run"' in html
    assert '<td class="num" data-code="outside_hours">1</td>' in html
    assert _versions(console) == [1]


# --- log ------------------------------------------------------------------------------------------


def _scan_some(console: Console) -> None:
    compound = console.compound
    api = compound.client()
    for resident in compound.residents:
        assert compound.scan(api, resident.pass_text, Direction.OUT).status_code < 300
        compound.clock.advance(minutes=5)
    resident = compound.residents[0]
    assert compound.scan(api, resident.pass_text, Direction.OUT, 385).status_code < 300


def test_log_filters_and_pages(console: Console) -> None:
    _scan_some(console)
    client = console.client("auditor")
    html = client.get("/log").get_data(as_text=True)
    assert html.count("data-id=") == 4
    refused = client.get("/log", query_string={"verdict": "refused"}).get_data(as_text=True)
    assert refused.count("data-id=") == 1
    fever = client.get("/log", query_string={"fever": "y"}).get_data(as_text=True)
    assert fever.count("data-id=") == 1
    household = console.compound.residents[1].code
    one = client.get("/log", query_string={"household": household}).get_data(as_text=True)
    assert one.count("data-id=") == 1
    assert client.get("/log", query_string={"after": "garbage!"}).status_code == 400


def test_log_keyset_pages_through_the_app(console: Console) -> None:
    with transaction(console.sessions()) as session:
        device = session.get(Device, console.compound.device_id)
        assert device is not None
        moment = console.compound.clock()
        ids = {make_crossing(session, device, scanned_at=moment).id for _ in range(60)}
    client = console.client("office")
    seen: list[int] = []
    url: str | None = "/log"
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += [int(part.split('"')[0]) for part in html.split('data-id="')[1:]]
        url = (
            html.split('id="next-page" href="')[1].split('"')[0].replace("&amp;", "&")
            if 'id="next-page"' in html
            else None
        )
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))


def test_export_downloads_the_filtered_log_as_csv_and_xlsx(console: Console) -> None:
    _scan_some(console)
    client = console.client("auditor")
    answer = client.get("/log/export", query_string={"fmt": "csv", "verdict": "allowed"})
    assert answer.status_code == 200
    assert "attachment" in answer.headers["Content-Disposition"]
    text = answer.get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 1 + 3
    assert rows[0][0] == "时间"
    names = [n for r in console.compound.residents for n in r.member_names]
    assert not any(name in text for name in names)
    xlsx = client.get("/log/export", query_string={"fmt": "xlsx"})
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.data), read_only=True).active
    assert sheet is not None
    assert len(list(sheet.iter_rows())) == 1 + 4
    with transaction(console.sessions(), read_only=True) as session:
        exports = session.scalar(
            select(func.count()).where(AuditEvent.action == "crossings.export")
        )
        assert exports == 2


def test_conflict_review_marks_it_reviewed(console: Console) -> None:
    with transaction(console.sessions()) as session:
        device = session.get(Device, console.compound.device_id)
        assert device is not None
        crossing = make_crossing(
            session, device, conflict=True, offline=True, conflict_code="quota"
        )
    auditor = console.client("auditor")
    page = auditor.get("/log/conflicts").get_data(as_text=True)
    assert "quota" in page
    assert "Mark reviewed" not in page
    review = f"/log/conflicts/{crossing.id}/review"
    assert auditor.post(review, data={"note": "ok"}).status_code == 403
    office = console.client("office")
    assert office.post(review, data={"note": "已电话核实"}).status_code == 302
    with transaction(console.sessions(), read_only=True) as session:
        row = session.get(Crossing, crossing.id)
        assert row is not None
        assert row.conflict_reviewed_by == "a-office"
        assert row.conflict_note == "已电话核实"


def test_chain_status_verifies_the_log(console: Console) -> None:
    _scan_some(console)
    html = console.client("auditor").get("/log/chain").get_data(as_text=True)
    assert "flash-success" in html
    assert "4" in html


def test_dashboard_shows_who_is_out_and_fevers(console: Console) -> None:
    _scan_some(console)
    html = console.client("auditor").get("/").get_data(as_text=True)
    assert console.compound.residents[1].code in html
    assert "38.5" in html
    assert "<svg" in html
    assert "bar-allowed" in html


# --- devices and users ----------------------------------------------------------------------------


def test_device_creation_shows_the_code_once_and_revoke_works(console: Console) -> None:
    client = console.client("office")
    answer = client.post(
        "/devices", data={"gate": str(console.compound.gate_id), "name": "北门扫码机"}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    code = html.split('id="enrolment-code">')[1].split("<")[0]
    assert len(code) == 11
    assert code[5] == "-"
    assert 'src="data:image/png;base64,' in html
    assert code not in client.get("/devices").get_data(as_text=True)
    revoke = client.post(f"/devices/{console.compound.device_id}/revoke", data={"reason": "丢失"})
    assert revoke.status_code == 302
    with transaction(console.sessions(), read_only=True) as session:
        device = session.get(Device, console.compound.device_id)
        assert device is not None
        assert device.revoked_at is not None


def test_the_devices_page_says_how_a_phone_becomes_a_gate(console: Console) -> None:
    client = console.client("office")

    def state() -> str:
        html = client.get("/devices").get_data(as_text=True)
        assert "/gate" in html.split('id="phone-gates"')[1]  # the address to open on a phone
        return html.split('id="phone-https" data-https="')[1].split('"')[0]

    assert state() == "none"  # no HTTPS yet: says who must do what, no link to a 404
    paths = tls_paths(console.compound.settings.instance_dir)
    prepare_tls(
        paths.directory,
        ca_label="幸福里",
        names=["localhost"],
        addresses=[ip_address("192.168.31.20")],
        now=datetime.now(UTC),
    )
    assert state() == "local_ca"  # the link to /ca, where a phone trusts this server
    over_https = {"wsgi.url_scheme": "https"}  # as ProxyFix sets it behind nginx with a certificate
    secure = client.get("/devices", environ_overrides=over_https).get_data(as_text=True)
    assert 'data-https="secure"' in secure


def test_users_create_disable_and_change_role(console: Console) -> None:
    admin = console.client("admin")
    created = admin.post(
        "/users", data={"username": "new-clerk", "display_name": "新文员", "role": "office"}
    )
    html = created.get_data(as_text=True)
    assert created.status_code == 200
    password = html.split('id="initial-password">')[1].split("<")[0]
    assert len(password) >= 10
    clerk = console.compound.app.test_client()
    login = clerk.post("/login", data={"username": "new-clerk", "password": password})
    assert login.status_code == 302
    assert clerk.get("/households").status_code == 200
    with transaction(console.sessions(), read_only=True) as session:
        user_id = session.scalar(select(User.id).where(User.username == "new-clerk"))
    assert admin.post(f"/users/{user_id}/role", data={"role": "auditor"}).status_code == 302
    assert clerk.get("/households").status_code == 302  # the session ended
    login = clerk.post("/login", data={"username": "new-clerk", "password": password})
    assert clerk.get("/households").status_code == 403
    assert clerk.get("/log").status_code == 200
    assert admin.post(f"/users/{user_id}/disable").status_code == 302
    assert clerk.get("/log").status_code == 302
    with transaction(console.sessions(), read_only=True) as session:
        user = session.get(User, user_id)
        assert user is not None
        assert user.disabled_at is not None
        assert user.role is Role.AUDITOR


def test_audit_trail_filters_by_actor_and_action(console: Console) -> None:
    client = console.client("office")
    client.post(
        f"/households/{console.code}/status", data={"action": "exempt", "reason": "医护人员"}
    )
    auditor = console.client("auditor")
    html = auditor.get("/audit", query_string={"actor": "a-office"}).get_data(as_text=True)
    assert "household.exempt" in html
    assert "医护人员" in html
    none = auditor.get("/audit", query_string={"action": "pass"}).get_data(as_text=True)
    assert 'data-action="household.exempt"' not in none  # the rows' actions (the select lists all)
    assert 'data-action="pass.issue"' in none


def test_audit_trail_names_accounts_and_scanners_not_their_ids(console: Console) -> None:
    community_id = console.compound.community_id
    with transaction(console.sessions()) as session:
        office = session.scalar(select(User).where(User.username == "a-office"))
        device = session.get(Device, console.compound.device_id)
        assert office is not None
        assert device is not None
        for actor in (f"user:{office.id}", f"device:{device.id}", "user:999999"):
            record_event(session, actor=actor, action="walk_in.register", community_id=community_id)
        device_name = device.name
    html = console.client("auditor").get("/audit").get_data(as_text=True)
    cells = html.split("<tbody>")[1]
    assert "user:" not in cells
    assert "device:" not in cells
    assert "a-office" in cells
    assert device_name in cells
    assert "账号 999999" in cells


def test_audit_trail_finds_an_actor_by_the_name_it_shows(console: Console) -> None:
    community_id = console.compound.community_id
    with transaction(console.sessions()) as session:
        office = session.scalar(select(User).where(User.username == "a-office"))
        device = session.get(Device, console.compound.device_id)
        assert office is not None
        assert device is not None
        record_event(
            session, actor=f"user:{office.id}", action="errand.accept", community_id=community_id
        )
        record_event(
            session,
            actor=f"device:{device.id}",
            action="walk_in.register",
            community_id=community_id,
        )
        device_name = device.name
    auditor = console.client("auditor")

    def rows(actor: str) -> str:
        html = auditor.get("/audit", query_string={"actor": actor}).get_data(as_text=True)
        return html.split("<tbody>")[1].split("</tbody>")[0]

    by_account = rows(" A-Office ")  # typed as a clerk would: case and spaces don't matter
    assert 'data-action="errand.accept"' in by_account
    assert 'data-action="walk_in.register"' not in by_account
    by_scanner = rows(device_name)
    assert 'data-action="walk_in.register"' in by_scanner
    assert 'data-action="errand.accept"' not in by_scanner
    assert "data-action=" not in rows("nobody-by-this-name")
