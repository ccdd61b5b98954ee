#!/usr/bin/env bash
# Runs the built idverify binary in the roles deploy/compose.yaml gives it — migrate, registry-sim,
# two serve workers — with the environment and arguments that compose.yaml sets, against the local
# PostgreSQL (deploy/local-postgres.sh) and the embedded Kafka (`idverify broker`, 3 brokers), to
# show that the environment is coherent without Docker: the workers start, become ready, and
# answer requests on all three channels. Prints each worker's memory (VmRSS / peak VmHWM) and how
# long the SIGTERM drain took.
#
#   deploy/smoke-local.sh [REQUESTS]        (default 3000; IDVERIFY=path/to/idverify to skip the build)
#
# SMOKE_WORKER_ENV="NAME=value ..." is applied after compose's worker environment (for measuring,
# e.g. memory with WORKER_MAX_IN_FLIGHT=3000 as in deploy/kubernetes/configmap.yaml).
#
# Only what cannot be the same on one host without Docker is replaced: host names and ports
# (KAFKA_BROKERS, DATABASE_URL, REGISTRY_URL, OPS_PORT, the simulator's --host/--port) and, for
# the embedded broker only, KAFKA_PROPERTIES=fetch.wait.max.ms=10 (see README: the mock answers an
# empty fetch only after the whole wait). Everything listens on 127.0.0.1 and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-3000}
work=$(mktemp -d /tmp/tthc-smoke.XXXXXX)
export TTHC_PG_DIR=/tmp/tthc-pg-smoke-$$   # not under $work: the postgres user must enter it
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  deploy/local-postgres.sh stop "$TTHC_PG_DIR" >/dev/null 2>&1 || true
  # Keep the logs of the last run for a look afterwards.
  rm -rf /tmp/tthc-smoke-last && mkdir -p /tmp/tthc-smoke-last && cp "$work"/*.log "$work"/verdicts.txt /tmp/tthc-smoke-last/ 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
say() { echo "smoke: $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ -z "${IDVERIFY:-}" ]; then
  swift build --product idverify >&2
  IDVERIFY="$(swift build --show-bin-path)/idverify"
fi

# The environment and commands of compose.yaml's services, as compose would give them (the
# ${VAR:-default} values resolved from this shell's environment), as shell-quoted assignments.
compose_env() {
  python3 - "$1" <<'PY'
import os, re, shlex, sys, yaml
service = yaml.safe_load(open("deploy/compose.yaml"))["services"][sys.argv[1]]
def interpolate(v):
    return re.sub(r"\$\{([A-Z_]+):-([^}]*)\}", lambda m: os.environ.get(m.group(1), m.group(2)), str(v))
for k, v in (service.get("environment") or {}).items():
    print(f"{k}={shlex.quote(interpolate(v))}")
PY
}
compose_command() {
  python3 - "$1" <<'PY'
import os, re, shlex, sys, yaml
service = yaml.safe_load(open("deploy/compose.yaml"))["services"][sys.argv[1]]
def interpolate(v):
    return re.sub(r"\$\{([A-Z_]+):-([^}]*)\}", lambda m: os.environ.get(m.group(1), m.group(2)), str(v))
print(" ".join(shlex.quote(interpolate(a)) for a in service["command"]))
PY
}

# PostgreSQL and Kafka.
database_url=$(deploy/local-postgres.sh start "$TTHC_PG_DIR" | sed -n 's/^DATABASE_URL=//p')
"$IDVERIFY" broker --brokers 3 --partitions 12 --bootstrap-file "$work/bootstrap" >/dev/null 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
bootstrap=$(cat "$work/bootstrap")
say "PostgreSQL $database_url, embedded Kafka $bootstrap"

# migrate, with compose's environment for it.
(
  eval "export $(compose_env migrate | tr '\n' ' ')"
  export DATABASE_URL="$database_url"
  "$IDVERIFY" migrate
) >&2

# The simulator, with compose's arguments (its own address and port replaced).
sim_port=$(free_port)
read -r -a sim_args <<<"$(compose_command registry-sim)"
filtered=()
for a in "${sim_args[@]}"; do case "$a" in --host=*|--port=*) ;; *) filtered+=("$a") ;; esac; done
"$IDVERIFY" "${filtered[@]}" --host=127.0.0.1 --port="$sim_port" >"$work/sim.log" 2>&1 &
pids+=($!)

# Two workers, with compose's worker environment.
worker_pids=()
ops_ports=()
for i in 1 2; do
  port=$(free_port)
  (
    eval "export $(compose_env worker | tr '\n' ' ')"
    export KAFKA_BROKERS="$bootstrap" DATABASE_URL="$database_url" REGISTRY_URL="http://127.0.0.1:$sim_port"
    export OPS_PORT="$port" KAFKA_PROPERTIES="fetch.wait.max.ms=10"
    [ -z "${SMOKE_WORKER_ENV:-}" ] || eval "export $SMOKE_WORKER_ENV"
    exec "$IDVERIFY" serve
  ) >"$work/worker$i.log" 2>&1 &
  worker_pids+=($!)
  pids+=($!)
  ops_ports+=("$port")
done
for port in "${ops_ports[@]}"; do
  ready=""
  for _ in $(seq 1 150); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
    sleep 0.2
  done
  [ -n "$ready" ] || { say "worker on :$port never became ready"; curl -sS "http://127.0.0.1:$port/readyz" >&2 || true; tail -n 20 "$work"/worker*.log >&2; exit 1; }
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null
done
say "both workers ready (/healthz and /readyz answer 200 on ${ops_ports[*]})"

# Requests on the three channels, built from the contract's examples with fresh request ids.
python3 - "$requests" "$work" <<'PY'
import json, sys, uuid
n, work = int(sys.argv[1]), sys.argv[2]
examples = {
    "counter": "schemas/examples/request-counter/with-autofill.json",
    "registration": next(__import__("glob").iglob("schemas/examples/request-registration/*.json")),
    "submission": next(__import__("glob").iglob("schemas/examples/request-submission/*.json")),
}
files = {c: open(f"{work}/{c}.txt", "w") for c in examples}
for i in range(n):
    channel = list(examples)[i % 3]
    request = json.load(open(examples[channel]))
    request["requestId"] = str(uuid.uuid4())
    files[channel].write(f"key-{i % 97}\t{json.dumps(request, ensure_ascii=False)}\n")
PY
start=$(date +%s.%N)
for channel in counter registration submission; do
  kcat -P -b "$bootstrap" -t "tthc.identity.$channel" -K $'\t' <"$work/$channel.txt"   # stdin: one message a line
done
say "produced $requests requests"
count=0
for _ in $(seq 1 240); do
  # Distinct request ids among the verdicts, and verdict messages in all (partition:offset).
  # Distinct request ids among the verdicts, verdict messages in all (distinct partition:offset),
  # and request ids whose verdicts differ (a re-emission must repeat the verdict byte for byte).
  read -r count messages conflicting < <(kcat -C -b "$bootstrap" -t tthc.identity.verdicts -o beginning -e -q \
      -X fetch.wait.max.ms=10 -f '%p:%o %T %k %s\n' 2>/dev/null | tee "$work/verdicts.txt" | python3 -c '
import json, sys
verdicts, positions = {}, set()
for line in sys.stdin:
    position, _, rest = line.partition(" ")
    value = rest.split(" ", 2)[-1].strip()
    positions.add(position)
    try:
        verdicts.setdefault(json.loads(value)["requestId"], set()).add(value)
    except (ValueError, KeyError):
        pass
print(len(verdicts), len(positions), sum(1 for v in verdicts.values() if len(v) > 1))')
  [ "$count" -ge "$requests" ] && break
  sleep 1
done
elapsed=$(python3 -c "import time; print(round(time.time() - $start, 1))")
say "verdicts for $count of $requests request ids in ${elapsed} s ($messages verdict messages: $((messages - count)) identical re-emissions, $conflicting request ids with differing verdicts)"
for port in "${ops_ports[@]}"; do
  curl -fsS "http://127.0.0.1:$port/metrics" | grep -E '^identity_verdicts_total' | grep -v ' 0$' | sed "s/^/smoke: :$port /" >&2 || true
done
for pid in "${worker_pids[@]}"; do
  grep -E '^(VmRSS|VmHWM)' "/proc/$pid/status" 2>/dev/null | tr -s ' \t' ' ' | sed "s/^/smoke: worker pid $pid /" >&2 || true
done

# SIGTERM: how long the drain takes.
t0=$(date +%s.%N)
for pid in "${worker_pids[@]}"; do kill -TERM "$pid"; done
for pid in "${worker_pids[@]}"; do wait "$pid" || say "worker $pid exited with $?"; done
say "workers stopped $(python3 -c "import time; print(round(time.time() - $t0, 1))") s after SIGTERM"
[ "$count" -ge "$requests" ] || { say "FAILED: missing verdicts"; tail -n 30 "$work"/worker*.log >&2; exit 1; }
[ "$conflicting" -eq 0 ] || { say "FAILED: $conflicting request ids got differing verdicts"; exit 1; }
say "ok"
