# lib.sh: helpers for run-leads.sh (sourced, not run).
# The caller sets WORK (a scratch directory), DBS (a file listing the
# databases to drop on exit), QUIET_MAX_WAIT and the PG* variables.

TICK=$(getconf CLK_TCK)

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# busy_pct prints the share of CPU time not idle over 2 seconds, all cores.
busy_pct() {
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$6+$7+$8, $5}' /proc/stat); sleep 2
  b=$(awk '/^cpu /{print $2+$3+$4+$6+$7+$8, $5}' /proc/stat)
  echo "$a $b" | awk '{busy=$3-$1; idle=$4-$2; printf "%d", (busy+idle) ? 100*busy/(busy+idle) : 0}'
}

# wait_quiet waits (bounded by QUIET_MAX_WAIT seconds) until no other wrk or
# pgbench runs (another benchmark sharing the cores would halve both
# figures) and the machine is mostly idle; it prints the busy share it ended
# with, suffixed with "!" when it gave up waiting.
wait_quiet() {
  local waited=0 busy
  while others_busy; do
    [ "$waited" -ge "$QUIET_MAX_WAIT" ] && break
    sleep 3; waited=$((waited + 3))
  done
  busy=$(busy_pct)
  while [ "$busy" -gt 25 ] && [ "$waited" -lt "$QUIET_MAX_WAIT" ]; do
    sleep 3; waited=$((waited + 5)); busy=$(busy_pct)
  done
  if [ "$waited" -ge "$QUIET_MAX_WAIT" ]; then echo "${busy}!"; else echo "$busy"; fi
}

# new_db <name>: creates and migrates (app + River schema) a fresh database.
new_db() {
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null
  psql -qX -d postgres -c "CREATE DATABASE \"$1\"" >/dev/null
  echo "$1" >>"$DBS"
  DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$1?sslmode=disable" "$BIN" migrate up >/dev/null
}

drop_db() { psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null; }

drop_all_dbs() {
  local db
  [ -f "$DBS" ] || return 0
  while read -r db; do psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1; done <"$DBS"
}

# sample_db_cpu <db> <out>: every 0.5 s, "<iteration> <pid> <utime+stime
# ticks>" for each PostgreSQL backend connected to database <db>.
sample_db_cpu() {
  local db=$1 out=$2 i=0 p
  while :; do
    i=$((i + 1))
    for p in $(pgrep -f "postgres: .* $db " || true); do
      awk -v i="$i" -v p="$p" '{sub(/^.*\) /, ""); print i, p, $12 + $13}' "/proc/$p/stat" 2>/dev/null >>"$out" || true
    done
    sleep 0.5
  done
}

# db_cpu_seconds <samples>: CPU of the backends between first and last sample.
db_cpu_seconds() {
  awk -v tick="$TICK" '
    NR == 1 { first_iter = $1 }
    { if (!($2 in last)) base[$2] = ($1 == first_iter) ? $3 : 0; last[$2] = $3 }
    END { s = 0; for (p in last) s += last[p] - base[p]; printf "%.2f", s / tick }' "$1"
}

proc_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }

pct() { # pct <file of numbers> <percentile 0-100>
  sort -n "$1" | awk -v q="$2" '{v[NR] = $1} END { if (NR == 0) { print "nan"; exit } i = int((q / 100) * NR + 0.5); if (i < 1) i = 1; if (i > NR) i = NR; print v[i] }'
}

# stop_pid <pid>: SIGTERM, wait up to 30 s, then SIGKILL.
stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# wait_http <url> <pid> <logfile>: waits (30 s at most) for url to answer 2xx.
wait_http() {
  for _ in $(seq 1 60); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; return 1; }
    sleep 0.5
  done
  echo "$1 did not answer in 30 s" >&2; cat "$3" >&2; return 1
}

# median <numbers...>
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Another benchmark's load generators: wrk or pgbench processes outside this
# script's session.
MY_SID=$(ps -o sid= -p $$ | tr -d ' ')
others_busy() {
  local p
  for p in $(pgrep -x wrk; pgrep -x pgbench); do
    [ "$(ps -o sid= -p "$p" 2>/dev/null | tr -d ' ')" != "$MY_SID" ] && return 0
  done
  return 1
}

# watch_others <file>: while it runs, writes "contended" to file as soon as
# another benchmark's wrk or pgbench shows up (run it in the background
# around a measurement, kill it after; such a run is left out of medians).
watch_others() {
  : >"$1"
  while :; do
    if others_busy; then echo contended >"$1"; fi
    sleep 1
  done
}
