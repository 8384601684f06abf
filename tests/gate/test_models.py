"""The models and their database constraints, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

import pytest
from factories import (
    make_building,
    make_community,
    make_crossing,
    make_device,
    make_household,
    make_pass,
    make_rule_set,
    make_signing_key,
    make_user,
)
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from gate.accounts.models import Role
from gate.community.models import Building, Community
from gate.crossings.models import Crossing
from gate.db import (
    GENESIS_HASH,
    U32_MAX,
    UTCDateTime,
    is_lost_connection,
    make_engine,
    session_factory,
    transaction,
)
from gate.devices.models import Device
from gate.households.models import Household, Member
from gate.issuing.models import IssuedPass, PassStatus
from passes.keys import KeyStatus
from passes.state import Direction, HouseholdStatus

SHANGHAI = timezone(timedelta(hours=8))
T = TypeVar("T")


def _reload(session: Session, row: T) -> T:
    """Read ``row`` back from the database, not from the session's identity map."""
    session.flush()
    session.expire_all()
    return row


# --- UTCDateTime ---------------------------------------------------------------------------


def test_utc_datetime_refuses_a_naive_value() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2022, 3, 1, 8, 0), dialect=None)  # type: ignore[arg-type]


def test_naive_datetime_is_refused_on_flush(db_session: Session, community: Community) -> None:
    community.created_at = datetime(2022, 3, 1, 8, 0)

    with pytest.raises(StatementError) as caught:
        db_session.flush()
    assert isinstance(caught.value.orig, ValueError)


def test_aware_datetime_in_another_zone_reads_back_as_the_same_instant_in_utc(
    db_session: Session, household: Household
) -> None:
    local = datetime(2022, 3, 25, 8, 30, tzinfo=SHANGHAI)
    household.quarantine_until = local

    _reload(db_session, household)

    assert household.quarantine_until == local
    assert household.quarantine_until.tzinfo is UTC
    assert household.quarantine_until.hour == 0


def test_utc_columns_compare_with_aware_parameters(
    db_session: Session, household: Household
) -> None:
    household.quarantine_until = datetime(2022, 3, 25, 0, 0, tzinfo=UTC)
    db_session.flush()

    found = db_session.scalars(
        select(Household.id).where(
            Household.quarantine_until > datetime(2022, 3, 25, 7, 59, tzinfo=SHANGHAI)
        )
    ).all()

    assert found == [household.id]


# --- defaults and id ranges ---------------------------------------------------------------


def test_new_rows_get_the_documented_defaults(db_session: Session) -> None:
    household = _reload(db_session, make_household(db_session))
    community = db_session.get(Community, household.community_id)

    assert community is not None
    assert community.timezone == "Asia/Shanghai"
    assert community.current_rule_version == 0
    assert community.rotating_codes_enabled is False
    assert community.created_at.tzinfo is UTC
    assert household.status is HouseholdStatus.NORMAL
    assert household.generation == 1
    assert household.out_count == 0
    assert household.state_json == "{}"


def test_household_and_community_ids_hold_the_full_unsigned_32_bit_range(
    db_session: Session,
) -> None:
    community = make_community(db_session, id=U32_MAX)
    household = make_household(db_session, community=community, id=U32_MAX)

    _reload(db_session, household)

    assert household.id == U32_MAX
    assert household.community_id == U32_MAX


def test_household_id_beyond_32_bits_is_refused(db_session: Session) -> None:
    with pytest.raises(IntegrityError):
        make_household(db_session, id=U32_MAX + 1)


def test_generation_beyond_16_bits_is_refused(db_session: Session) -> None:
    with pytest.raises(IntegrityError):
        make_household(db_session, generation=0x10000)


# --- enums stored as checked text -----------------------------------------------------------


def test_status_is_stored_as_its_text_value(db_session: Session, household: Household) -> None:
    household.status = HouseholdStatus.QUARANTINED
    db_session.flush()

    stored = db_session.scalar(
        text("SELECT status FROM households WHERE id = :id"), {"id": household.id}
    )

    assert stored == "quarantined"


def test_unknown_status_written_behind_the_orm_is_refused_by_the_database(
    db_session: Session, household: Household
) -> None:
    with pytest.raises(IntegrityError):
        db_session.execute(
            text("UPDATE households SET status = 'sick' WHERE id = :id"), {"id": household.id}
        )


