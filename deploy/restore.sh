#!/usr/bin/env bash
# Restore a backup written by deploy/backup.sh into a fresh database, and its signing keys.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: deploy/restore.sh [options] BACKUP

BACKUP is a checkpoint-*.tar, or a directory (its newest backup is used).

PostgreSQL: the target database must not exist yet or be empty; a missing one is created
(owned by the URL's role, by --admin-user), then filled with pg_restore as the URL's role
in one transaction. SQLite: the file is copied into place; an existing file is refused
unless --force (it is then kept as <file>.before-restore-<time>).
Keys are unpacked into the keys directory; a different file of the same name is refused
unless --force. Stop the gate server (systemctl stop checkpoint) before restoring over it.

options:
  --env-file FILE      read CHECKPOINT_* settings from FILE (default: the environment, else
                       /etc/checkpoint/checkpoint.env when readable)
  --database-url URL   target database [$CHECKPOINT_DATABASE_URL, else the instance SQLite file]
  --keys-dir DIR       target keys directory [$CHECKPOINT_KEYS_DIR, else <instance dir>/keys]
  --no-keys            leave the keys alone
  --admin-user NAME    PostgreSQL role allowed to create the database [postgres]
  --force              see above
  -h, --help           this text

example:
  systemctl stop checkpoint
  deploy/restore.sh --env-file /etc/checkpoint/checkpoint.env /var/backups/checkpoint
  sudo -u checkpoint checkpoint db upgrade   # when the backup is from an older version
EOF
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$here/lib/common.sh"

database_url=""
keys_dir=""
with_keys=1
env_file=""
force=0
backup=""
ADMIN_USER="postgres"

while (($#)); do
  case "$1" in
    --env-file) env_file="${2:?--env-file needs a value}"; shift 2 ;;
    --database-url) database_url="${2:?--database-url needs a value}"; shift 2 ;;
    --keys-dir) keys_dir="${2:?--keys-dir needs a value}"; shift 2 ;;
    --no-keys) with_keys=0; shift ;;
    --admin-user) ADMIN_USER="${2:?--admin-user needs a value}"; shift 2 ;;
    --force) force=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option: $1" ;;
    *) [[ -z "$backup" ]] || die "one backup at a time"; backup="$1"; shift ;;
  esac
done
[[ -n "$backup" ]] || { usage >&2; die "which backup? (a file or a directory)"; }

if [[ -n "$env_file" ]]; then load_env_file "$env_file"; else maybe_load_default_env; fi
database_url="${database_url:-${CHECKPOINT_DATABASE_URL:-$(default_database_url)}}"
keys_dir="${keys_dir:-$(default_keys_dir)}"
backend="$(url_backend "$database_url")"
if [[ -d "$backup" ]]; then backup="$(newest_backup "$backup")"; fi
[[ -f "$backup" ]] || die "no backup at $backup"

umask 077
work="$(mktemp -d)"
trap 'rm -rf -- "$work"' EXIT
log "reading $backup"
tar -C "$work" -xf "$backup"
[[ -f "$work/manifest.txt" ]] || die "$backup is not a Checkpoint backup (no manifest.txt)"
grep -qx 'format=checkpoint-backup-1' "$work/manifest.txt" || die "unknown backup format"
manifest() { sed -n "s/^$1=//p" "$work/manifest.txt" | head -n 1; }
saved_backend="$(manifest backend)"
[[ "$saved_backend" == "$backend" ]] ||
  die "the backup is $saved_backend but the target is $backend (moving between them needs an export, not a restore)"
# Every part must match its checksum before anything is touched.
sed -n 's/^sha256=//p' "$work/manifest.txt" >"$work/SHA256SUMS"
(cd "$work" && sha256sum --quiet --strict -c SHA256SUMS) || die "checksum mismatch: the backup is damaged"

restore_postgresql() {
  command -v pg_restore >/dev/null || die "pg_restore not found: apt-get install postgresql-client"
  export_pg_env "$database_url"
  local exists
  exists="$(admin_psql -At -v db="$PGDATABASE" <<'SQL'
SELECT count(*) FROM pg_database WHERE datname = :'db';
SQL
)"
  if [[ "$exists" == "1" ]]; then
    local tables
    tables="$(psql -X -At -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")"
    [[ "$tables" == "0" ]] ||
      die "database $PGDATABASE is not empty ($tables tables): drop it first or restore into a new name"
  else
    log "creating database $PGDATABASE owned by $PGUSER"
    admin_psql -v db="$PGDATABASE" -v owner="$PGUSER" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8'' TEMPLATE template0', :'db', :'owner')
\gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db')
\gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'db', :'owner')
\gexec
SQL
  fi
  log "pg_restore into $PGDATABASE as $PGUSER"
  # --no-owner/--no-acl: every object belongs to the role restoring it (the app's role).
  pg_restore --no-owner --no-acl --exit-on-error --single-transaction \
    --dbname="$PGDATABASE" "$work/database.pgdump"
}

restore_sqlite() {
  local path stamp suffix
  path="$(sqlite_path "$database_url")"
  if [[ -e "$path" ]]; then
    ((force)) || die "$path exists: stop the server and use --force (the old file is kept)"
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    for suffix in "" -wal -shm; do
      if [[ -e "$path$suffix" ]]; then mv -- "$path$suffix" "$path.before-restore-$stamp$suffix"; fi
    done
    log "kept the previous database as $path.before-restore-$stamp"
  fi
  mkdir -p "$(dirname "$path")"
  cp -- "$work/database.sqlite3" "$path.restoring"
  mv -- "$path.restoring" "$path"
  match_owner "$path"
  log "restored $path"
}

# match_owner PATH: as root, give PATH the owner of its directory (the service user), so the
# server can read what root restored.
match_owner() {
  if [[ $(id -u) -eq 0 ]]; then chown -R --reference="$(dirname "$1")" -- "$1"; fi
}

restore_keys() {
  [[ -f "$work/keys.tar" ]] || die "the backup holds no keys (made with --no-keys): use --no-keys"
  mkdir -p "$work/keys" "$keys_dir"
  tar -C "$work/keys" -xf "$work/keys.tar"
  local file relative
  while IFS= read -r -d '' file; do
    relative="${file#"$work/keys/"}"
    if [[ -e "$keys_dir/$relative" ]] && ! cmp -s -- "$file" "$keys_dir/$relative"; then
      ((force)) || die "$keys_dir/$relative differs from the backup's: use --force to overwrite"
    fi
  done < <(find "$work/keys" -type f -print0)
  cp -a -- "$work/keys/." "$keys_dir/"
  chmod 0700 "$keys_dir"
  match_owner "$keys_dir"
  log "signing keys restored into $keys_dir"
  local saved_dir
  saved_dir="$(manifest keys_dir)"
  if [[ -n "$saved_dir" && "$(realpath -m "$saved_dir")" != "$(realpath -m "$keys_dir")" ]]; then
    # The database records each private key's file by absolute path (signing_keys).
    log "WARNING: the backup's keys lived in $saved_dir; the database still points there."
    log "         Restore them to that path too (or link it) before issuing passes."
  fi
}

case "$backend" in
  postgresql) restore_postgresql ;;
  sqlite) restore_sqlite ;;
esac
if ((with_keys)); then restore_keys; fi
log "done: backup of $(manifest created_at), schema revision $(manifest schema_revision)"
log "next: checkpoint db upgrade (if this version is newer), then start the server"
