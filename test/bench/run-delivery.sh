#!/usr/bin/env bash
# run-delivery.sh measures sustained webhook deliveries per second to a fast
# local receiver (receiver/, answers 204), against the ceiling of the job
# queue itself on the same machine in the same run (riverceiling/: River
# v0.51.2 over riverdatabasesql + pgx stdlib, no-op jobs, the service's 50
# workers and 20 ms FetchCooldown). See README.md for the figures.
#
#   test/bench/run-delivery.sh                 # 3 rounds, 10,000 events per run
#   ROUNDS=1 EVENTS=5000 test/bench/run-delivery.sh
#   SVC_VARIANTS="inflight50:deliver:AURIX_WEBHOOK_MAX_IN_FLIGHT=50" ROUNDS=1 test/bench/run-delivery.sh
#
# How the service is timed: a fresh database gets one webhook config (PUT
# .../webhook-config at the receiver) and one real click (POST
# /api/widget/click, delivered once), then, with the service stopped,
# delivery-preload.sql writes EVENTS more events the way the service's
# transactions do. The service is started again and drains the backlog; the
# receiver timestamps every POST. deliveries/s = (deliveries - 1) / (last POST
# - first POST); "median_1s" is the median of the receiver's per-second
# counts (first and last second left out). The ceiling is timed the same way:
# N jobs inserted with InsertMany, then (jobs - 1) / (last Work - first Work).
#
# Knobs (environment):
#   ROUNDS=3 EVENTS=10000 RUN_TIMEOUT=300 (seconds a drain may take at most)
#   CEILING_MODES="noop twostage"   riverceiling modes (noop is the ratios' baseline)
#   SVC_VARIANTS="default:deliver: legacy-dispatch:dispatch: inflight50:deliver:AURIX_WEBHOOK_MAX_IN_FLIGHT=50"
#       service variants, each name:stage:ENV=V[,ENV=V...][:DSN query params];
#       stage is where the preloaded backlog starts (delivery-preload.sql):
#       deliver = what a click's transaction leaves (event, deliveries and
#       their first-attempt jobs): the whole asynchronous path; dispatch =
#       the event with a dispatch job, as versions before the fan-out moved
#       into the event's transaction left it (still drained). E.g.
#       inflight50:deliver:AURIX_WEBHOOK_MAX_IN_FLIGHT=50
#       exec:deliver::default_query_exec_mode=exec
#   CAPTURE=1          also log every statement (log_statement=all) of a small
#                      drain (CAPTURE_EVENTS=300) and print statements per delivery
#   PGLOG=/var/log/postgresql/postgresql-15-main.log   (read for CAPTURE)
#   QUIET_MAX_WAIT=300 seconds to wait for other wrk/pgbench and a quiet CPU
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres   PORT=18294 RECV_PORT=18295
#   KEEP=0 (1: keep the work dir and the last databases)
#
# Everything is bounded in time and talks to 127.0.0.1 only; every database
# (aurix_bench_deliv_*, aurix_bench_river_*) is dropped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH="$ROOT/test/bench"
ROUNDS=${ROUNDS:-3}
EVENTS=${EVENTS:-10000}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
CEILING_MODES=${CEILING_MODES:-"noop twostage"}
SVC_VARIANTS=${SVC_VARIANTS:-"default:deliver: legacy-dispatch:dispatch: inflight50:deliver:AURIX_WEBHOOK_MAX_IN_FLIGHT=50"}
CAPTURE=${CAPTURE:-0}
CAPTURE_EVENTS=${CAPTURE_EVENTS:-300}
PGLOG=${PGLOG:-/var/log/postgresql/postgresql-15-main.log}
QUIET_MAX_WAIT=${QUIET_MAX_WAIT:-300}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
PORT=${PORT:-18294}
RECV_PORT=${RECV_PORT:-18295}
KEEP=${KEEP:-0}
KEY=benchkey
RECV="http://127.0.0.1:$RECV_PORT"