def test_unknown_role_is_refused_before_reaching_the_database(db_session: Session) -> None:
    with pytest.raises(StatementError):
        make_user(db_session, role="superuser")  # type: ignore[arg-type]


# --- uniqueness ---------------------------------------------------------------------------


def test_household_code_is_unique_within_a_community_only(db_session: Session) -> None:
    first = make_household(db_session, code="3-2-401")
    make_household(db_session, code="3-2-401")  # another community: fine

    with pytest.raises(IntegrityError):
        make_household(db_session, community=first.community, code="3-2-401")


def test_building_code_is_unique_within_its_compound(db_session: Session) -> None:
    building = make_building(db_session, code="3")
    compound = building.compound

    compound.buildings.append(Building(name="又一个3号楼", code="3"))

    with pytest.raises(IntegrityError):
        db_session.flush()


def test_crossing_client_id_is_unique(db_session: Session, device: Device) -> None:
    crossing = make_crossing(db_session, device)

    with pytest.raises(IntegrityError):
        make_crossing(db_session, device, client_id=crossing.client_id)


def test_two_crossings_cannot_share_a_place_in_one_gate_chain(
    db_session: Session, device: Device
) -> None:
    make_crossing(db_session, device)

    with pytest.raises(IntegrityError):
        make_crossing(db_session, device, gate_seq=1)


