#!/usr/bin/env bash
# run-leads.sh measures the Leads API (GET /api/integrations/{service}/leads)
# over one million leads, back to back on this machine: wrk against
# "aurix serve" versus pgbench running the SQL the service runs per request
# (leads-first.sql, leads-cursor.sql), for two request mixes:
#   first   the first page (limit=100) of a random day   (leads-page.lua)
#   cursor  partners walking a random day by next_cursor (leads-cursor.lua)
# See README.md for the figures.
#
#   test/bench/run-leads.sh                   # 3 rounds, 20 s per run
#   ROUNDS=1 DURATION=10 LEADS=100000 test/bench/run-leads.sh   # a quick look
#
# Knobs (environment):
#   ROUNDS=3 DURATION=20 WARMUP=3 CONNS=32 THREADS=2
#   LEADS=1000000 CLICKS=500000    seed size (leads-seed.sql; 90 days from 2026-01-01)
#   SCENARIOS="first cursor"
#   SVC_VARIANTS="default:"
#       service variants, each name:ENV=V[,ENV=V...][:DSN query params], e.g.
#       conns32:AURIX_DATABASE_MAX_CONNS=32   exec::default_query_exec_mode=exec
#   PG_MODES="prepared simple"      pgbench -M modes; the FIRST is the ratios' baseline
#                                   (prepared runs leads-*-bound.sql: bind parameters,
#                                   as the service sends them)
#   LOW_CONNS=4                     also run the first service variant and the first
#                                   pgbench mode with this many connections (1 thread),
#                                   where latency is service time, not queueing; "" skips
#   PGLOG=/var/log/postgresql/postgresql-15-main.log   server log, read to capture the
#                                   service's SQL text (skipped when unreadable)
#   QUIET_MAX_WAIT=300              seconds to wait for other wrk/pgbench and a quiet CPU
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres   PORT=18291
#   KEEP=0 (1: keep the work dir and the seeded database aurix_bench_leads_<pid>,
#           e.g. for BENCH_LEADS_DATABASE_URL of leads_bench_test.go)
#
# Everything is bounded in time (timeout on every load and wait) and talks to
# 127.0.0.1 only. The seeded database is dropped on exit unless KEEP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH="$ROOT/test/bench"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
LEADS=${LEADS:-1000000}
CLICKS=${CLICKS:-500000}
SCENARIOS=${SCENARIOS:-"first cursor"}
SVC_VARIANTS=${SVC_VARIANTS:-"default:"}
PG_MODES=${PG_MODES:-"prepared simple"}
LOW_CONNS=${LOW_CONNS-4}
PGLOG=${PGLOG:-/var/log/postgresql/postgresql-15-main.log}
QUIET_MAX_WAIT=${QUIET_MAX_WAIT:-300}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
PORT=${PORT:-18291}
KEEP=${KEEP:-0}
KEY=benchkey

for tool in wrk pgbench psql go curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y wrk; pgbench/psql come with postgresql)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/aurix-leads.XXXXXX)
BIN="$WORK/aurix"
RESULTS="$WORK/results.tsv"
DBS="$WORK/databases"
: >"$RESULTS"
: >"$DBS"
export PGOPTIONS="-c client_min_messages=warning"
SVC_PID=""
SAMPLER_PID=""
WATCH_PID=""
DB="aurix_bench_leads_$$"
# shellcheck source=lib.sh
. "$BENCH/lib.sh"

