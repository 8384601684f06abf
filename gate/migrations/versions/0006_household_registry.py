"""Household registry: head counts, notes, members' relations; one spelling per building.

- ``households.head_count`` (人数, at least 1; existing households: their member count) and
  ``households.note`` (备注), read from the import and stored from now on.
- ``members.relation`` (与户主关系: head, spouse, child, parent, other); existing heads get
  ``head``, other existing members stay unknown (NULL).
- Building codes, units and rooms are normalised as the import now normalises them
  (``7号楼``, ``7栋``, ``七号楼``, ``７`` -> ``7``; ``401室`` -> ``401``). Buildings of one
  compound that become the same are merged: the oldest row survives, the others'
  households move to it and the others are deleted. A building whose name was generated
  from its code (``7号楼``, or the code itself) is renamed after the new code. The rule is
  copied here (not imported) so that this migration keeps its meaning when the import's
  rule changes. Downgrading drops the new columns; it does not split merged buildings.

Revision ID: 0006_household_registry
Revises: 0005_district_access
Create Date: 2026-12-04 21:30:00.000000
"""

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = '0006_household_registry'
down_revision: str | Sequence[str] | None = '0005_district_access'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RELATIONS = "'head', 'spouse', 'child', 'parent', 'other'"


def upgrade() -> None:
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('head_count', sa.Integer(), server_default=sa.text('1'), nullable=False)
        )
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_households_head_count_positive'), 'head_count >= 1'
        )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('relation', sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(op.f('ck_members_relation'), f'relation IN ({_RELATIONS})')
    connection = op.get_bind()
    _fill_relations_and_head_counts(connection)
    _normalise_buildings(connection)
    _normalise_units_and_rooms(connection)


def downgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_members_relation'), type_='check')
        batch_op.drop_column('relation')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_households_head_count_positive'), type_='check')
        batch_op.drop_column('note')
        batch_op.drop_column('head_count')


# --- data ---------------------------------------------------------------------------------------

_households = sa.table(
    'households',
    sa.column('id', sa.BigInteger),
    sa.column('building_id', sa.Integer),
    sa.column('unit', sa.String),
    sa.column('room', sa.String),
    sa.column('head_count', sa.Integer),
)
_members = sa.table(
    'members',
    sa.column('household_id', sa.BigInteger),
    sa.column('is_head', sa.Boolean),
    sa.column('relation', sa.String),
)
_buildings = sa.table(
    'buildings',
    sa.column('id', sa.Integer),
    sa.column('compound_id', sa.Integer),
    sa.column('code', sa.String),
    sa.column('name', sa.String),
)


def _fill_relations_and_head_counts(connection: sa.Connection) -> None:
    connection.execute(
        _members.update().where(_members.c.is_head == sa.true()).values(relation='head')
    )
    counts = (
        sa.select(sa.func.count())
        .where(_members.c.household_id == _households.c.id)
        .scalar_subquery()
    )
    connection.execute(_households.update().where(counts > 1).values(head_count=counts))


def _normalise_buildings(connection: sa.Connection) -> None:
    rows = connection.execute(
        sa.select(_buildings.c.id, _buildings.c.compound_id, _buildings.c.code, _buildings.c.name)
        .order_by(_buildings.c.id)
    ).all()
    groups: dict[tuple[int, str], list[Any]] = {}
    for row in rows:
        groups.setdefault((row.compound_id, _normalise(row.code, 'building')), []).append(row)
    renames: list[tuple[Any, str]] = []
    for (_compound, code), members in groups.items():
        survivor, *merged = members
        if merged:
            gone = [row.id for row in merged]
            connection.execute(
                _households.update()
                .where(_households.c.building_id.in_(gone))
                .values(building_id=survivor.id)
            )
            connection.execute(_buildings.delete().where(_buildings.c.id.in_(gone)))
        if survivor.code != code:
            renames.append((survivor, code))
    for survivor, code in renames:  # after every delete: a new code is free by then
        generated = survivor.name in (survivor.code, _building_name(survivor.code))
        name = _building_name(code) if generated else survivor.name
        connection.execute(
            _buildings.update()
            .where(_buildings.c.id == survivor.id)
            .values(code=code, name=name)
        )


def _normalise_units_and_rooms(connection: sa.Connection) -> None:
    rows = connection.execute(
        sa.select(_households.c.id, _households.c.unit, _households.c.room)
    ).all()
    for row in rows:
        unit = _normalise(row.unit, 'unit') if row.unit else row.unit
        room = _normalise(row.room, 'room') if row.room else row.room
        if (unit, room) != (row.unit, row.room):
            connection.execute(
                _households.update()
                .where(_households.c.id == row.id)
                .values(unit=unit or None, room=room or None)
            )


# --- the rule of gate/households/place_names.py as of this revision -----------------------------

_SUFFIXES = {
    'building': ('#楼', '号楼', '号栋', '号幢', '栋', '幢', '座', '号', '楼', '#'),
    'unit': ('单元', '号'),
    'room': ('室', '号', '房'),
}
_DIGITS = {
    '零': 0, '〇': 0, '○': 0, '一': 1, '壹': 1, '二': 2, '贰': 2, '两': 2, '三': 3, '叁': 3,
    '四': 4, '肆': 4, '五': 5, '伍': 5, '六': 6, '陆': 6, '七': 7, '柒': 7, '八': 8, '捌': 8,
    '九': 9, '玖': 9,
}  # fmt: skip
_UNITS = {'十': 10, '拾': 10, '百': 100, '佰': 100, '千': 1000, '仟': 1000}


def _chinese_number(text: str) -> int | None:
    if not text or any(c not in _DIGITS and c not in _UNITS for c in text):
        return None
    if not any(c in _UNITS for c in text):
        return int(''.join(str(_DIGITS[c]) for c in text))
    total, digit, last_unit = 0, None, 10_000
    for char in text:
        if char in _DIGITS:
            if digit is not None and _DIGITS[char] != 0:
                return None
            digit = _DIGITS[char] if _DIGITS[char] != 0 else None
            continue
        unit = _UNITS[char]
        if unit >= last_unit:
            return None
        if digit is None:
            if total or unit != 10:
                return None
            digit = 1
        total += digit * unit
        digit, last_unit = None, unit
    if digit is not None:
        total += digit
    return total


def _normalise(text: str, kind: str) -> str:
    value = re.sub(r'\s+', '', unicodedata.normalize('NFKC', text))
    if not value:
        return ''
    core = value.removeprefix('第') if len(value) > 1 else value
    for suffix in _SUFFIXES[kind]:
        if core.endswith(suffix) and len(core) > len(suffix):
            core = core[: -len(suffix)]
            break
    number = int(core) if core.isascii() and core.isdigit() else _chinese_number(core)
    if number is not None:
        return str(number)
    return ''.join(c.upper() if c.isascii() else c for c in value)


def _building_name(code: str) -> str:
    return f'{code}号楼' if code.isdigit() else code
