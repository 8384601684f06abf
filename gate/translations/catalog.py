"""Maintain the UI message catalogues with babel's Python API (no ``pybabel`` on PATH needed).

Message ids are English, in ``_()`` / ``lazy_gettext()`` calls in ``gate/**.py`` and
``{{ _('...') }}`` in ``gate/templates``. The workflow after changing UI text::

    python -m gate.translations.catalog extract   # gate/translations/messages.pot
    python -m gate.translations.catalog update    # merge into zh_CN and en .po files
    # translate the new (empty or fuzzy) entries in zh_Hans_CN/LC_MESSAGES/messages.po
    python -m gate.translations.catalog compile   # .po -> .mo (committed: no build step)
    python -m gate.translations.catalog check     # what CI runs

``check`` fails when the catalogues miss a message id of the source, when a zh_CN entry is
untranslated or fuzzy or its placeholders differ from the id's, or when a .mo file is older
than its .po.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
GATE_DIR = HERE.parent
MAPPING_FILE = HERE / "babel.cfg"
TEMPLATE_FILE = HERE / "messages.pot"
LOCALES = ("zh_Hans_CN", "en")
"""Catalogue directories. zh_CN's is ``zh_Hans_CN``: Babel's name for zh_CN (it adds the
likely script), which is what Flask-Babel looks up."""
TRANSLATED_LOCALES = ("zh_Hans_CN",)
"""Locales whose every entry must be translated (English ids are English already)."""
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None, "lazy_ngettext": (1, 2)}
PROJECT = "checkpoint"
WIDTH = 100


def po_path(locale: str) -> Path:
    return HERE / locale / "LC_MESSAGES" / "messages.po"


def mo_path(locale: str) -> Path:
    return HERE / locale / "LC_MESSAGES" / "messages.mo"


def extract_template() -> Catalog:
    """A catalogue of every message id in the gate sources and templates."""
    with MAPPING_FILE.open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)  # type: ignore[no-untyped-call]
    template = Catalog(project=PROJECT, fuzzy=False, creation_date=_fixed_date())
    for filename, lineno, message, comments, context in extract_from_dir(
        GATE_DIR,
        method_map,
        options_map,
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
        directory_filter=_directory_filter,
    ):
        template.add(
            message,
            None,
            [(filename, lineno)],
            auto_comments=comments,
            context=context,
        )
    return template


def _directory_filter(dirpath: str) -> bool:
    name = Path(dirpath).name
    return not name.startswith((".", "_")) and name not in ("migrations", "static")


def _fixed_date() -> datetime:
    # A constant header date: regenerating the catalogue must not change it for nothing.
    return datetime(2026, 1, 1, tzinfo=UTC)


def _write_po(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=WIDTH, include_lineno=False, ignore_obsolete=True)
    path.write_bytes(buffer.getvalue())


def _read_po(path: Path, locale: str) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def _mo_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def extract() -> int:
    """Write messages.pot from the sources; return the number of message ids."""
    template = extract_template()
    _write_po(TEMPLATE_FILE, template)
    return len(template)


def update() -> None:
    """Merge messages.pot into each locale's .po (creating missing ones)."""
    with TEMPLATE_FILE.open("rb") as handle:
        template = read_po(handle)
    for locale in LOCALES:
        path = po_path(locale)
        if path.exists():
            catalog = _read_po(path, locale)
        else:
            catalog = Catalog(locale=locale, project=PROJECT, creation_date=_fixed_date())
        catalog.update(template, update_creation_date=False)
        catalog.fuzzy = False  # the header: only entries are ever fuzzy
        _write_po(path, catalog)


def compile_all() -> None:
    """Write each locale's .mo from its .po (fuzzy entries left out)."""
    for locale in LOCALES:
        mo_path(locale).write_bytes(_mo_bytes(_read_po(po_path(locale), locale)))


def problems() -> list[str]:
    """Everything ``check`` complains about (empty when the catalogues are in order)."""
    found: list[str] = []
    wanted = {_key(message) for message in extract_template() if message.id}
    for locale in LOCALES:
        path = po_path(locale)
        if not path.exists():
            found.append(f"{locale}: {path} is missing (run extract, update)")
            continue
        catalog = _read_po(path, locale)
        have = {_key(message) for message in catalog if message.id}
        found += [
            f"{locale}: not in the catalogue (run extract, update): {k!r}"
            for k in sorted(wanted - have, key=str)
        ]
        if locale in TRANSLATED_LOCALES:
            found += _translation_problems(locale, catalog)
        mo = mo_path(locale)
        if not mo.exists() or _compiled_messages(mo.read_bytes()) != _compiled_messages(
            _mo_bytes(catalog)
        ):
            found.append(f"{locale}: {mo.name} is out of date (run compile)")
    return found


def _compiled_messages(mo: bytes) -> dict[object, object]:
    """What a .mo file translates, without its header: the header names the Babel version
    that wrote it, and a new Babel release must not make committed catalogues stale."""
    return {
        (message.context, message.id): message.string
        for message in read_mo(io.BytesIO(mo))
        if message.id
    }


def _key(message: object) -> str:
    message_id = getattr(message, "id", "")
    return message_id[0] if isinstance(message_id, tuple) else str(message_id)


def _translation_problems(locale: str, catalog: Catalog) -> Iterable[str]:
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            yield f"{locale}: fuzzy (check it, then remove the fuzzy flag): {_key(message)!r}"
        elif not all(strings):
            yield f"{locale}: untranslated: {_key(message)!r}"
    for message, errors in catalog.check():
        for error in errors:
            yield f"{locale}: {_key(message)!r}: {error}"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``extract``, ``update``, ``compile`` or ``check``."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "--help"
    if command == "extract":
        print(f"{extract()} message ids -> {TEMPLATE_FILE}")
    elif command == "update":
        update()
        print("updated " + ", ".join(str(po_path(locale)) for locale in LOCALES))
    elif command == "compile":
        compile_all()
        print("compiled " + ", ".join(str(mo_path(locale)) for locale in LOCALES))
    elif command == "check":
        found = problems()
        for problem in found:
            print(problem, file=sys.stderr)
        if found:
            print(f"{len(found)} problem(s) in the catalogues", file=sys.stderr)
            return 1
        print("catalogues complete and compiled")
    else:
        print(__doc__)
        return 0 if command in ("-h", "--help") else 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
