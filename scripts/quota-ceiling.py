#!/usr/bin/env python3
"""How much of a rate limit the registry client stack uses when nothing else limits it.

Starts nginx as an instant registry (it logs each call's arrival time), optionally the project's
throwaway PostgreSQL for the fleet limiter, runs `idverify-bench registry-load` (release build) in
one or more processes at --rate, and prints the steady calls per second and the busiest sliding
second as nginx saw them, and the client processes' CPU per call. A benchmark command, not a
test (docs/benchmarks.md, "Calls in flight that follow the registry").

    swift build -c release --product idverify-bench
    python3 scripts/quota-ceiling.py --rate 10000
    python3 scripts/quota-ceiling.py --rate 10000 --processes 3 --fleet

QC_WRAP, if set, is put before each load process's command (e.g. a `perf record` wrapper).
"""
import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "quota-ceiling-token"
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    log_format arrival "$msec";
    access_log {dir}/arrivals.log arrival buffer=256k flush=1s;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /v1/citizens/verify {{
            if ($http_authorization != "Bearer {token}") {{ return 401; }}
            default_type application/json;
            return 200 '{{"match":true}}';
        }}
        location / {{ return 404; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def figures(arrivals: list, rate: int) -> str:
    if len(arrivals) < 2:
        return "no calls arrived"
    start = arrivals[0]
    seconds = int(arrivals[-1] - start)
    per_second = [0] * (seconds + 1)
    for t in arrivals:
        per_second[int(t - start)] += 1
    busiest, j = 0, 0
    for i, t in enumerate(arrivals):
        while t - arrivals[j] >= 1.0:
            j += 1
        busiest = max(busiest, i - j + 1)
    steady = per_second[2:seconds - 1]  # whole seconds, without the ramp and the last partial one
    if not steady:
        return "run too short: use --seconds 6 or more"
    mean = sum(steady) / len(steady)
    return (f"{len(arrivals)} calls; steady {mean:.1f} calls/s over seconds 2-{seconds - 2} "
            f"({100 * mean / rate:.2f} % of {rate}/s); busiest sliding second {busiest}; "
            f"per second {per_second}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=int, default=10000)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--fleet", action="store_true", help="share the limit through PostgreSQL (FleetRateLimiter)")
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--concurrency", type=int, default=128)
    args = ap.parse_args()

    bench = os.path.join(ROOT, ".build", "release", "idverify-bench")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(bench):
        sys.exit(f"{bench} not found: swift build -c release --product idverify-bench")
    if not os.path.exists(nginx):
        sys.exit("nginx not found: apt-get install -y nginx-light")

    work = tempfile.mkdtemp(prefix="quota-ceiling-")
    port = free_port()
    with open(os.path.join(work, "nginx.conf"), "w") as fh:
        fh.write(NGINX_CONF.format(dir=work, port=port, token=TOKEN))
    server = subprocess.Popen([nginx, "-p", work, "-c", os.path.join(work, "nginx.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pg_dir = f"/tmp/quota-ceiling-pg-{os.getpid()}"  # outside `work`: the postgres user cannot enter it
    try:
        for _ in range(50):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=0.5)
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.1)
        database = []
        if args.fleet:
            out = subprocess.run([os.path.join(ROOT, "deploy", "local-postgres.sh"), "start", pg_dir],
                                 check=True, capture_output=True, text=True).stdout
            url = out.strip().split("DATABASE_URL=", 1)[1]
            database = ["--database-url", url, "--quota-name", f"ceiling-{os.getpid()}"]
        command = os.environ.get("QC_WRAP", "").split() + [
            bench, "registry-load", "--url", f"http://127.0.0.1:{port}", "--token", TOKEN,
            "--rate", str(args.rate), "--seconds", str(args.seconds),
            "--concurrency", str(args.concurrency)] + database
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        loads = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                 for _ in range(args.processes)]
        for load in loads:
            print("registry-load:", load.communicate()[0].strip())
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        time.sleep(1.5)  # nginx flushes its log buffer every second
        with open(os.path.join(work, "arrivals.log")) as log:
            arrivals = sorted(float(line) for line in log if line.strip())
        print(figures(arrivals, args.rate))
        # The client stack's own CPU (the load processes, waited for above; nginx still runs).
        user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
        if arrivals:
            print(f"client CPU {user + system:.2f} s ({user:.2f} user, {system:.2f} system): "
                  f"{1e6 * (user + system) / len(arrivals):.1f} us per call")
    finally:
        server.terminate()
        server.wait()
        if args.fleet:
            subprocess.run([os.path.join(ROOT, "deploy", "local-postgres.sh"), "stop", pg_dir],
                           capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
