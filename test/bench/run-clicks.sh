#!/usr/bin/env bash
# run-clicks.sh measures click ingestion end to end, back to back on this
# machine: wrk posting clicks to "aurix serve" versus pgbench running the SQL
# the service runs per click (click.sql). See README.md for the figures.
#
#   test/bench/run-clicks.sh                  # 3 rounds, 20 s per run
#   ROUNDS=5 DURATION=30 test/bench/run-clicks.sh
#
# Knobs (environment):
#   ROUNDS=3 DURATION=20 WARMUP=3 CONNS=32 THREADS=2
#   SVC_VARIANTS="conns20:AURIX_DATABASE_MAX_CONNS=20 conns40:AURIX_DATABASE_MAX_CONNS=40"
#       service variants, each name:ENV=V[,ENV=V...][:DSN query params], e.g.
#       exec:AURIX_DATABASE_MAX_CONNS=20:default_query_exec_mode=exec
#       An optional 4th field names another aurix binary, to compare a patched
#       build side by side: patched:AURIX_DATABASE_MAX_CONNS=20::/tmp/aurix-patched
#   PG_VARIANTS="simple:simple:15 prepared:prepared:15"
#       pgbench variants, each name:-M mode:notify_permille; the FIRST is the
#       baseline every ratio is taken against (see click.sql for notify_permille)
#   QUIET_MAX_WAIT=60             seconds to wait for the machine to go quiet before a run
#   CLEAN_MAX_OTHER=25            runs where anything else used more than this % of the
#                                 machine's CPU are listed but left out of the medians.
#                                 "Else" includes kernel softirq and PostgreSQL's shared
#                                 background processes, so even a quiet run shows 5-20%.
#
#   WEBHOOK=none                  none: no webhook config, as the first figures were taken;
#                                 receiver: one active config at a local 204 receiver
#                                 (receiver/, RECV_PORT=18182), so every click also opens a
#                                 delivery in its transaction and is delivered while clicks
#                                 arrive: ingestion and delivery share the 2 cores
#   test/bench/run-clicks.sh --summary <results.tsv>   re-prints the tables of a kept run
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres   PORT=18181   KEEP=0 (1: keep work dir)
#
# Every run gets a fresh database aurix_bench_<kind>_<pid>_<n>, migrated by
# "aurix migrate up" (app + River schema); all of them are dropped on exit.
# Everything is bounded in time (timeout on every load and wait) and talks to
# 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH="$ROOT/test/bench"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
SVC_VARIANTS=${SVC_VARIANTS:-"conns20:AURIX_DATABASE_MAX_CONNS=20 conns40:AURIX_DATABASE_MAX_CONNS=40"}
PG_VARIANTS=${PG_VARIANTS:-"simple:simple:15 prepared:prepared:15"}
QUIET_MAX_WAIT=${QUIET_MAX_WAIT:-60}
CLEAN_MAX_OTHER=${CLEAN_MAX_OTHER:-25}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
PORT=${PORT:-18181}
KEEP=${KEEP:-0}
WEBHOOK=${WEBHOOK:-none}
RECV_PORT=${RECV_PORT:-18182}
RECV_PID=""
TICK=$(getconf CLK_TCK)

for tool in wrk pgbench psql go; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y wrk; pgbench/psql come with postgresql)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/aurix-clicks.XXXXXX)
BIN="$WORK/aurix"
RESULTS="$WORK/results.tsv"
DBS="$WORK/databases"
: >"$DBS"
export PGOPTIONS="-c client_min_messages=warning"
SVC_PID=""
SAMPLER_PID=""

