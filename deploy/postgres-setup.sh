#!/usr/bin/env bash
# Create the PostgreSQL role and database of the gate server (idempotent), then apply the
# schema with `checkpoint db upgrade`. Safe to run again after every upgrade of Checkpoint.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: deploy/postgres-setup.sh [options]

Creates (if missing) a login role and a UTF-8 database owned by it, sets the role's password
when one is given, and runs `checkpoint db upgrade` as that role.

options:
  --db NAME            database name                     [checkpoint]
  --role NAME          role the gate server logs in as   [checkpoint]
  --host HOST          server host or socket directory   [$PGHOST, else the local socket]
  --port PORT          server port                       [$PGPORT, else 5432]
  --admin-user NAME    superuser (or CREATEROLE+CREATEDB) for the set-up [$PGUSER, else postgres]
  --password-env VAR   take the role's password from environment variable VAR
                       (default: CHECKPOINT_DB_PASSWORD if set). Without a password the role
                       uses peer/trust auth on the local socket (OS user = role name).
  --checkpoint CMD     the checkpoint command [checkpoint on PATH, else
                       /opt/checkpoint/venv/bin/checkpoint]
  --no-upgrade         only create role and database
  -h, --help           this text

The admin connection uses libpq (PGPASSWORD, ~/.pgpass, PGSSLMODE ... apply). As root with
no --host, the admin steps run as the postgres OS user (peer auth).

On success the last line is the CHECKPOINT_DATABASE_URL to put into
/etc/checkpoint/checkpoint.env (the password is shown as ***; write it there yourself).

examples:
  sudo bash deploy/postgres-setup.sh                              # local socket, peer auth
  CHECKPOINT_DB_PASSWORD='...' bash deploy/postgres-setup.sh --host db1.internal
EOF
}

die() { printf 'postgres-setup: %s\n' "$*" >&2; exit 1; }
log() { printf '==> %s\n' "$*" >&2; }

db="checkpoint"
role="checkpoint"
host="${PGHOST:-}"
port="${PGPORT:-5432}"
admin_user="${PGUSER:-postgres}"
password_var="CHECKPOINT_DB_PASSWORD"
checkpoint_cmd=""
upgrade=1

while (($#)); do
  case "$1" in
    --db) db="${2:?--db needs a value}"; shift 2 ;;
    --role) role="${2:?--role needs a value}"; shift 2 ;;
    --host) host="${2:?--host needs a value}"; shift 2 ;;
    --port) port="${2:?--port needs a value}"; shift 2 ;;
    --admin-user) admin_user="${2:?--admin-user needs a value}"; shift 2 ;;
    --password-env) password_var="${2:?--password-env needs a value}"; shift 2 ;;
    --checkpoint) checkpoint_cmd="${2:?--checkpoint needs a value}"; shift 2 ;;
    --no-upgrade) upgrade=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

identifier='^[a-z_][a-z0-9_]{0,62}$'
[[ "$db" =~ $identifier ]] || die "--db must be a lower-case SQL identifier, got '$db'"
[[ "$role" =~ $identifier ]] || die "--role must be a lower-case SQL identifier, got '$role'"
[[ "$port" =~ ^[0-9]+$ ]] || die "--port must be a number, got '$port'"
[[ "$password_var" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "--password-env must name a variable"
password="${!password_var:-}"

if [[ -z "$checkpoint_cmd" ]]; then
  if command -v checkpoint >/dev/null; then
    checkpoint_cmd="checkpoint"
  else
    checkpoint_cmd="/opt/checkpoint/venv/bin/checkpoint"
  fi
fi
command -v psql >/dev/null || die "psql not found: apt-get install postgresql-client"

# The admin connection: TCP/socket as given, or peer auth as the postgres OS user.
admin=(psql -X -q -v ON_ERROR_STOP=1 --no-psqlrc -d postgres -U "$admin_user" -p "$port")
if [[ -n "$host" ]]; then
  admin+=(-h "$host")
fi
if [[ -z "$host" && $(id -u) -eq 0 ]] && id postgres >/dev/null 2>&1; then
  admin=(runuser -u postgres -- "${admin[@]}")
fi

log "role $role and database $db on ${host:-local socket}:$port"
# psql variables (:'name' / :"name") quote values, so names and password need no escaping;
# \gexec runs the generated statement only when the object is missing.
"${admin[@]}" -v role="$role" -v db="$db" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')
\gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'role', :'password')
 WHERE :'password' <> ''
\gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8'' TEMPLATE template0', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'db', :'role')
\gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db')
\gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'db', :'role')
\gexec
SQL

# The application's URL. Percent-encode the password; peer auth goes through the socket.
encoded_password=""
if [[ -n "$password" ]]; then
  encoded_password=":$(PW="$password" python3 -c \
    'import os, urllib.parse; print(urllib.parse.quote(os.environ["PW"], safe=""))')"
fi
if [[ -n "$host" && "$host" != /* ]]; then
  url_host="$host:$port"
  url_query=""
else
  url_host=""
  url_query="?host=${host:-/var/run/postgresql}&port=$port"
fi
url="postgresql://$role$encoded_password@$url_host/$db$url_query"
shown_url="postgresql://$role${password:+:***}@$url_host/$db$url_query"

if ((upgrade)); then
  log "checkpoint db upgrade"
  # The URL travels in the environment, not on the command line (ps shows arguments).
  # `db upgrade` loads every setting; when no secret key is configured, CHECKPOINT_ENV=test
  # gives it a throw-away one instead of writing <instance dir>/secret_key here: migrations
  # never use it.
  run=(env "CHECKPOINT_DATABASE_URL=$url")
  if [[ -z "${CHECKPOINT_SECRET_KEY:-}" ]]; then
    run+=("CHECKPOINT_ENV=test")
  fi
  # Peer auth on the socket: the OS user must be the role (e.g. the `checkpoint` user).
  if [[ -z "$password" && -n "$url_query" && $(id -u) -eq 0 ]] && id "$role" >/dev/null 2>&1; then
    run=(runuser -u "$role" -- "${run[@]}")
  fi
  "${run[@]}" "$checkpoint_cmd" db upgrade
fi

log "done"
printf 'CHECKPOINT_DATABASE_URL=%s\n' "$shown_url"
