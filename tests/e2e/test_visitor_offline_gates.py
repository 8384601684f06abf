"""Visitor passes decided offline by two scanners, over the HTTP contract (the real app behind
an in-process transport), on SQLite and PostgreSQL: the bundle carries the used and revoked
visitor pass ids (and nothing of the visitor); a scanner offline lets a single-use pass in
once and refuses it the second time from its own journal; a second scanner, offline too, lets
the same pass in; on upload both are stored as visitor crossings and the later upload is a
conflict (``visitor_pass_used``) in the office's conflict list; after a refresh the bundle
refuses the used pass and a revoked one."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

sys.path.insert(0, str(Path(__file__).parents[1] / "gate"))

from api_helpers import Compound, add_console_users, build_compound, console_client

from gate.accounts.models import Role
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.visitors.issuing import VisitorRequest, issue_visitor_pass, revoke_visitor_pass, short_id
from gate.visitors.models import VisitorPassRecord
from passes import Direction
from scanner.api_client import ApiClient
from scanner.bundle import BundleCache
from scanner.deciding import Decider, DecidingConfig, Decision, ScanRequest
from scanner.journal import Journal
from scanner.loop_parts import entry_for
from scanner.sync import Uploader, refresh_bundle

NORMAL = 365
PASSWORD = "correct horse battery"


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path / "gate", households=1, extra_devices=1)
    built.clock.advance(hours=1)
    try:
        yield built
    finally:
        built.dispose()


def _issue(compound: Compound, *, single_use: bool = True) -> tuple[str, str]:
    now = compound.clock()
    request = VisitorRequest(
        kind="visitor",
        name="王访客",
        purpose="探望老人",
        valid_from=now - timedelta(minutes=5),
        valid_until=now + timedelta(hours=8),
        single_use=single_use,
        phone="13812345678",
        plate=None,
    )
    with transaction(compound.sessions) as session:
        issued = issue_visitor_pass(
            session, community_id=compound.community_id, request=request, actor="office", now=now
        )
        return issued.text, short_id(issued.record.pass_id)


class Scanner:
    """One scanner device: its API client, journal and an offline decider."""

    def __init__(self, compound: Compound, token: str, journal_path: Path) -> None:
        self.compound = compound
        self.client = ApiClient("http://gate", token, transport=httpx.WSGITransport(compound.app))
        self.journal = Journal(journal_path)
        self.decider = Decider(
            client=None,
            bundles=BundleCache(self.journal).current,
            local=self.journal,
            now=compound.clock,
            config=DecidingConfig(deadline_s=60),
        )

    def refresh(self) -> None:
        refresh_bundle(self.client, self.journal, device_now=self.compound.clock)

    def scan(self, text: str, direction: Direction = Direction.IN) -> Decision:
        request = ScanRequest(text, direction, NORMAL)
        decision = self.decider.decide(request)
        self.journal.record(entry_for(request, decision, None), decision.state_after)
        self.compound.clock.advance(minutes=1)
        return decision

    def upload(self) -> None:
        report = Uploader(self.client, self.journal, now=self.compound.clock).upload_pending()
        assert (report.error, report.dead) == (None, 0)

    def close(self) -> None:
        self.journal.close()
        self.client.close()


def _stored(compound: Compound, client_id: str) -> Crossing:
    with transaction(compound.sessions, read_only=True) as session:
        row = session.scalars(select(Crossing).where(Crossing.client_id == client_id)).one()
        session.expunge(row)
        return row


def test_a_single_use_pass_let_in_at_two_offline_gates_is_a_conflict_after_upload(
    compound: Compound, tmp_path: Path
) -> None:
    text, _number = _issue(compound)
    first = Scanner(compound, compound.token, tmp_path / "a.db")
    second = Scanner(compound, compound.extra_tokens[0], tmp_path / "b.db")
    try:
        first.refresh()
        second.refresh()
        # Offline at gate A: in once; the second entry is refused from A's own journal.
        entered = first.scan(text)
        assert (entered.offline, entered.allowed, entered.notes) == (True, True, ("visitor",))
        again = first.scan(text)
        assert (again.allowed, again.code) == (False, "visitor_pass_used")
        assert again.reason_zh == "访客通行证已使用（仅限一次）"
        leaving = first.scan(text, Direction.OUT)
        assert leaving.allowed is True  # a visitor inside may always leave
        # Offline at gate B, which cannot know: in.
        elsewhere = second.scan(text)
        assert (elsewhere.offline, elsewhere.allowed) == (True, True)

        first.upload()
        second.upload()
        kept = _stored(compound, entered.crossing_id)
        assert (kept.subject, kept.offline, kept.allowed, kept.conflict) == (
            "visitor",
            True,
            True,
            False,
        )
        refused = _stored(compound, again.crossing_id)
        assert (refused.allowed, refused.code, refused.conflict) == (
            False,
            "visitor_pass_used",
            False,
        )
        later = _stored(compound, elsewhere.crossing_id)
        assert (later.subject, later.allowed, later.conflict, later.conflict_code) == (
            "visitor",
            True,
            True,
            "visitor_pass_used",
        )
        assert later.household_id is None
        assert later.subject_id == kept.subject_id
        with transaction(compound.sessions, read_only=True) as session:
            record = session.scalars(select(VisitorPassRecord)).one()
            assert record.used_crossing_id == kept.id
            assert record.used_at == kept.scanned_at  # the first upload's scan time

        # The office sees the conflict in its list.
        add_console_users(compound, PASSWORD, [("office", Role.OFFICE, "陈办公")])
        page = console_client(compound, "office", PASSWORD).get("/log/conflicts")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert '<span data-code="visitor_pass_used">访客通行证已使用（仅限一次）</span>' in html

        # After a refresh the bundle itself refuses the used pass, at either gate.
        second.refresh()
        retry = second.scan(text)
        assert (retry.offline, retry.allowed, retry.code) == (True, False, "visitor_pass_used")
        # Uploading twice stores nothing new (idempotent by client id).
        second.upload()
        first.upload()
        with transaction(compound.sessions, read_only=True) as session:
            assert len(session.scalars(select(Crossing)).all()) == 5
    finally:
        first.close()
        second.close()


def test_the_bundle_carries_used_and_revoked_visitor_ids_and_nothing_of_the_visitor(
    compound: Compound, tmp_path: Path
) -> None:
    revoked_text, revoked_number = _issue(compound)
    used_text, _ = _issue(compound)
    many_text, _ = _issue(compound, single_use=False)
    api = compound.client()
    assert compound.scan(api, used_text, "in", NORMAL).get_json()["verdict"]["allowed"] is True
    with transaction(compound.sessions) as session:
        revoke_visitor_pass(
            session,
            community_id=compound.community_id,
            number=revoked_number,
            reason="取消来访",
            actor="office",
            now=compound.clock(),
        )
        ids = {
            record.pass_id.hex(): record for record in session.scalars(select(VisitorPassRecord))
        }
    compound.clock.advance(minutes=1)
    body = api.get("/api/v1/bundle", headers=compound.headers()).get_json()
    used = [ids[each] for each in body["used_visitor_pass_ids"]]
    assert [record.used_at is not None for record in used] == [True]
    assert any(ids[each].revoked_at is not None for each in body["revoked_pass_ids"] if each in ids)
    text = str(body)
    for personal in ("王访客", "13812345678", "探望老人"):
        assert personal not in text

    scanner = Scanner(compound, compound.token, tmp_path / "journal.db")
    try:
        scanner.refresh()
        assert scanner.scan(used_text).code == "visitor_pass_used"
        assert scanner.scan(revoked_text).code == "visitor_pass_revoked"
        assert scanner.scan(revoked_text, Direction.OUT).allowed is True
        for _ in range(2):  # a pass for any entries in its window: never used up
            assert scanner.scan(many_text).allowed is True
        assert scanner.scan(many_text[:-2] + "AA").code in {"bad_signature", "bad_format"}
    finally:
        scanner.close()
