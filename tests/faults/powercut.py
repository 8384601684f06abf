"""A power-cut harness for the scanner journal: only what was fsynced survives.

Why not just copy the files while the scanner writes: a copy of the page cache holds every
write the process made, synced or not, so it cannot show what a power cut loses (it behaves
like ``kill -9``, which tests/scanner/test_crash_safety.py already covers); and copying the
database and its WAL at two different instants gives a pair of files that never existed
together (a checkpoint in between loses or mixes pages), so it reports losses that are the
copy's fault, not SQLite's.

What this does instead: the writer runs with a tiny ``LD_PRELOAD`` shim (C, compiled by the
test with the system's C compiler) around ``fsync`` and ``fdatasync``. When SQLite syncs a file
of the watched directory, the shim lets the real sync finish, then copies the file's whole
content into a snapshot directory (write to a temporary name, then rename: atomic). So at every
moment the snapshot directory holds, per file, exactly its content as of its last completed
sync: the durable state under the model "a power cut loses every write not yet synced" (the
strictest honest model; a real disk may also keep some unsynced writes, which SQLite's WAL
checksums are designed to cope with). A file never synced is absent. The shim holds an
exclusive ``flock`` on ``<snapshots>/.lock`` while it copies; the harness takes the same lock
to copy the snapshot directory, so an image is one instant of durable state, not a mix.

A *cut* (:meth:`Writer.cut`) takes the lock, notes every crossing id the writer had
acknowledged (printed after :meth:`scanner.journal.Journal.record` returned), copies the
durable state to a fresh directory and releases the lock; the writer carries on (the image is
what a power cut at that instant would leave, whatever the writer does next). Opening the
image runs SQLite's own WAL recovery, as a reboot would. A *final* cut SIGKILLs the writer
first (and may catch the shim mid-copy: the half-written temporary file is ignored, as the
sync it belonged to never returned).

The writer (``python -m tests.faults.powercut write``) opens the real :class:`Journal`
(``synchronous=FULL``); ``--synchronous OFF`` or ``NORMAL`` lowers it after opening, to show
that the harness does see losses when a commit is acknowledged without a sync.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JOURNAL_NAME = "journal.db"
LOCK_NAME = ".lock"
SYNC_LOG = ".syncs"

SHIM_SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef int (*sync_fn)(int);

static void write_all(int fd, const char *buf, ssize_t len) {
    while (len > 0) {
        ssize_t w = write(fd, buf, (size_t)len);
        if (w < 0) { if (errno == EINTR) continue; abort(); }
        buf += w; len -= w;
    }
}

/* Copy the synced file into the snapshot dir if it lives in the watched dir. */
static void snapshot(int fd) {
    const char *watch = getenv("POWERCUT_WATCH_DIR");
    const char *snaps = getenv("POWERCUT_SNAPSHOT_DIR");
    if (!watch || !snaps) return;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = 0;
    size_t wl = strlen(watch);
    if (strncmp(path, watch, wl) != 0 || path[wl] != '/') return;
    const char *base = path + wl + 1;
    if (strchr(base, '/') || strstr(base, " (deleted)")) return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return; /* directory syncs: names only */
    char lockpath[PATH_MAX], tmp[PATH_MAX], dest[PATH_MAX], logpath[PATH_MAX];
    snprintf(lockpath, sizeof lockpath, "%s/.lock", snaps);
    snprintf(tmp, sizeof tmp, "%s/.%s.partial", snaps, base);
    snprintf(dest, sizeof dest, "%s/%s", snaps, base);
    snprintf(logpath, sizeof logpath, "%s/.syncs", snaps);
    int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock < 0) abort();
    while (flock(lock, LOCK_EX) != 0) { if (errno != EINTR) abort(); }
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) abort();
    static char buf[1 << 16];
    off_t off = 0;
    ssize_t r;
    while ((r = pread(fd, buf, sizeof buf, off)) > 0) { write_all(out, buf, r); off += r; }
    if (r < 0) abort();
    close(out);
    if (rename(tmp, dest) != 0) abort();
    int log = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log >= 0) {
        char line[PATH_MAX + 32];
        int len = snprintf(line, sizeof line, "%s %lld\n", base, (long long)off);
        write_all(log, line, len);
        close(log);
    }
    flock(lock, LOCK_UN);
    close(lock);
}

static int wrap(const char *name, int fd) {
    sync_fn real = (sync_fn)dlsym(RTLD_NEXT, name);
    int rc = real(fd);
    if (rc == 0) {
        int saved = errno;
        snapshot(fd);
        errno = saved;
    }
    return rc;
}

int fsync(int fd) { return wrap("fsync", fd); }
int fdatasync(int fd) { return wrap("fdatasync", fd); }
"""


class ShimUnavailable(RuntimeError):
    """No C compiler, or the shim did not build."""


def build_shim(directory: Path) -> Path:
    """Compile the fsync shim into ``directory``; raises ShimUnavailable."""
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        raise ShimUnavailable("no C compiler (cc/gcc) to build the fsync shim")
    source = directory / "powercut.c"
    library = directory / "libpowercut.so"
    source.write_text(SHIM_SOURCE)
    built = subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(source), "-ldl"],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        raise ShimUnavailable(f"the fsync shim did not build: {built.stderr.strip()[:500]}")
    return library