cleanup() {
  set +e
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
  [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
  stop_pid "$SVC_PID"
  if [ "$KEEP" = 1 ]; then
    echo "kept: work dir $WORK, database $DB (BENCH_LEADS_DATABASE_URL=postgres://$PGUSER@$PGHOST:$PGPORT/$DB?sslmode=disable)" >&2
  else
    drop_all_dbs; rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB?sslmode=disable"

# start_service <variant spec name:ENV=V,...:dsnparams> <log>
start_service() {
  local name envs dsn
  IFS=: read -r name envs dsn <<<"$1"
  if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null; then
    echo "something already answers on 127.0.0.1:$PORT: set PORT" >&2; exit 1
  fi
  # shellcheck disable=SC2086
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
    DATABASE_URL="$URL${dsn:+&$dsn}" AURIX_HTTP_ADDR="127.0.0.1:$PORT" AURIX_MIGRATE_ON_START=false \
    AURIX_WHATSAPP_NUMBER=+15550783881 AURIX_WHATSAPP_VERIFY_TOKEN=bench AURIX_WHATSAPP_APP_SECRET=bench \
    AURIX_AGENT_API_KEY=bench TOPKEE_INTEGRATION_API_KEY=$KEY AURIX_LOG_LEVEL=warn \
    AURIX_WIDGET_RATE_LIMIT=0 ${envs//,/ } \
    "$BIN" serve >"$2" 2>&1 &
  SVC_PID=$!
  wait_http "http://127.0.0.1:$PORT/healthz" "$SVC_PID" "$2"
}

# begin_measure / end_measure: CPU sampling of the database's backends and
# the watch for other benchmarks around one measured run.
begin_measure() {
  : >"$WORK/dbcpu"; sample_db_cpu "$DB" "$WORK/dbcpu" & SAMPLER_PID=$!
  watch_others "$WORK/contended" & WATCH_PID=$!
}
end_measure() {
  kill "$SAMPLER_PID" "$WATCH_PID"; wait "$SAMPLER_PID" "$WATCH_PID" 2>/dev/null || true; SAMPLER_PID="" WATCH_PID=""
  if [ -s "$WORK/contended" ]; then echo ";contended"; fi
}

script_of() { if [ "$1" = first ]; then echo "$BENCH/leads-page.lua"; else echo "$BENCH/leads-cursor.lua"; fi; }
# sql_of <scenario> <pgbench mode>: with -M prepared, the statements with
# bind parameters, as the service sends them; otherwise with the values
# written into the text.
sql_of() {
  local suffix=""
  [ "$2" = prepared ] && suffix=-bound
  if [ "$1" = first ]; then echo "$BENCH/leads-first$suffix.sql"; else echo "$BENCH/leads-cursor$suffix.sql"; fi
}

run_service() { # run_service <round> <scenario> <variant spec> <connections> <threads>
  local round=$1 scen=$2 spec=$3 conns=$4 threads=$5 name bg out t0 t1 clientcpu rps p50 p99 reqs errs extra flag
  name=${spec%%:*}
  bg=$(wait_quiet)
  start_service "$spec" "$WORK/serve-$round-$scen-$name-$conns.log"
  # Warm-up: opens the pool's connections (pgbench excludes its connection time too).
  KEY=$KEY timeout $((WARMUP + 30)) wrk -t"$threads" -c"$conns" -d"${WARMUP}s" -s "$(script_of "$scen")" "http://127.0.0.1:$PORT" >/dev/null
  begin_measure
  t0=$(proc_ticks "$SVC_PID")
  out="$WORK/wrk-$round-$scen-$name-$conns.txt"
  TIMEFORMAT='%U %S'
  { time KEY=$KEY timeout $((DURATION + 30)) wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency -s "$(script_of "$scen")" \
      "http://127.0.0.1:$PORT" >"$out" 2>"$out.err"; } 2>"$WORK/time"
  t1=$(proc_ticks "$SVC_PID")
  flag=$(end_measure)
  clientcpu=$(awk '{printf "%.2f", $1 + $2}' "$WORK/time")
  read -r rps p50 p99 reqs errs extra < <(sed -n 's/^RESULT rps=\([^ ]*\) p50_ms=\([^ ]*\) p99_ms=\([^ ]*\) requests=\([^ ]*\) errors=\([^ ]*\)\(.*\)$/\1 \2 \3 \4 \5 \6/p' "$out")
  stop_pid "$SVC_PID"; SVC_PID=""
  extra=$(echo "${extra:-}" | tr ' ' ';' | sed 's/^;//')
  printf '%s\tservice\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\n' "$round" "$scen" "$name" "$conns" "$rps" "$p50" "$p99" "$reqs" "$errs" \
    "$(echo "$t0 $t1 $TICK" | awk '{print ($2-$1)/$3}')" "$(db_cpu_seconds "$WORK/dbcpu")" "$clientcpu" "bg=$bg%${extra:+;$extra}$flag" >>"$RESULTS"
  log "round $round $scen service $name c$conns: $rps req/s p50 $p50 ms p99 $p99 ms errors $errs (bg busy $bg%$flag) ${extra}"
}

run_pgbench() { # run_pgbench <round> <scenario> <mode> <connections> <threads>
  local round=$1 scen=$2 mode=$3 conns=$4 threads=$5 bg out tps reqs p50 p99 clientcpu fails flag
  bg=$(wait_quiet)
  out="$WORK/pgbench-$round-$scen-$mode-$conns.txt"
  rm -rf "$WORK/pglog"; mkdir -p "$WORK/pglog"
  begin_measure
  TIMEFORMAT='%U %S'
  { time (cd "$WORK/pglog" && timeout $((DURATION + 60)) pgbench -n -c "$conns" -j "$threads" -T "$DURATION" \
      -M "$mode" -D c=: -l -f "$(sql_of "$scen" "$mode")" "$DB" >"$out" 2>"$out.err"); } 2>"$WORK/time"
  flag=$(end_measure)
  clientcpu=$(awk '{printf "%.2f", $1 + $2}' "$WORK/time")
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out")
  reqs=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
  fails=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out"); fails=${fails:-0}
  cat "$WORK/pglog"/pgbench_log.* | awk '{print $3 / 1000}' >"$WORK/lat"
  p50=$(pct "$WORK/lat" 50); p99=$(pct "$WORK/lat" 99)
  printf '%s\tpgbench\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$scen" "$mode" "$conns" "$tps" "$p50" "$p99" "$reqs" "$fails" \
    "-" "$(db_cpu_seconds "$WORK/dbcpu")" "$clientcpu" "bg=$bg%$flag" >>"$RESULTS"
  log "round $round $scen pgbench -M $mode c$conns: $tps tps p50 $p50 ms p99 $p99 ms failed $fails (bg busy $bg%$flag)"
}

log "building $BIN"
(cd "$ROOT" && go build -o "$BIN" ./bootstrap/cmd/aurix)
log "machine: $(nproc) cores; $(go version | awk '{print $3}'); PostgreSQL $(psql -qXAt -d postgres -c 'SHOW server_version'), shared_buffers $(psql -qXAt -d postgres -c 'SHOW shared_buffers'); $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"

log "seeding $DB: $LEADS leads, $CLICKS extra clicks (leads-seed.sql)"
new_db "$DB"
t0=$(date +%s)
psql -qX -d "$DB" -v leads="$LEADS" -v clicks="$CLICKS" -f "$BENCH/leads-seed.sql" >/dev/null
psql -qX -d "$DB" -c "VACUUM ANALYZE" >/dev/null
log "seeded in $(( $(date +%s) - t0 )) s: $(psql -qXAt -d "$DB" -c "SELECT (SELECT count(*) FROM leads) || ' leads, ' || (SELECT count(*) FROM inbound_sources) || ' clicks, ' || (SELECT count(*) FROM leads WHERE created_at >= '2026-02-14' AND created_at < '2026-02-15') || ' leads on 2026-02-14'")"

# The service's SQL, as PostgreSQL received it: log_statement for this
# database only, for one first page and one cursor page.
if [ -r "$PGLOG" ]; then
  psql -qX -d postgres -c "ALTER DATABASE \"$DB\" SET log_statement = 'all'" >/dev/null
  from=$(($(wc -l <"$PGLOG") + 1))
  start_service "default:" "$WORK/serve-capture.log"
  page=$(curl -fsS -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/integrations/topkee/leads?limit=100&from_date=2026-02-14&to_date=2026-02-15")
  cursor=$(printf '%s' "$page" | sed -n 's/.*"next_cursor":"\([^"]*\)".*/\1/p')
  curl -fsS -o /dev/null -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/integrations/topkee/leads?limit=100&from_date=2026-02-14&to_date=2026-02-15&cursor=$cursor"
  sleep 1
  stop_pid "$SVC_PID"; SVC_PID=""
  psql -qX -d postgres -c "ALTER DATABASE \"$DB\" RESET log_statement" >/dev/null
  # One statement per log entry; continuation lines start with a tab.
  tail -n +"$from" "$PGLOG" | awk -v db="$DB" '
    /^[0-9]{4}-[0-9]{2}-[0-9]{2} / { if (keep) print stmt "\n"; keep = 0; stmt = "" }
    /^[0-9]{4}-[0-9]{2}-[0-9]{2} / && index($0, "@" db " ") && /(execute|statement)[^:]*: SELECT l\.conversation_id/ {
      keep = 1; sub(/^.*(execute|statement)[^:]*: /, ""); stmt = $0; next }
    keep { stmt = stmt "\n" $0 }
    END { if (keep) print stmt "\n" }' >"$WORK/captured.sql"
  echo; echo "The service's SQL as PostgreSQL logged it (log_statement = all; bind parameters, one prepared statement per shape and connection):"
  cat "$WORK/captured.sql"
else
  log "cannot read $PGLOG: skipping the capture of the service's SQL"
fi
# The same statements with the values of one first page and one cursor page
# written in, for EXPLAIN (the planner sees the values either way: PostgreSQL
# plans the service's prepared statements with their parameters, see
# README.md).
lead_sql() { # lead_sql <join column> <cursor condition or "">
  echo "SELECT l.conversation_id, l.created_at, l.status, l.phone, l.channel_id, l.lead_data, l.completed_at, l.correlation_id, s.correlated_at, s.click_url, s.parsed_params FROM leads l LEFT JOIN inbound_sources s ON s.$1 = l.$1 WHERE l.created_at >= '2026-02-14 00:00:00+00:00' AND l.created_at < '2026-02-15 00:00:00+00:00'${2:+ AND $2} ORDER BY l.created_at, l.conversation_id LIMIT 101"
}
SQL_FIRST=$(lead_sql conversation_id "")
SQL_CURSOR=$(lead_sql conversation_id "(l.created_at, l.conversation_id) > ('2026-02-14 00:12:57.941+00:00', 494540)")
# EXPLAIN in one session: the first execution warms the backend's catalog
# caches (a fresh backend spends ~4 ms planning), the second is shown.
echo "EXPLAIN (ANALYZE, BUFFERS) of a first page and a cursor page, each run twice in one session (the second shown):"
psql -qX -d "$DB" <<SQL
\\o /dev/null
EXPLAIN (ANALYZE, BUFFERS) $SQL_FIRST;
EXPLAIN (ANALYZE, BUFFERS) $SQL_CURSOR;
\\o
\\echo first page
EXPLAIN (ANALYZE, BUFFERS) $SQL_FIRST;
\\echo cursor page
EXPLAIN (ANALYZE, BUFFERS) $SQL_CURSOR;
SQL
# Pages on days nothing has read since the seed: the earlier join on the
# random correlation ids touches ~100 distinct index leaves per page, the
# join on conversation_id (same rows, see README.md) a few.
cold_page() { # cold_page <join column> <day> <first id of the day's afternoon>
  lead_sql "$1" "(l.created_at, l.conversation_id) > ('$2 13:00:00+00:00', $3)" |
    sed -e "s/2026-02-14 00:00:00/$2 00:00:00/; s/2026-02-15 00:00:00/$(date -u -d "$2 + 1 day" +%F) 00:00:00/"
}
echo "Cursor pages on days not read since the seed (first execution; the earlier join on correlation_id, then the service's join on conversation_id):"
psql -qX -d "$DB" -c "EXPLAIN (ANALYZE, BUFFERS) $(cold_page correlation_id 2026-03-16 828000)"
psql -qX -d "$DB" -c "EXPLAIN (ANALYZE, BUFFERS) $(cold_page conversation_id 2026-03-09 750000)"

log "each run: ${DURATION}s, $CONNS connections, $THREADS threads; $ROUNDS rounds, alternating order"
FIRST_VARIANT=${SVC_VARIANTS%% *}
FIRST_MODE=${PG_MODES%% *}
for round in $(seq 1 "$ROUNDS"); do
  for scen in $SCENARIOS; do
    if [ $((round % 2)) -eq 1 ]; then
      for v in $SVC_VARIANTS; do run_service "$round" "$scen" "$v" "$CONNS" "$THREADS"; done
      for m in $PG_MODES; do run_pgbench "$round" "$scen" "$m" "$CONNS" "$THREADS"; done
      if [ -n "$LOW_CONNS" ]; then
        run_service "$round" "$scen" "$FIRST_VARIANT" "$LOW_CONNS" 1
        run_pgbench "$round" "$scen" "$FIRST_MODE" "$LOW_CONNS" 1
      fi
    else
      if [ -n "$LOW_CONNS" ]; then
        run_pgbench "$round" "$scen" "$FIRST_MODE" "$LOW_CONNS" 1
        run_service "$round" "$scen" "$FIRST_VARIANT" "$LOW_CONNS" 1
      fi
      for m in $PG_MODES; do run_pgbench "$round" "$scen" "$m" "$CONNS" "$THREADS"; done
      for v in $SVC_VARIANTS; do run_service "$round" "$scen" "$v" "$CONNS" "$THREADS"; done
    fi
  done
done

echo
echo "Per run (cpu_* = CPU seconds during the measured ${DURATION}s: app = aurix, db = its PostgreSQL backends, client = wrk/pgbench;"
echo "a run during which another benchmark's wrk/pgbench ran is marked contended and left out of the medians):"
printf 'round\tkind\tscenario\tvariant\tconns\tthroughput/s\tp50_ms\tp99_ms\trequests\terrors\tcpu_app\tcpu_db\tcpu_client\tnotes\n'
cat "$RESULTS"
echo
echo "Medians over the uncontended runs of $ROUNDS rounds (CPU ms per request = cpu seconds / requests * 1000):"
printf "%-8s %-8s %-12s %5s %4s %10s %8s %8s %11s %10s %12s %16s\n" "scenario" "kind" "variant" "conns" "runs" "median/s" "p50_ms" "p99_ms" "app_cpu_ms" "db_cpu_ms" "client_cpu_ms" "ratio_to_pgbench"
awk -F'\t' -v base="$FIRST_MODE" '
  function median(list,   n, a, i, t, j) {
    n = split(list, a, " "); if (n == 0) return "nan"
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  $14 ~ /contended/ { next }
  { k = $3 " " $2 " " $4 " " $5; keys[k] = 1; runs[k]++; rps[k] = rps[k] " " $6; p50[k] = p50[k] " " $7; p99[k] = p99[k] " " $8
    if ($11 != "-") app[k] = app[k] " " 1000 * $11 / $9; db[k] = db[k] " " 1000 * $12 / $9; cl[k] = cl[k] " " 1000 * $13 / $9 }
  END {
    for (k in keys) {
      split(k, f, " ")
      b = median(rps[f[1] " pgbench " base " " f[4]])
      printf "%-8s %-8s %-12s %5s %4d %10.1f %8.2f %8.2f %11s %10.2f %12.2f %16s\n", f[1], f[2], f[3], f[4], runs[k], median(rps[k]), median(p50[k]), median(p99[k]),
        (k in app) ? sprintf("%.2f", median(app[k])) : "-", median(db[k]), median(cl[k]), (b != "nan" && b > 0) ? sprintf("%.2f", median(rps[k]) / b) : "-"
    }
  }' "$RESULTS" | sort -k1,1 -k5,5n -k2,2 -k3,3
echo "ratio_to_pgbench = median requests/s / median transactions/s of pgbench -M $FIRST_MODE on the same scenario and connection count (same run, same machine)"
