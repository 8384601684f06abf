# shellcheck shell=bash
# Shared helpers of deploy/backup.sh, deploy/restore.sh and deploy/restore-drill.sh.
# Sourced, not run. Needs python3 (standard library only) for URL parsing and SQLite.

script_name="$(basename "${BASH_SOURCE[1]:-checkpoint}" .sh)"
python="${PYTHON:-python3}"

die() { printf '%s: %s\n' "$script_name" "$*" >&2; exit 1; }
log() { printf '==> %s\n' "$*" >&2; }

# load_env_file FILE: export CHECKPOINT_*, GUNICORN_* and PG* assignments from a systemd
# EnvironmentFile (KEY=VALUE lines, optional quotes). Variables already set win, so a value
# given on the command line overrides the file. The file is parsed, never executed.
load_env_file() {
  local file="$1" line key value
  [[ -r "$file" ]] || die "cannot read $file"
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line#"${line%%[![:space:]]*}"}"
    [[ -z "$line" || "$line" == \#* ]] && continue
    [[ "$line" == *=* ]] || continue
    key="${line%%=*}"
    value="${line#*=}"
    [[ "$key" =~ ^(CHECKPOINT|GUNICORN|PG)[A-Z0-9_]*$ ]] || continue
    if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then
      value="${BASH_REMATCH[1]}"
    fi
    if [[ -z "${!key+set}" ]]; then
      export "$key=$value"
    fi
  done <"$file"
}

# maybe_load_default_env: /etc/checkpoint/checkpoint.env when nothing was configured.
maybe_load_default_env() {
  local default="/etc/checkpoint/checkpoint.env"
  if [[ -z "${CHECKPOINT_DATABASE_URL:-}" && -r "$default" ]]; then
    load_env_file "$default"
  fi
}

# The same defaults as gate/settings.py.
instance_dir() { printf '%s' "${CHECKPOINT_INSTANCE_DIR:-var}"; }
default_database_url() {
  local dir
  dir="$(realpath -m "$(instance_dir)")"
  printf 'sqlite:///%s/checkpoint.sqlite3' "$dir"
}
default_keys_dir() { realpath -m "${CHECKPOINT_KEYS_DIR:-$(instance_dir)/keys}"; }

# url_backend URL: "postgresql" or "sqlite" (anything else dies).
url_backend() {
  local scheme="${1%%:*}"
  scheme="${scheme%%+*}"
  case "$scheme" in
    postgresql | postgres) printf 'postgresql' ;;
    sqlite) printf 'sqlite' ;;
    *) die "unsupported database URL scheme '$scheme' (postgresql:// or sqlite:///)" ;;
  esac
}

# sqlite_path URL: the database file of a sqlite:/// URL (relative to the current directory).
sqlite_path() {
  URL="$1" "$python" - <<'PY'
import os
from urllib.parse import unquote, urlsplit

path = unquote(urlsplit(os.environ["URL"]).path)
if path in ("", "/", "/:memory:"):
    raise SystemExit("an in-memory SQLite database has nothing to back up")
print(os.path.abspath(path[1:]))
PY
}

# export_pg_env URL: export PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE (and PGSSLMODE)
# from a SQLAlchemy PostgreSQL URL, so no password appears on a command line.
export_pg_env() {
  local assignment
  while IFS= read -r -d '' assignment; do
    export "${assignment?}"
  done < <(URL="$1" "$python" - <<'PY'
import os
import sys
from urllib.parse import parse_qs, unquote, urlsplit

url = urlsplit(os.environ["URL"])
query = {key: values[-1] for key, values in parse_qs(url.query).items()}
values = {
    "PGHOST": query.get("host") or url.hostname or "",
    "PGPORT": query.get("port") or (str(url.port) if url.port else ""),
    "PGUSER": unquote(url.username or ""),
    "PGPASSWORD": unquote(url.password or ""),
    "PGDATABASE": unquote(url.path.lstrip("/")),
    "PGSSLMODE": query.get("sslmode", ""),
}
if not values["PGDATABASE"]:
    raise SystemExit("the database URL names no database")
for key, value in values.items():
    if value:
        sys.stdout.write(f"{key}={value}\0")
PY
  )
  [[ -n "${PGDATABASE:-}" ]] || die "could not read the database URL"
}

# url_with_database URL NAME: URL pointing at database NAME on the same server (PostgreSQL)
# or at file NAME (SQLite).
url_with_database() {
  URL="$1" NAME="$2" "$python" - <<'PY'
import os
from urllib.parse import quote, urlsplit, urlunsplit

url = urlsplit(os.environ["URL"])
name = os.environ["NAME"]
path = "/" + (name if url.scheme.startswith("sqlite") else quote(name, safe=""))
print(urlunsplit((url.scheme, url.netloc, path, url.query, "")))
PY
}

# admin_psql ARGS...: psql as the PostgreSQL admin role (ADMIN_USER, default postgres) on the
# server of the exported PG* variables, into the maintenance database. Uses libpq's own
# credentials (~/.pgpass, peer auth; as root on the local socket, the postgres OS user),
# never the application's password.
admin_psql() {
  local admin="${ADMIN_USER:-postgres}"
  local run=(env -u PGPASSWORD -u PGDATABASE "PGUSER=$admin")
  if [[ "$admin" == "${PGUSER:-}" ]]; then
    run=(env -u PGDATABASE)
  fi
  if [[ (-z "${PGHOST:-}" || "${PGHOST:-}" == /*) && $(id -u) -eq 0 ]] && id postgres >/dev/null 2>&1; then
    run=(runuser -u postgres -- "${run[@]}")
  fi
  "${run[@]}" psql -X -q --no-psqlrc -v ON_ERROR_STOP=1 -d postgres "$@"
}

# newest_backup DIR: the newest checkpoint-*.tar in DIR (names sort by time).
newest_backup() {
  local newest
  newest="$(find "$1" -maxdepth 1 -type f -name 'checkpoint-*.tar' -printf '%f\n' | sort | tail -n 1)"
  [[ -n "$newest" ]] || die "no backup (checkpoint-*.tar) in $1"
  printf '%s/%s' "$1" "$newest"
}
