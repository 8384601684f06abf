"""A member's relation to the head of household (与户主关系), as the import reads it.

Stored as the code (``head``, ``spouse``, ``child``, ``parent``, ``other``); shown as its
Chinese label. The words offices write in a register (户口本 style) are read as one of the
five: ``妻子`` is ``spouse``, ``儿子`` ``child``, ``母亲`` ``parent``, ``孙女`` ``other``.
"""

from __future__ import annotations

import enum
import unicodedata

from gate.errors import N_

__all__ = ["RELATION_LABELS", "RELATION_MESSAGES", "Relation", "parse_relation"]


class Relation(enum.StrEnum):
    HEAD = "head"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    OTHER = "other"


RELATION_LABELS: dict[Relation, str] = {
    Relation.HEAD: "户主",
    Relation.SPOUSE: "配偶",
    Relation.CHILD: "子女",
    Relation.PARENT: "父母",
    Relation.OTHER: "其他",
}

RELATION_MESSAGES: dict[Relation, str] = {
    Relation.HEAD: N_("Head of household"),
    Relation.SPOUSE: N_("Spouse"),
    Relation.CHILD: N_("Child"),
    Relation.PARENT: N_("Parent"),
    Relation.OTHER: N_("Other relative"),
}
"""English msgids of the relations, for pages (the catalogue gives 户主, 配偶, ...)."""

_WORDS: dict[Relation, tuple[str, ...]] = {
    Relation.HEAD: ("户主", "本人", "head"),
    Relation.SPOUSE: ("配偶", "妻", "妻子", "夫", "丈夫", "爱人", "老伴", "spouse"),
    Relation.CHILD: (
        "子女", "子", "女", "儿子", "女儿", "长子", "次子", "三子", "长女", "次女", "三女",
        "独生子", "独生女", "养子", "养女", "继子", "继女", "child",
    ),
    Relation.PARENT: ("父母", "父", "母", "父亲", "母亲", "继父", "继母", "parent"),
    Relation.OTHER: (
        "其他", "其它", "孙子", "孙女", "外孙", "外孙女", "儿媳", "女婿", "兄", "弟", "姐",
        "妹", "兄弟", "姐妹", "兄弟姐妹", "祖父", "祖母", "外祖父", "外祖母", "公公", "婆婆",
        "岳父", "岳母", "侄子", "侄女", "亲属", "保姆", "租户", "租客", "other",
    ),
}  # fmt: skip
_BY_WORD = {word: relation for relation, words in _WORDS.items() for word in words}


def parse_relation(text: str) -> Relation | None:
    """The relation a register word names (``"妻子"`` -> spouse), or None if unknown."""
    word = "".join(unicodedata.normalize("NFKC", text).split()).lower()
    return _BY_WORD.get(word)
