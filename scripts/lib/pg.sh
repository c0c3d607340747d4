# shellcheck shell=bash
# A throwaway PostgreSQL cluster for the [pg] tests. Source this file, then:
#
#   trap pg_stop EXIT   # pg_stop is idempotent: safe in a trap and when called by hand
#   pg_start            # exports VENTROS_TEST_PG_URL=postgresql://postgres@127.0.0.1:PORT/postgres
#
# The cluster lives in a fresh temp dir (data, unix socket and log inside it), listens only on
# 127.0.0.1, trusts every local connection and trades durability for speed. When run as root the
# server runs as the `postgres` OS user (PostgreSQL refuses to run as root). Works under `set -eu`.
#
# Knobs (environment): VENTROS_PG_BIN (default /usr/lib/postgresql/15/bin), TMPDIR.

VENTROS_PG_BIN="${VENTROS_PG_BIN:-/usr/lib/postgresql/15/bin}"

# Runs a command as the cluster's owner: `postgres` when we are root, ourselves otherwise. The
# subshell leaves the caller's directory alone (initdb complains when it cannot read the cwd).
_pg_as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

# Whether something accepts TCP connections on 127.0.0.1:$1.
_pg_port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A random port below the Linux ephemeral range (32768+) so it does not collide with outgoing
# connections; the caller retries when the bind still fails.
_pg_candidate_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((15000 + (RANDOM * 32768 + RANDOM) % 17000))
    if ! _pg_port_in_use "${port}"; then
      echo "${port}"
      return 0
    fi
  done
  return 1
}

pg_start() {
  if [[ -n "${VENTROS_PG_DIR:-}" && -d "${VENTROS_PG_DIR}" && -n "${VENTROS_TEST_PG_URL:-}" ]]; then
    echo "pg_start: cluster already running in ${VENTROS_PG_DIR}" >&2
    return 0
  fi
  local bin="${VENTROS_PG_BIN}"
  if [[ ! -x "${bin}/initdb" || ! -x "${bin}/pg_ctl" ]]; then
    echo "pg_start: no PostgreSQL binaries in ${bin} (set VENTROS_PG_BIN)" >&2
    return 1
  fi

  # As root the dir must be reachable by `postgres`: a private TMPDIR (e.g. under /root) is not.
  local base="${TMPDIR:-/tmp}"
  if [[ "$(id -u)" == 0 ]] && ! runuser -u postgres -- test -x "${base}" 2>/dev/null; then
    base=/tmp
  fi
  local dir
  dir="$(mktemp -d "${base}/ventros-pg.XXXXXX")" || return 1
  mkdir -p "${dir}/sock"
  if [[ "$(id -u)" == 0 ]]; then
    chown -R postgres: "${dir}" || {
      rm -rf "${dir}"
      return 1
    }
  fi
  # Exported early so pg_stop can clean up after a failure half way through.
  export VENTROS_PG_DIR="${dir}"

  if ! _pg_as_owner "${bin}/initdb" -D "${dir}/data" -U postgres --auth=trust --encoding=UTF8 \
    --locale=C --no-sync --no-instructions >"${dir}/initdb.log" 2>&1; then
    echo "pg_start: initdb failed:" >&2
    cat "${dir}/initdb.log" >&2
    pg_stop
    return 1
  fi
  cat >>"${dir}/data/postgresql.conf" <<EOF

# ventros test cluster: local only, fast, not durable.
listen_addresses = '127.0.0.1'
unix_socket_directories = '${dir}/sock'
max_connections = 200
fsync = off
full_page_writes = off
synchronous_commit = off
EOF

  # A free-looking port can be taken between the check and the bind: try a few.
  local port attempt log
  for attempt in 1 2 3 4 5; do
    port="$(_pg_candidate_port)" || break
    log="${dir}/server-${attempt}.log"  # created by the server's owner, one per attempt
    if _pg_as_owner "${bin}/pg_ctl" -D "${dir}/data" -l "${log}" -o "-p ${port}" -w -t 60 start \
      >"${dir}/pg_ctl.log" 2>&1; then
      export VENTROS_PG_PORT="${port}"
      export VENTROS_TEST_PG_URL="postgresql://postgres@127.0.0.1:${port}/postgres"
      return 0
    fi
    if ! grep -qiE 'could not (bind|create listen)|address already in use' "${log}"; then
      break
    fi
    echo "pg_start: port ${port} busy (attempt ${attempt}), trying another" >&2
  done
  echo "pg_start: cannot start PostgreSQL:" >&2
  cat "${dir}/pg_ctl.log" "${log:-/dev/null}" >&2 2>/dev/null
  pg_stop
  return 1
}

# Stops the cluster and removes its dir. Safe to call twice and from a trap; always returns 0.
pg_stop() {
  local dir="${VENTROS_PG_DIR:-}"
  unset VENTROS_PG_DIR VENTROS_PG_PORT VENTROS_TEST_PG_URL
  [[ -n "${dir}" && -d "${dir}" ]] || return 0
  if [[ -f "${dir}/data/postmaster.pid" ]]; then
    _pg_as_owner "${VENTROS_PG_BIN}/pg_ctl" -D "${dir}/data" -m immediate -w -t 30 stop \
      >/dev/null 2>&1 || true
  fi
  rm -rf "${dir}" 2>/dev/null || true
  return 0
}
