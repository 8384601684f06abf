#!/usr/bin/env bash
# The restore drill: restore the newest backup into a scratch database, verify the crossing
# log's hash chains there with `checkpoint audit verify`, print PASS or FAIL, clean up.
# Run it on a schedule (e.g. weekly) and alert on FAIL: a backup nobody restored is a hope.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: deploy/restore-drill.sh [options] [BACKUP]

BACKUP is a checkpoint-*.tar or a directory [$CHECKPOINT_BACKUP_DIR, else
/var/backups/checkpoint]; a directory means its newest backup.

PostgreSQL: restores into a scratch database checkpoint_drill_<time> on the server of
CHECKPOINT_DATABASE_URL (created by --admin-user, dropped afterwards). SQLite: into a
temporary file. Then runs `checkpoint audit verify` against it. The live database is never
touched. Exit status 0 and PASS when the chains verify; 1 and FAIL otherwise.

options:
  --env-file FILE      read CHECKPOINT_* settings from FILE (default: the environment, else
                       /etc/checkpoint/checkpoint.env when readable)
  --database-url URL   where the live database is (only its server and role are used)
  --admin-user NAME    PostgreSQL role allowed to create and drop the scratch database [postgres]
  --checkpoint CMD     the checkpoint command [checkpoint on PATH, else
                       /opt/checkpoint/venv/bin/checkpoint]
  --keep-scratch       leave the scratch database and directory for inspection
  -h, --help           this text

example:
  deploy/restore-drill.sh --env-file /etc/checkpoint/checkpoint.env
EOF
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$here/lib/common.sh"

database_url=""
env_file=""
backup=""
checkpoint_cmd=""
keep_scratch=0
ADMIN_USER="postgres"

while (($#)); do
  case "$1" in
    --env-file) env_file="${2:?--env-file needs a value}"; shift 2 ;;
    --database-url) database_url="${2:?--database-url needs a value}"; shift 2 ;;
    --admin-user) ADMIN_USER="${2:?--admin-user needs a value}"; shift 2 ;;
    --checkpoint) checkpoint_cmd="${2:?--checkpoint needs a value}"; shift 2 ;;
    --keep-scratch) keep_scratch=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option: $1" ;;
    *) [[ -z "$backup" ]] || die "one backup at a time"; backup="$1"; shift ;;
  esac
done

if [[ -n "$env_file" ]]; then load_env_file "$env_file"; else maybe_load_default_env; fi
database_url="${database_url:-${CHECKPOINT_DATABASE_URL:-$(default_database_url)}}"
backup="${backup:-${CHECKPOINT_BACKUP_DIR:-/var/backups/checkpoint}}"
if [[ -d "$backup" ]]; then backup="$(newest_backup "$backup")"; fi
[[ -f "$backup" ]] || die "no backup at $backup"
if [[ -z "$checkpoint_cmd" ]]; then
  if command -v checkpoint >/dev/null; then
    checkpoint_cmd="checkpoint"
  else
    checkpoint_cmd="/opt/checkpoint/venv/bin/checkpoint"
  fi
fi
backend="$(url_backend "$database_url")"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/checkpoint-drill.XXXXXX")"
scratch_db=""
cleanup() {
  if ((keep_scratch)); then
    log "kept scratch: $scratch ${scratch_db:+and database $scratch_db}"
    return
  fi
  if [[ -n "$scratch_db" ]]; then
    (
      export_pg_env "$database_url"
      admin_psql -v db="$scratch_db" <<'SQL' || log "could not drop $scratch_db: drop it by hand"
SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'db')
\gexec
SQL
    )
  fi
  rm -rf -- "$scratch"
}
trap cleanup EXIT

fail() {
  printf 'FAIL restore drill of %s: %s\n' "$(basename "$backup")" "$*"
  exit 1
}

case "$backend" in
  postgresql)
    scratch_db="checkpoint_drill_$(date -u +%Y%m%d%H%M%S)_$$"
    scratch_url="$(url_with_database "$database_url" "$scratch_db")"
    ;;
  sqlite)
    scratch_url="sqlite:///$scratch/drill.sqlite3"
    ;;
esac

log "restoring $backup into ${scratch_db:-$scratch/drill.sqlite3}"
log "(a warning that the keys lived elsewhere is expected: the drill puts them in scratch)"
bash "$here/restore.sh" --database-url "$scratch_url" \
  --keys-dir "$scratch/keys" --admin-user "$ADMIN_USER" "$backup" ||
  fail "the restore itself failed (see above)"

# The verifier runs against the scratch copy only. It needs no secret key; without one,
# CHECKPOINT_ENV=test makes a throw-away key instead of writing one into the instance dir.
run=(env "CHECKPOINT_DATABASE_URL=$scratch_url" "CHECKPOINT_INSTANCE_DIR=$scratch"
  "CHECKPOINT_KEYS_DIR=$scratch/keys")
if [[ -z "${CHECKPOINT_SECRET_KEY:-}" ]]; then run+=("CHECKPOINT_ENV=test"); fi

"${run[@]}" "$checkpoint_cmd" audit verify --help >/dev/null 2>&1 ||
  fail "\`$checkpoint_cmd audit verify\` is not available (install a version that has it)"
log "checkpoint audit verify"
if "${run[@]}" "$checkpoint_cmd" audit verify; then
  printf 'PASS restore drill of %s: restored and the crossing log verifies\n' "$(basename "$backup")"
else
  fail "checkpoint audit verify reported a broken or unverifiable log (see above)"
fi