def test_crossings_get_increasing_ids_and_chain_within_their_gate(
    db_session: Session, device: Device, household: Household
) -> None:
    first = make_crossing(db_session, device, household)
    second = make_crossing(db_session, device, household, direction=Direction.IN)

    assert second.id > first.id
    assert (first.gate_seq, second.gate_seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.row_hash
    assert _reload(db_session, second).direction is Direction.IN


def test_forged_pass_crossing_needs_no_household(db_session: Session, device: Device) -> None:
    crossing = make_crossing(db_session, device, allowed=False, code="bad_signature")

    assert _reload(db_session, crossing).household_id is None


def test_manual_code_is_unique_per_community(db_session: Session, household: Household) -> None:
    issued = make_pass(db_session, household)

    with pytest.raises(IntegrityError):
        make_pass(db_session, household, manual_code=issued.manual_code)


# --- passes and keys ------------------------------------------------------------------------


def test_pass_round_trips_its_id_bytes_and_status(
    db_session: Session, household: Household
) -> None:
    issued = make_pass(db_session, household, pass_id=bytes(range(12)))

    found = db_session.scalars(
        select(IssuedPass).where(IssuedPass.pass_id == bytes(range(12)))
    ).one()

    assert found is issued
    assert _reload(db_session, issued).status is PassStatus.ACTIVE
    assert issued.key_id is not None


def test_pass_id_of_the_wrong_length_is_refused(db_session: Session, household: Household) -> None:
    with pytest.raises(IntegrityError):
        make_pass(db_session, household, pass_id=b"short")


def test_signing_key_holds_a_32_byte_public_key_and_a_16_bit_id(
    db_session: Session, community: Community
) -> None:
    key = make_signing_key(db_session, community, key_id=0xFFFF)

    assert _reload(db_session, key).status is KeyStatus.ACTIVE
    assert key.algorithm == "ed25519"
    with pytest.raises(IntegrityError):
        make_signing_key(db_session, community, public_key=b"\x00" * 31)


def test_rule_set_versions_are_unique_per_community(
    db_session: Session, community: Community
) -> None:
    make_rule_set(db_session, community)
    second = make_rule_set(db_session, community)

    assert community.current_rule_version == second.version == 2
    with pytest.raises(IntegrityError):
        make_rule_set(db_session, community, version=2)


# --- foreign keys ---------------------------------------------------------------------------


def test_foreign_keys_are_enforced(db_session: Session) -> None:
    db_session.add(Member(household_id=123456, name="无户之人"))

    with pytest.raises(IntegrityError):
        db_session.flush()


def test_deleting_a_household_in_sql_deletes_its_members(
    db_session: Session, household: Household
) -> None:
    household_id = household.id
    db_session.expunge_all()

    db_session.execute(text("DELETE FROM households WHERE id = :id"), {"id": household_id})

    remaining = db_session.scalar(
        select(func.count()).select_from(Member).where(Member.household_id == household_id)
    )
    assert remaining == 0


# --- engine and transactions ----------------------------------------------------------------


def test_sqlite_connections_are_set_up_for_a_durable_concurrent_server(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/nested/dir/x.sqlite3")
    try:
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL: commit() syncs the WAL
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 5000
    finally:
        engine.dispose()


def test_transaction_commits_on_success_and_rolls_back_on_error(
    committed_engine: Engine,
) -> None:
    sessions = session_factory(committed_engine)
    with transaction(sessions) as session:
        community_id = make_community(session, code="kept").id

    def fail_after_adding() -> None:
        with transaction(sessions) as session:
            make_community(session, code="dropped")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_after_adding()

    with transaction(sessions, read_only=True) as session:
        codes = session.scalars(select(Community.code)).all()
    assert codes == ["kept"]
    assert community_id is not None


def test_concurrent_read_modify_write_on_one_household_loses_no_update(
    committed_engine: Engine,
) -> None:
    # The quota check's pattern: lock the household row, read, write. On PostgreSQL the row
    # lock serialises it; on SQLite, BEGIN IMMEDIATE does.
    sessions = session_factory(committed_engine)
    with transaction(sessions) as session:
        household_id = make_household(session).id
    errors: list[BaseException] = []

    def step_out(times: int) -> None:
        try:
            for _ in range(times):
                with transaction(sessions) as session:
                    row = session.scalars(
                        select(Household).where(Household.id == household_id).with_for_update()
                    ).one()
                    row.out_count += 1
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    workers = [threading.Thread(target=step_out, args=(15,)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    with transaction(sessions, read_only=True) as session:
        assert session.get(Household, household_id).out_count == 60  # type: ignore[union-attr]


def test_savepoint_isolation_keeps_a_commit_inside_the_test(
    db_session: Session, db_session_factory: sessionmaker[Session]
) -> None:
    # Code under test may commit; the outer transaction still rolls it back afterwards.
    make_community(db_session, code="inside")
    db_session.commit()

    with db_session_factory() as other:
        assert other.scalar(select(Community.code).where(Community.code == "inside")) == "inside"


def test_user_roles_round_trip(db_session: Session, community: Community) -> None:
    user = make_user(db_session, community, role=Role.SUPERVISOR)

    assert _reload(db_session, user).role is Role.SUPERVISOR
    assert user.session_version == 0


def test_device_token_hash_is_unique(db_session: Session, device: Device) -> None:
    with pytest.raises(IntegrityError):
        make_device(db_session, device.gate, token_hash=device.token_hash)


def test_crossing_temperature_is_stored_in_tenths(db_session: Session, device: Device) -> None:
    crossing = make_crossing(db_session, device, temperature_tenths=373)

    assert _reload(db_session, crossing).temperature_tenths == 373
    assert db_session.scalar(select(Crossing.temperature_tenths)) == 373


def _terminate_backend(engine: Engine) -> int:
    """Kill, from another connection, the server process behind ``engine``'s pooled
    connection; return its pid."""
    with engine.connect() as connection:
        pid = connection.scalar(text("SELECT pg_backend_pid()"))
    killer = make_engine(engine.url)
    try:
        with killer.connect() as connection:
            assert connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        killer.dispose()
    return int(pid)


def test_an_idle_postgres_connection_the_server_dropped_is_replaced_before_use(
    fresh_db_url: str, db_backend: str
) -> None:
    if db_backend != "postgresql":
        pytest.skip("SQLite has no server that could drop a connection")
    engine = make_engine(fresh_db_url, idle_ping_seconds=0)
    try:
        dead = _terminate_backend(engine)
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT pg_backend_pid()")) != dead
    finally:
        engine.dispose()


def test_a_busy_postgres_connection_is_not_pinged_and_a_lost_one_says_so(
    fresh_db_url: str, db_backend: str
) -> None:
    """Without the idle time, no ping: the loss shows as an error marked as a lost
    connection (the scan API retries those), and the next checkout is a fresh connection."""
    if db_backend != "postgresql":
        pytest.skip("SQLite has no server that could drop a connection")
    engine = make_engine(fresh_db_url, idle_ping_seconds=3600)
    try:
        dead = _terminate_backend(engine)
        with pytest.raises(DBAPIError) as lost, engine.connect() as connection:
            connection.scalar(text("SELECT 1"))
        assert is_lost_connection(lost.value)
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT pg_backend_pid()")) != dead
    finally:
        engine.dispose()