# --- the writer (child process) -------------------------------------------------------------


def _write(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journal", required=True, type=Path)
    parser.add_argument("--synchronous", default="FULL", choices=("FULL", "NORMAL", "OFF"))
    parser.add_argument("--max", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    from passes import Direction
    from scanner.journal import CrossingEntry, Journal

    start = datetime(2024, 3, 22, 2, 0, tzinfo=UTC)
    with Journal(args.journal) as journal:
        if args.synchronous != "FULL":
            journal._db.execute(f"PRAGMA synchronous = {args.synchronous}")
        for n in range(args.max):
            entry = CrossingEntry(
                id=str(uuid.uuid4()),
                pass_text=f"CP1:{n:08d}" + "X" * 80,
                direction=Direction.OUT if n % 2 == 0 else Direction.IN,
                temperature=365,
                scanned_at=start + timedelta(seconds=n),
                verdict={"allowed": True, "display": "allow", "code": None, "codes": []},
                offline=True,
                household_id=n % 500,
            )
            journal.record(entry)
            sys.stdout.write(entry.id + "\n")  # acknowledged: record() returned
            sys.stdout.flush()


# --- the harness (parent) -------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    """What one power cut left: the journal's ids in ``seq`` order, integrity, and the ids the
    writer had acknowledged before the cut."""

    acknowledged: list[str]
    ids: list[str]
    integrity: list[str]
    seqs_contiguous: bool

    @property
    def lost(self) -> list[str]:
        """Acknowledged ids missing from the image."""
        present = set(self.ids)
        return [i for i in self.acknowledged if i not in present]


class Writer:
    """A writer child under the shim: ``journal_dir`` is watched, ``snapshot_dir`` holds the
    durable state. The journal is created (schema, WAL mode) and made durable first."""

    def __init__(self, shim: Path, work: Path, *, synchronous: str = "FULL") -> None:
        from scanner.journal import Journal

        self.journal_dir = work / "disk"
        self.snapshot_dir = work / "durable"
        self.images = work / "images"
        for folder in (self.journal_dir, self.snapshot_dir, self.images):
            folder.mkdir(parents=True)
        journal = self.journal_dir / JOURNAL_NAME
        Journal(journal).close()  # last close: checkpointed, the WAL removed
        with journal.open("rb") as handle:
            os.fsync(handle.fileno())
        shutil.copyfile(journal, self.snapshot_dir / JOURNAL_NAME)  # the durable baseline
        (self.snapshot_dir / LOCK_NAME).touch()
        env = {
            **os.environ,
            "LD_PRELOAD": str(shim),
            "POWERCUT_WATCH_DIR": str(self.journal_dir.resolve()),
            "POWERCUT_SNAPSHOT_DIR": str(self.snapshot_dir.resolve()),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.faults.powercut",
                "write",
                "--journal",
                str(journal),
                "--synchronous",
                synchronous,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.acknowledged: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._count = 0

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.acknowledged.append(line.strip())  # list.append is atomic under the GIL

    def wait_for(self, count: int, timeout_s: float = 60.0) -> None:
        """Block until the writer acknowledged ``count`` crossings."""
        deadline = _now() + timeout_s
        while len(self.acknowledged) < count:
            if self.process.poll() is not None:
                raise AssertionError(f"the writer died: {self.stderr()}")
            if _now() > deadline:
                raise AssertionError("the writer is stuck")
            threading.Event().wait(0.005)

    def cut(self) -> Image:
        """A power cut now; the writer goes on."""
        with (self.snapshot_dir / LOCK_NAME).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                acknowledged = list(self.acknowledged)  # before the copy starts
                target = self._copy()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return _inspect(target, acknowledged)

    def final_cut(self) -> Image:
        """SIGKILL the writer at this instant, then the power goes."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._reader.join(30)  # every line it printed before dying
        acknowledged = list(self.acknowledged)
        return _inspect(self._copy(), acknowledged)

    def syncs(self) -> int:
        """How many syncs of watched files the shim snapshotted."""
        log = self.snapshot_dir / SYNC_LOG
        return len(log.read_text().splitlines()) if log.exists() else 0

    def stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read()[-2000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def _copy(self) -> Path:
        self._count += 1
        target = self.images / f"cut-{self._count:05d}"
        target.mkdir()
        for item in self.snapshot_dir.iterdir():
            if not item.name.startswith("."):  # the lock, the sync log, a half-done copy
                shutil.copyfile(item, target / item.name)
        return target


def _inspect(image: Path, acknowledged: list[str]) -> Image:
    connection = sqlite3.connect(image / JOURNAL_NAME)  # runs WAL recovery, as a reboot would
    try:
        integrity = [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]
        rows = connection.execute("SELECT id, seq FROM crossings ORDER BY seq").fetchall()
    finally:
        connection.close()
    shutil.rmtree(image)
    seqs = [int(seq) for _id, seq in rows]
    return Image(
        acknowledged, [str(i) for i, _seq in rows], integrity, seqs == list(range(1, len(seqs) + 1))
    )


def _now() -> float:
    import time

    return time.monotonic()


def main(argv: list[str]) -> None:
    if argv[:1] == ["write"]:
        _write(argv[1:])
    else:
        raise SystemExit("usage: python -m tests.faults.powercut write --journal PATH")


if __name__ == "__main__":
    main(sys.argv[1:])
