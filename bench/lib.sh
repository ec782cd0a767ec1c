# Shared by the benchmarks that run on a private PostgreSQL of their own (segments_bench.sh,
# scoring_bench.sh): source it, set NAME (for messages) and SVC_PID (a service to stop on exit,
# or empty), then `bench_start_postgres DB` starts the server in $TMP/pg, creates and migrates
# database DB and sets BASE_URL, URL and PG_VERSION. Everything is stopped and $TMP removed on
# exit; a failing run prints the tail of every $TMP/*.log.

log() { printf '\033[1m[bench %s]\033[0m %s\n' "$NAME" "$*" >&2; }
now_ns() { date +%s%N; }
# secs T0_NS T1_NS [DIGITS]: seconds between two now_ns readings, DIGITS decimals (default 2).
secs() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { printf "%.*f", d, (b - a) / 1e9 }'; }
# 1234567.8 -> 1,234,568
fmt() { python3 -c 'import sys; print(f"{round(float(sys.argv[1])):,}")' "$1"; }
# jget JSON KEY: the value of KEY in the JSON object JSON.
jget() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# wait_ready PORT: waits (up to 10 s) until the service on PORT answers GET /readyz.
wait_ready() {
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
}

TMP=$(mktemp -d "/tmp/gabe-$NAME-bench.XXXXXX")
chmod 755 "$TMP"  # the postgres user reaches the server's directory below it
PGDIR=$TMP/pg
SVC_PID=""
PG_STARTED=0
bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$SVC_PID" ]; then
    kill -TERM "$SVC_PID" 2>/dev/null || true
    wait "$SVC_PID" 2>/dev/null || true
  fi
  if [ "$PG_STARTED" = 1 ]; then "$ROOT/run" pg-stop "$PGDIR" || true; fi
  if [ "$rc" -ne 0 ]; then
    for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_start_postgres() {
  log "starting PostgreSQL in $PGDIR"
  BASE_URL=$("$ROOT/run" pg-start "$PGDIR")
  PG_STARTED=1
  psql -X -q -v ON_ERROR_STOP=1 "$BASE_URL" -c "CREATE DATABASE $1"
  URL=${BASE_URL%/postgres}/$1
  PG_VERSION=$(psql -X -At "$BASE_URL" -c "SHOW server_version")
  GABE_DATABASE_URL=$URL "$BIN/gabectl" migrate >/dev/null
}
