#!/usr/bin/env bash
# Back up the gate server: the database (PostgreSQL custom-format dump, or an online copy of
# the SQLite file) and the private signing keys, as one tar (mode 0600), keeping the newest N.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: deploy/backup.sh [options]

Writes <dest>/checkpoint-<UTC time>.tar (mode 0600) holding:
  manifest.txt      when, what, schema revision, original keys directory, sha256 of the parts
  database.pgdump   pg_dump -Fc (PostgreSQL)   or   database.sqlite3 (SQLite online backup)
  keys.tar          the private signing keys directory
then deletes all but the newest --keep backups. Safe while the server is running.

options:
  --env-file FILE      read CHECKPOINT_* settings from FILE (default: the environment, else
                       /etc/checkpoint/checkpoint.env when readable)
  --database-url URL   [$CHECKPOINT_DATABASE_URL, else the instance SQLite file]
  --keys-dir DIR       [$CHECKPOINT_KEYS_DIR, else <instance dir>/keys]
  --no-keys            do not include the keys (e.g. keys kept only on an offline machine)
  --dest DIR           [$CHECKPOINT_BACKUP_DIR, else /var/backups/checkpoint]
  --keep N             backups to keep [$CHECKPOINT_BACKUP_KEEP, else 14]
  -h, --help           this text

The backup holds the private signing keys: copy it off the machine to a place only the
office can read (and encrypt it there, e.g. with age or gpg).

example:
  sudo -u checkpoint deploy/backup.sh --env-file /etc/checkpoint/checkpoint.env
EOF
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$here/lib/common.sh"

database_url=""
keys_dir=""
with_keys=1
env_file=""
dest=""
keep=""

while (($#)); do
  case "$1" in
    --env-file) env_file="${2:?--env-file needs a value}"; shift 2 ;;
    --database-url) database_url="${2:?--database-url needs a value}"; shift 2 ;;
    --keys-dir) keys_dir="${2:?--keys-dir needs a value}"; shift 2 ;;
    --no-keys) with_keys=0; shift ;;
    --dest) dest="${2:?--dest needs a value}"; shift 2 ;;
    --keep) keep="${2:?--keep needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

if [[ -n "$env_file" ]]; then load_env_file "$env_file"; else maybe_load_default_env; fi
database_url="${database_url:-${CHECKPOINT_DATABASE_URL:-$(default_database_url)}}"
keys_dir="${keys_dir:-$(default_keys_dir)}"
dest="${dest:-${CHECKPOINT_BACKUP_DIR:-/var/backups/checkpoint}}"
keep="${keep:-${CHECKPOINT_BACKUP_KEEP:-14}}"
[[ "$keep" =~ ^[1-9][0-9]*$ ]] || die "--keep must be a whole number >= 1, got '$keep'"
backend="$(url_backend "$database_url")"

umask 077
mkdir -p "$dest"
# One name per second; the names sort by time, which retention and restore rely on.
for _ in 1 2 3; do
  stamp="$(date -u +%Y%m%dT%H%M%SZ)"
  target="$dest/checkpoint-$stamp.tar"
  [[ -e "$target" ]] || break
  sleep 1
done
[[ ! -e "$target" ]] || die "$target exists"
work="$(mktemp -d "$dest/.backup-$stamp.XXXXXX")"
trap 'rm -rf -- "$work"' EXIT

revision=""
case "$backend" in
  postgresql)
    command -v pg_dump >/dev/null || die "pg_dump not found: apt-get install postgresql-client"
    export_pg_env "$database_url"
    log "pg_dump $PGDATABASE on ${PGHOST:-local socket}"
    pg_dump --format=custom --compress=6 --file="$work/database.pgdump"
    pg_restore --list "$work/database.pgdump" >/dev/null # readable, not truncated
    revision="$(psql -X -At -c 'SELECT version_num FROM alembic_version' 2>/dev/null || true)"
    database_file="database.pgdump"
    ;;
  sqlite)
    source_path="$(sqlite_path "$database_url")"
    [[ -f "$source_path" ]] || die "no SQLite database at $source_path"
    log "SQLite online backup of $source_path"
    # The sqlite3 backup API copies a consistent snapshot while the server keeps writing
    # (the sqlite3 command-line tool may not be installed).
    revision="$(SRC="$source_path" DST="$work/database.sqlite3" "$python" - <<'PY'
import os
import sqlite3

source = sqlite3.connect(os.environ["SRC"], timeout=30)
target = sqlite3.connect(os.environ["DST"])
with target:
    source.backup(target)
source.close()
check = target.execute("PRAGMA integrity_check").fetchone()[0]
if check != "ok":
    raise SystemExit(f"integrity check of the copy failed: {check}")
try:
    print(target.execute("SELECT version_num FROM alembic_version").fetchone()[0])
except sqlite3.Error:
    print("")
target.close()
PY
)"
    database_file="database.sqlite3"
    ;;
esac

members=(manifest.txt "$database_file")
if ((with_keys)); then
  [[ -d "$keys_dir" ]] || die "keys directory $keys_dir not found (--keys-dir, or --no-keys)"
  log "signing keys from $keys_dir"
  tar -C "$keys_dir" -cf "$work/keys.tar" .
  members+=(keys.tar)
fi

{
  echo "format=checkpoint-backup-1"
  echo "created_at=$stamp"
  echo "backend=$backend"
  echo "schema_revision=$revision"
  echo "host=$(hostname)"
  if ((with_keys)); then echo "keys_dir=$keys_dir"; fi
  (cd "$work" && sha256sum -- "${members[@]:1}") | sed 's/^/sha256=/'
} >"$work/manifest.txt"

tar -C "$work" -cf "$work/backup.tar" -- "${members[@]}"
chmod 0600 "$work/backup.tar"
mv -- "$work/backup.tar" "$target"
log "wrote $target ($(du -h "$target" | cut -f1))"

# Retention: names sort by time; delete all but the newest $keep.
mapfile -t backups < <(find "$dest" -maxdepth 1 -type f -name 'checkpoint-*.tar' -printf '%f\n' | sort)
excess=$((${#backups[@]} - keep))
for ((i = 0; i < excess; i++)); do
  log "retention: removing ${backups[i]}"
  rm -f -- "${dest:?}/${backups[i]}"
done
printf '%s\n' "$target"
