"""Import previews at rest: private files, gone an hour after an abandoned preview."""

from __future__ import annotations

import io
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from gate.households.uploads import IMPORT_DIR, MAX_AGE_SECONDS, UploadStore

SHEET = "住户编号,身份证号\n3-1-401,11010519491231002X\n".encode()


class _Upload:
    """What the store needs of a Werkzeug ``FileStorage``."""

    def __init__(self, data: bytes = SHEET) -> None:
        self.stream = io.BytesIO(data)

    def save(self, dst: IO[bytes]) -> object:
        return dst.write(self.stream.read())


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_preview_is_written_private(tmp_path: Path) -> None:
    stored = UploadStore(tmp_path).save(7, _Upload(), "住户.csv")
    assert stored.path.read_bytes() == SHEET
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / IMPORT_DIR).stat().st_mode) == 0o700
    assert UploadStore(tmp_path).find(7, stored.token) == stored
    assert UploadStore(tmp_path).find(8, stored.token) is None  # another community's


def test_an_existing_open_import_directory_is_tightened(tmp_path: Path) -> None:
    (tmp_path / IMPORT_DIR).mkdir(mode=0o755)
    UploadStore(tmp_path).save(7, _Upload(), "住户.csv")
    assert stat.S_IMODE((tmp_path / IMPORT_DIR).stat().st_mode) == 0o700


def test_an_abandoned_preview_is_gone_after_the_next_upload(tmp_path: Path) -> None:
    store = UploadStore(tmp_path)
    abandoned = store.save(7, _Upload(), "住户.csv")
    recent = store.save(7, _Upload(), "住户.xlsx")
    _age(abandoned.path, MAX_AGE_SECONDS + 60)
    _age(recent.path, MAX_AGE_SECONDS - 600)
    assert MAX_AGE_SECONDS == 3600

    store.save(9, _Upload(), "别的社区.csv")

    assert not abandoned.path.exists()
    assert recent.path.exists()
    assert store.find(7, recent.token) == recent


def test_a_preview_older_than_an_hour_cannot_be_confirmed(tmp_path: Path) -> None:
    store = UploadStore(tmp_path)
    stored = store.save(7, _Upload(), "住户.csv")
    _age(stored.path, MAX_AGE_SECONDS + 1)

    assert store.find(7, stored.token) is None
    assert not stored.path.exists()


def test_a_failed_save_leaves_no_file(tmp_path: Path) -> None:
    class Broken(_Upload):
        def save(self, dst: IO[bytes]) -> object:
            dst.write(SHEET[:10])
            raise OSError("client went away")

    with pytest.raises(OSError, match="went away"):
        UploadStore(tmp_path).save(7, Broken(), "住户.csv")
    assert list((tmp_path / IMPORT_DIR).iterdir()) == []