for tool in psql go curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/aurix-delivery.XXXXXX)
BIN="$WORK/aurix"
RESULTS="$WORK/results.tsv"
DBS="$WORK/databases"
: >"$RESULTS"
: >"$DBS"
export PGOPTIONS="-c client_min_messages=warning"
SVC_PID=""
RECV_PID=""
SAMPLER_PID=""
WATCH_PID=""
# shellcheck source=lib.sh
. "$BENCH/lib.sh"

cleanup() {
  set +e
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
  [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
  stop_pid "$SVC_PID"
  stop_pid "$RECV_PID"
  if [ "$KEEP" = 1 ]; then echo "kept: work dir $WORK, databases: $(tr '\n' ' ' <"$DBS")" >&2; else drop_all_dbs; rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for p in "$PORT" "$RECV_PORT"; do
  if curl -fsS -o /dev/null "http://127.0.0.1:$p/" 2>/dev/null || (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "something already listens on 127.0.0.1:$p: set PORT / RECV_PORT" >&2; exit 1
  fi
done

log "building $BIN, receiver, riverceiling"
(cd "$ROOT" && go build -o "$BIN" ./bootstrap/cmd/aurix \
  && go build -tags bench -o "$WORK/receiver" ./test/bench/receiver \
  && go build -tags bench -o "$WORK/riverceiling" ./test/bench/riverceiling)
log "machine: $(nproc) cores; $(go version | awk '{print $3}'); PostgreSQL $(psql -qXAt -d postgres -c 'SHOW server_version'), synchronous_commit $(psql -qXAt -d postgres -c 'SHOW synchronous_commit')"

"$WORK/receiver" -addr "127.0.0.1:$RECV_PORT" >"$WORK/receiver.log" 2>&1 &
RECV_PID=$!
wait_http "$RECV/stats" "$RECV_PID" "$WORK/receiver.log"

# begin_measure <db> / end_measure: CPU sampling of the database's backends
# and the watch for other benchmarks around one measured run.
begin_measure() {
  : >"$WORK/dbcpu"; sample_db_cpu "$1" "$WORK/dbcpu" & SAMPLER_PID=$!
  watch_others "$WORK/contended" & WATCH_PID=$!
}
end_measure() {
  kill "$SAMPLER_PID" "$WATCH_PID"; wait "$SAMPLER_PID" "$WATCH_PID" 2>/dev/null || true; SAMPLER_PID="" WATCH_PID=""
  if [ -s "$WORK/contended" ]; then echo ";contended"; fi
}

recv_stat() { curl -fsS "$RECV/stats" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# start_service <url> <envs (comma-separated)> <log>
start_service() {
  # shellcheck disable=SC2086
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
    DATABASE_URL="$1" AURIX_HTTP_ADDR="127.0.0.1:$PORT" AURIX_MIGRATE_ON_START=false \
    AURIX_WHATSAPP_NUMBER=+15550783881 AURIX_WHATSAPP_VERIFY_TOKEN=bench AURIX_WHATSAPP_APP_SECRET=bench \
    AURIX_AGENT_API_KEY=bench TOPKEE_INTEGRATION_API_KEY=$KEY AURIX_LOG_LEVEL=warn AURIX_WIDGET_RATE_LIMIT=0 \
    AURIX_WEBHOOK_ALLOW_INSECURE=true AURIX_WEBHOOK_ALLOW_PRIVATE_TARGETS=true ${2//,/ } \
    "$BIN" serve >"$3" 2>&1 &
  SVC_PID=$!
  wait_http "http://127.0.0.1:$PORT/healthz" "$SVC_PID" "$3"
}

# prepare_db <db> <envs> <dsn>: one webhook config at the receiver and one
# real click, delivered; the service is stopped again.
prepare_db() {
  local db=$1 url n
  new_db "$db"
  url="postgres://$PGUSER@$PGHOST:$PGPORT/$db?sslmode=disable${3:+&$3}"
  start_service "$url" "$2" "$WORK/serve-prepare-$db.log"
  curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$PORT/api/integrations/topkee/webhook-config" \
    -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" -d "{\"url\":\"$RECV/hook\"}"
  curl -fsS -o /dev/null -X POST "http://127.0.0.1:$PORT/api/widget/click" -H "Content-Type: application/json" \
    -H "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36" \
    -d '{"click_url":"https://example.com/landing?utm_source=google&gclid=AbCd123","device_id":"bench-1"}'
  for _ in $(seq 1 100); do
    n=$(psql -qXAt -d "$db" -c "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'")
    [ "$n" -ge 1 ] && break; sleep 0.1
  done
  [ "$n" -ge 1 ] || { echo "the first click was not delivered" >&2; cat "$WORK/serve-prepare-$db.log" >&2; exit 1; }
  stop_pid "$SVC_PID"; SVC_PID=""
}

run_ceiling() { # run_ceiling <round> <mode>
  local round=$1 mode=$2 db="aurix_bench_river_$$_$1_$2" bg out line flag
  new_db "$db"
  bg=$(wait_quiet)
  begin_measure "$db"
  out="$WORK/ceiling-$round-$mode.txt"
  DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$db?sslmode=disable" timeout $((RUN_TIMEOUT + 30)) \
    "$WORK/riverceiling" -jobs "$EVENTS" -mode "$mode" -timeout "${RUN_TIMEOUT}s" >"$out" 2>&1
  flag=$(end_measure)
  line=$(grep '^RESULT' "$out")
  local rate total elapsed span
  rate=$(sed -n 's/.* work_per_s=\([^ ]*\).*/\1/p' <<<"$line")
  total=$(sed -n 's/.* jobs_per_s=\([^ ]*\).*/\1/p' <<<"$line")
  elapsed=$(sed -n 's/.* elapsed_s=\([^ ]*\).*/\1/p' <<<"$line")
  span=$(sed -n 's/.* work_span_s=\([^ ]*\).*/\1/p' <<<"$line")
  printf '%s\tceiling\t%s\t%s\t%s\t-\t%s\t%s\t-\t%s\tbg=%s%%;start_to_all_completed_s=%s%s\n' "$round" "$mode" "$rate" "$total" "$EVENTS" "$span" \
    "$(db_cpu_seconds "$WORK/dbcpu")" "$bg" "$elapsed" "$flag" >>"$RESULTS"
  log "round $round ceiling $mode: $rate jobs/s first-to-last Work, $total jobs/s start-to-all-completed (bg busy $bg%$flag)"
  drop_db "$db"
}

run_service() { # run_service <round> <variant spec name:stage:envs:dsn>
  local round=$1 name stage envs dsn db url bg t_start t0 t1 count first last unsigned rate drain med xacts0 xacts1 snoozes ok flag
  IFS=: read -r name stage envs dsn <<<"$2"
  db="aurix_bench_deliv_$$_${round}_${name//[^a-z0-9]/_}"
  prepare_db "$db" "$envs" "$dsn"
  psql -qX -d "$db" -v n="$EVENTS" -v stage="$stage" -f "$BENCH/delivery-preload.sql" >/dev/null
  curl -fsS -X POST "$RECV/reset"
  xacts0=$(psql -qXAt -d postgres -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$db'")
  bg=$(wait_quiet)
  url="postgres://$PGUSER@$PGHOST:$PGPORT/$db?sslmode=disable${dsn:+&$dsn}"
  begin_measure "$db"
  t_start=$(date +%s%N)
  start_service "$url" "$envs" "$WORK/serve-$round-$name.log"
  t0=$(proc_ticks "$SVC_PID")
  count=0
  while [ "$count" -lt "$EVENTS" ]; do
    [ $(( ($(date +%s%N) - t_start) / 1000000000 )) -ge "$RUN_TIMEOUT" ] && { log "timed out at $count of $EVENTS deliveries"; break; }
    sleep 0.2; count=$(recv_stat count)
  done
  t1=$(proc_ticks "$SVC_PID")
  flag=$(end_measure)
  first=$(recv_stat first_ns); last=$(recv_stat last_ns); unsigned=$(recv_stat unsigned)
  curl -fsS "$RECV/persec" >"$WORK/persec-$round-$name.txt"
  stop_pid "$SVC_PID"; SVC_PID=""
  rate=$(awk -v n="$count" -v a="$first" -v b="$last" 'BEGIN { printf "%.1f", (b > a) ? (n - 1) / ((b - a) / 1e9) : 0 }')
  drain=$(awk -v n="$count" -v a="$t_start" -v b="$last" 'BEGIN { printf "%.1f", (n) / ((b - a) / 1e9) }')
  # shellcheck disable=SC2046
  med=$(median $(awk 'NR > 1 { print prev } { prev = $2 }' "$WORK/persec-$round-$name.txt" | sed 1d))
  xacts1=$(psql -qXAt -d postgres -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$db'")
  snoozes=$(psql -qXAt -d "$db" -c "SELECT coalesce(sum((metadata->>'snoozes')::int), 0) FROM river_job WHERE kind = 'aurix.deliver_webhook'")
  ok=$(psql -qXAt -d "$db" -c "SELECT count(*) FILTER (WHERE status = 'succeeded') || '/' || count(*) FROM webhook_deliveries")
  printf '%s\tservice\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\tbg=%s%%;stage=%s;start_to_last_s=%.2f;xacts_per_delivery=%s;snoozes=%s;succeeded=%s;unsigned=%s%s\n' \
    "$round" "$name" "$rate" "$drain" "$med" "$count" "$(awk -v a="$first" -v b="$last" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" \
    "$(echo "$t0 $t1 $TICK" | awk '{print ($2-$1)/$3}')" "$(db_cpu_seconds "$WORK/dbcpu")" "$bg" "$stage" \
    "$(awk -v a="$t_start" -v b="$last" 'BEGIN { print (b - a) / 1e9 }')" \
    "$(awk -v a="$xacts0" -v b="$xacts1" -v n="$count" 'BEGIN { printf "%.1f", (b - a) / n }')" "$snoozes" "$ok" "$unsigned" "$flag" >>"$RESULTS"
  log "round $round service $name ($stage): $rate deliveries/s first-to-last, $drain start-to-last, median 1 s $med ($count delivered; deliveries succeeded/total $ok; snoozes $snoozes; bg busy $bg%$flag)"
  [ "$KEEP" = 1 ] || drop_db "$db"
}

# capture: statements per delivery, from log_statement = all over a small drain.
capture() {
  local db="aurix_bench_deliv_$$_capture" from n
  [ -r "$PGLOG" ] || { log "cannot read $PGLOG: no capture"; return; }
  prepare_db "$db" "" ""
  psql -qX -d "$db" -v n="$CAPTURE_EVENTS" -v stage=deliver -f "$BENCH/delivery-preload.sql" >/dev/null
  curl -fsS -X POST "$RECV/reset"
  psql -qX -d postgres -c "ALTER DATABASE \"$db\" SET log_statement = 'all'" >/dev/null
  from=$(($(wc -l <"$PGLOG") + 1))
  start_service "postgres://$PGUSER@$PGHOST:$PGPORT/$db?sslmode=disable" "" "$WORK/serve-capture.log"
  for _ in $(seq 1 300); do [ "$(recv_stat count)" -ge "$CAPTURE_EVENTS" ] && break; sleep 0.2; done
  sleep 1
  stop_pid "$SVC_PID"; SVC_PID=""
  psql -qX -d postgres -c "ALTER DATABASE \"$db\" RESET log_statement" >/dev/null
  n=$(recv_stat count)
  echo
  echo "Statements PostgreSQL ran for $n deliveries (log_statement = all; the drain of $CAPTURE_EVENTS events, start-up and shut-down included), per delivery:"
  tail -n +"$from" "$PGLOG" | awk -v db="$db" '
    index($0, "@" db " LOG:  ") && $0 ~ / LOG:  (statement|execute [^:]*): / {
      s = $0; sub(/^.* LOG:  /, "", s)
      proto = (s ~ /^statement:/) ? "simple protocol" : (s ~ /^execute stmtcache_/) ? "prepared" : "extended"
      sub(/^(statement|execute [^:]*): /, "", s)
      if (s ~ /^-- name: /) { split(s, w, " "); key = "river " w[3] }
      else {
        split(s, w, /[ (]/); key = toupper(w[1])
        if (match(s, /(FROM|INTO|UPDATE) "?[a-z_]+/)) { t = substr(s, RSTART, RLENGTH); sub(/^(FROM|INTO|UPDATE) "?/, "", t); key = key " " t }
      }
      print key " (" proto ")"
    }' | sort | uniq -c | sort -rn | awk -v n="$n" '{ c = $1; $1 = ""; printf "%8.2f %s\n", c / n, $0; t += c } END { printf "%8.2f TOTAL\n", t / n }'
  drop_db "$db"
}

[ "$CAPTURE" = 1 ] && capture

log "each run: $EVENTS events; $ROUNDS rounds, alternating order"
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then
    for m in $CEILING_MODES; do run_ceiling "$round" "$m"; done
    for v in $SVC_VARIANTS; do run_service "$round" "$v"; done
  else
    for v in $SVC_VARIANTS; do run_service "$round" "$v"; done
    for m in $CEILING_MODES; do run_ceiling "$round" "$m"; done
  fi
done

echo
echo "Per run (rate = (n - 1) / (last - first) of the receiver's POSTs or the ceiling's Work calls; total = n / (start to the last one);"
echo "median_1s = median per-second count; cpu_* = CPU seconds of the aurix process and of its PostgreSQL backends;"
echo "a run during which another benchmark's wrk/pgbench ran is marked contended and left out of the medians):"
printf 'round\tkind\tvariant\trate/s\ttotal/s\tmedian_1s\tn\tspan_s\tcpu_app\tcpu_db\tnotes\n'
cat "$RESULTS"
echo
echo "Medians over the uncontended runs of $ROUNDS rounds (CPU ms per delivery or job = cpu seconds / n * 1000):"
printf "%-8s %-14s %4s %10s %10s %10s %11s %10s %14s %18s\n" "kind" "variant" "runs" "rate/s" "total/s" "median_1s" "app_cpu_ms" "db_cpu_ms" "ratio_to_noop" "ratio_to_twostage"
awk -F'\t' '
  function median(list,   n, a, i, t, j) {
    n = split(list, a, " "); if (n == 0) return "nan"
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  $11 ~ /contended/ { next }
  { k = $2 " " $3; keys[k] = 1; runs[k]++; rate[k] = rate[k] " " $4; tot[k] = tot[k] " " $5; if ($6 != "-") med[k] = med[k] " " $6
    if ($9 != "-") app[k] = app[k] " " 1000 * $9 / $7; db[k] = db[k] " " 1000 * $10 / $7 }
  END {
    b = median(rate["ceiling noop"]); b2 = median(rate["ceiling twostage"])
    for (k in keys) { split(k, f, " ")
      printf "%-8s %-14s %4d %10.1f %10.1f %10s %11s %10.2f %14s %18s\n", f[1], f[2], runs[k], median(rate[k]), median(tot[k]),
        (k in med) ? median(med[k]) : "-", (k in app) ? sprintf("%.2f", median(app[k])) : "-", median(db[k]),
        (b != "nan" && b > 0) ? sprintf("%.2f", median(rate[k]) / b) : "-", (b2 != "nan" && b2 > 0) ? sprintf("%.2f", median(rate[k]) / b2) : "-" }
  }' "$RESULTS" | sort
echo "ratio_to_noop = median rate / median rate of River working no-op jobs (ceiling noop: 50 workers, FetchCooldown 20ms; same run, same machine)"
echo "ratio_to_twostage = the same against River's no-op version of the service's job shape (10 dispatch workers each inserting one job for 50 no-op workers)"