cleanup() {
  set +e
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
  [ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null
  if [ -n "$SVC_PID" ] && kill -0 "$SVC_PID" 2>/dev/null; then
    kill -TERM "$SVC_PID"; for _ in $(seq 1 60); do kill -0 "$SVC_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$SVC_PID" 2>/dev/null
  fi
  while read -r db; do psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1; done <"$DBS"
  if [ "$KEEP" = 1 ]; then echo "work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# busy_pct prints the share of CPU time not idle over 2 seconds, all cores.
# (/proc/stat cpu line: user nice system idle iowait irq softirq steal ...)
busy_pct() {
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat); sleep 2
  b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
  echo "$a $b" | awk '{busy=$3-$1; idle=$4-$2; printf "%d", (busy+idle) ? 100*busy/(busy+idle) : 0}'
}

# cpu_mark prints "<wall seconds> <busy CPU ticks, all cores>".
cpu_mark() { echo "$(date +%s.%N) $(awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat)"; }

# other_pct <mark before> <mark after> <CPU seconds of ours> prints the share of
# the machine's CPU that something else used during the window (other
# engineers' builds and tests share these cores): the contamination figure.
other_pct() {
  echo "$1 $2 $3" | awk -v tick="$TICK" -v n="$(nproc)" '{wall=$3-$1; busy=($4-$2)/tick; o=busy-$5; if (o < 0) o = 0; printf "%.0f", 100*o/(n*wall)}'
}

# wait_quiet waits (bounded) until other work on the machine leaves it mostly
# idle, and prints the background busy share it ended with.
wait_quiet() {
  local waited=0 busy
  busy=$(busy_pct)
  while [ "$busy" -gt 25 ] && [ "$waited" -lt "$QUIET_MAX_WAIT" ]; do
    sleep 3; waited=$((waited + 5)); busy=$(busy_pct)
  done
  echo "$busy"
}

# new_db creates and migrates a fresh database and prints its name.
new_db() {
  local name="aurix_bench_$1_$$_$2"
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
  psql -qX -d postgres -c "CREATE DATABASE \"$name\"" >/dev/null
  echo "$name" >>"$DBS"
  DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$name?sslmode=disable" "$BIN" migrate up >/dev/null
  echo "$name"
}

drop_db() { psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null; }

# sample_db_cpu writes, every second, "<iteration> <pid> <utime+stime ticks>"
# for each PostgreSQL backend connected to database $1 (two forks a second,
# so the sampler itself stays out of the figures).
sample_db_cpu() {
  local db=$1 out=$2 i=0 pids
  while :; do
    i=$((i + 1))
    pids=$(pgrep -f "postgres: .* $db " || true)
    if [ -n "$pids" ]; then
      # shellcheck disable=SC2046
      awk -v i="$i" '{p = FILENAME; sub(/^\/proc\//, "", p); sub(/\/stat$/, "", p); sub(/^.*\) /, ""); print i, p, $12 + $13}' \
        $(printf '/proc/%s/stat ' $pids) 2>/dev/null >>"$out" || true
    fi
    sleep 1
  done
}

# db_cpu_seconds sums each backend's CPU between its first and last sample
# (a backend already there at the first sample counts from that value).
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

run_service() { # run_service <round> <variant spec name:ENV=V,...:dsnparams[:binary]>
  local round=$1 spec=$2 name envs dsn bin db bg url out t0 t1 m0 m1 appcpu dbcpu clientcpu other rps p50 p99 reqs errs backlog delivered
  IFS=: read -r name envs dsn bin <<<"$spec"
  bin=${bin:-$BIN}
  bg=$(wait_quiet)
  if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/"; then
    echo "something already listens on 127.0.0.1:$PORT; set PORT" >&2; exit 1
  fi
  db=$(new_db svc "${round}_${name//[^a-z0-9]/_}")
  url="postgres://$PGUSER@$PGHOST:$PGPORT/$db?sslmode=disable${dsn:+&$dsn}"
  # shellcheck disable=SC2086
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
    DATABASE_URL="$url" AURIX_HTTP_ADDR="127.0.0.1:$PORT" AURIX_MIGRATE_ON_START=false \
    AURIX_WHATSAPP_NUMBER=+15550783881 AURIX_WHATSAPP_VERIFY_TOKEN=bench AURIX_WHATSAPP_APP_SECRET=bench \
    AURIX_AGENT_API_KEY=bench TOPKEE_INTEGRATION_API_KEY=k AURIX_LOG_LEVEL=warn \
    AURIX_WIDGET_RATE_LIMIT=0 AURIX_WEBHOOK_ALLOW_INSECURE=true AURIX_WEBHOOK_ALLOW_PRIVATE_TARGETS=true ${envs//,/ } \
    "$bin" serve >"$WORK/serve-$round-$name.log" 2>&1 &
  SVC_PID=$!
  for _ in $(seq 1 60); do
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break
    kill -0 "$SVC_PID" 2>/dev/null || { cat "$WORK/serve-$round-$name.log" >&2; exit 1; }
    sleep 0.5
  done
  if [ "$WEBHOOK" = receiver ]; then
    curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$PORT/api/integrations/topkee/webhook-config" \
      -H "Authorization: Bearer k" -H "Content-Type: application/json" -d "{\"url\":\"http://127.0.0.1:$RECV_PORT/hook\"}"
  fi
  # Warm-up: opens the pool's connections (pgbench excludes its connection time too).
  timeout $((WARMUP + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -s "$BENCH/click.lua" \
    "http://127.0.0.1:$PORT/api/widget/click" >/dev/null
  : >"$WORK/dbcpu"; sample_db_cpu "$db" "$WORK/dbcpu" & SAMPLER_PID=$!
  [ "$WEBHOOK" = receiver ] && curl -fsS -o /dev/null -X POST "http://127.0.0.1:$RECV_PORT/reset"
  t0=$(proc_ticks "$SVC_PID"); m0=$(cpu_mark)
  out="$WORK/wrk-$round-$name.txt"
  TIMEFORMAT='%U %S'
  { time timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$BENCH/click.lua" \
      "http://127.0.0.1:$PORT/api/widget/click" >"$out" 2>"$out.err"; } 2>"$WORK/time"
  t1=$(proc_ticks "$SVC_PID"); m1=$(cpu_mark)
  kill "$SAMPLER_PID"; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""
  clientcpu=$(awk '{printf "%.2f", $1 + $2}' "$WORK/time")
  read -r rps p50 p99 reqs errs < <(sed -n 's/^RESULT rps=\([^ ]*\) p50_ms=\([^ ]*\) p99_ms=\([^ ]*\) requests=\([^ ]*\) errors=\([^ ]*\)$/\1 \2 \3 \4 \5/p' "$out")
  backlog=$(psql -qXAt -d "$db" -c "SELECT count(*) FILTER (WHERE state IN ('available','running')) || '/' || count(*) FROM river_job")
  delivered=-
  [ "$WEBHOOK" = receiver ] && delivered=$(curl -fsS "http://127.0.0.1:$RECV_PORT/stats" | tr ' ' '\n' | sed -n 's/^count=//p')
  kill -TERM "$SVC_PID"
  for _ in $(seq 1 60); do kill -0 "$SVC_PID" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$SVC_PID" 2>/dev/null || true; wait "$SVC_PID" 2>/dev/null || true; SVC_PID=""
  appcpu=$(echo "$t0 $t1 $TICK" | awk '{printf "%.2f", ($2-$1)/$3}'); dbcpu=$(db_cpu_seconds "$WORK/dbcpu")
  other=$(other_pct "$m0" "$m1" "$(echo "$appcpu $dbcpu $clientcpu" | awk '{print $1+$2+$3}')")
  printf '%s\tservice\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$rps" "$p50" "$p99" "$reqs" "$errs" \
    "$appcpu" "$dbcpu" "$clientcpu" "$other" "busy_before=$bg%;jobs_open=$backlog;delivered_during=$delivered" >>"$RESULTS"
  log "round $round service $name: $rps req/s p50 $p50 ms p99 $p99 ms errors $errs (other load $other%, open/total jobs $backlog, delivered during the run $delivered)"
  drop_db "$db"
}

run_pgbench() { # run_pgbench <round> <variant spec name:mode:notify_permille>
  local round=$1 spec=$2 name mode permille db bg out tps reqs p50 p99 m0 m1 dbcpu clientcpu other fails
  IFS=: read -r name mode permille <<<"$spec"
  bg=$(wait_quiet)
  db=$(new_db pg "${round}_${name//[^a-z0-9]/_}")
  out="$WORK/pgbench-$round-$name.txt"
  mkdir -p "$WORK/pglog-$round-$name"
  : >"$WORK/dbcpu"; sample_db_cpu "$db" "$WORK/dbcpu" & SAMPLER_PID=$!
  TIMEFORMAT='%U %S'; m0=$(cpu_mark)
  { time (cd "$WORK/pglog-$round-$name" && timeout $((DURATION + 60)) pgbench -n -c "$CONNS" -j "$THREADS" -T "$DURATION" \
      -M "$mode" -D notify_permille="$permille" -r -l -f "$BENCH/click.sql" "$db" >"$out" 2>"$out.err"); } 2>"$WORK/time"
  m1=$(cpu_mark)
  kill "$SAMPLER_PID"; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""
  clientcpu=$(awk '{printf "%.2f", $1 + $2}' "$WORK/time")
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out")
  reqs=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
  fails=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out"); fails=${fails:-0}
  # Per-transaction log: field 3 is the latency in microseconds.
  cat "$WORK/pglog-$round-$name"/pgbench_log.* | awk '{print $3 / 1000}' >"$WORK/lat"
  p50=$(pct "$WORK/lat" 50); p99=$(pct "$WORK/lat" 99)
  dbcpu=$(db_cpu_seconds "$WORK/dbcpu")
  other=$(other_pct "$m0" "$m1" "$(echo "$dbcpu $clientcpu" | awk '{print $1+$2}')")
  printf '%s\tpgbench\t%s\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$tps" "$p50" "$p99" "$reqs" "$fails" \
    "-" "$dbcpu" "$clientcpu" "$other" "busy_before=$bg%;notify/s=$(awk -v t="$tps" -v p="$permille" 'BEGIN{printf "%.0f", t*p/1000}')" >>"$RESULTS"
  log "round $round pgbench $name (-M $mode, notify $permille/1000): $tps tps p50 $p50 ms p99 $p99 ms failed $fails (other load $other%)"
  cp "$out" "$WORK/last-pgbench-$name.txt"
  rm -rf "$WORK/pglog-$round-$name"
  drop_db "$db"
}

# summary <results.tsv> prints the per-run table and the medians.
summary() {
  echo
  echo "Per run (cpu_* = CPU seconds in the measured window: app = aurix process, db = its PostgreSQL backends,"
  echo "client = wrk/pgbench; other% = share of the machine's CPU used by anything else meanwhile):"
  printf 'round\tkind\tvariant\tthroughput/s\tp50_ms\tp99_ms\ttxns\terrors\tcpu_app\tcpu_db\tcpu_client\tother%%\tnotes\n'
  cat "$1"
  echo
  echo "Medians, first over all runs, then over the clean runs only (other% <= $CLEAN_MAX_OTHER); n = runs used."
  echo "CPU ms per click = CPU seconds / transactions * 1000; ratio = median throughput / that of pgbench '${PG_VARIANTS%%:*}'"
  echo "in the same block."
  BASE=${PG_VARIANTS%% *}; BASE=${BASE%%:*}
  for set in all clean; do
    echo "-- $set runs"
    printf "%-24s %3s %9s %8s %8s %11s %10s %14s %7s\n" "variant" "n" "median/s" "p50_ms" "p99_ms" "app_cpu_ms" "db_cpu_ms" "client_cpu_ms" "ratio"
    awk -F'\t' -v base="pgbench $BASE" -v clean="$CLEAN_MAX_OTHER" -v set="$set" '
      function median(list,   n, a, i, t, j) {
        n = split(list, a, " "); for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
      set == "clean" && $12 + 0 > clean { next }
      { k = $2 " " $3; n[k]++; rps[k] = rps[k] " " $4; p50[k] = p50[k] " " $5; p99[k] = p99[k] " " $6
        if ($9 != "-") app[k] = app[k] " " 1000 * $9 / $7
        db[k] = db[k] " " 1000 * $10 / $7; cl[k] = cl[k] " " 1000 * $11 / $7 }
      END {
        b = (base in n) ? median(rps[base]) : 0
        for (k in n) printf "%-24s %3d %9.1f %8.2f %8.2f %11s %10.2f %14.2f %7s\n", k, n[k], median(rps[k]), median(p50[k]), median(p99[k]),
          (k in app) ? sprintf("%.2f", median(app[k])) : "-", median(db[k]), median(cl[k]), b ? sprintf("%.2f", median(rps[k]) / b) : "-"
      }' "$1" | sort
  done
}

if [ "${1:-}" = "--summary" ]; then
  # Re-print the tables of an earlier run (KEEP=1 keeps its results.tsv).
  summary "$2"
  exit 0
fi

log "building $BIN"
(cd "$ROOT" && go build -o "$BIN" ./bootstrap/cmd/aurix)
if [ "$WEBHOOK" = receiver ]; then
  (cd "$ROOT" && go build -tags bench -o "$WORK/receiver" ./test/bench/receiver)
  "$WORK/receiver" -addr "127.0.0.1:$RECV_PORT" >"$WORK/receiver.log" 2>&1 &
  RECV_PID=$!
  for _ in $(seq 1 40); do curl -fsS -o /dev/null "http://127.0.0.1:$RECV_PORT/stats" 2>/dev/null && break; sleep 0.25; done
fi
log "machine: $(nproc) cores; $(go version | awk '{print $3}'); $(psql -qXAt -d postgres -c 'SHOW server_version'); $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
log "each run: ${DURATION}s, $CONNS connections, $THREADS threads; $ROUNDS rounds, alternating order"

for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then
    for v in $SVC_VARIANTS; do run_service "$round" "$v"; done
    for v in $PG_VARIANTS; do run_pgbench "$round" "$v"; done
  else
    for v in $PG_VARIANTS; do run_pgbench "$round" "$v"; done
    for v in $SVC_VARIANTS; do run_service "$round" "$v"; done
  fi
done

echo
summary "$RESULTS"
if [ "$KEEP" = 1 ]; then echo "last pgbench outputs (per-statement latencies): $WORK/last-pgbench-*.txt"; fi
