#!/usr/bin/env python3
"""Alternating A-only runs of the yardstick for two or more builds (or settings) of the worker,
with the figures that survive this host's swings (docs/benchmarks.md, "What the per-call layers
cost"): the worker's CPU, and the worker's CPU divided by nginx's in the same run. nginx does the
same work per call in every run, so the ratio takes out most of what the host's speed does to a
whole run; throughput is listed but moves by a fifth from one run to the next.

    python3 scripts/ab.py --rounds 4 \\
        before=/tmp/bin/idverify-before after=/tmp/bin/idverify-after
    python3 scripts/ab.py base="/tmp/bin/idverify" switched="env SOME_SETTING=1 /tmp/bin/idverify"

Each NAME=COMMAND is run as `COMMAND serve` with answer reuse off (as in the side-by-side runs),
one after another in each round, the order turning each round. Nothing else should run meanwhile.
"""
import argparse, os, re, statistics, subprocess, sys

BENCH = os.environ.get("BENCH_DIR", "/work/shared/bench")
LINE = re.compile(
    r"^A: (\d+)/(\d+) verdicts \| throughput (\d+)/s.*worker cpu ([\d.]+)s.*peak rss (\d+) MiB"
    r".*mockbroker ([\d.]+)s, nginx ([\d.]+)s, postgres ([\d.]+)s")


def run(command, requests):
    a_cmd = f"env ANSWER_REUSE_VERIFIED_SECONDS=0 ANSWER_REUSE_MISMATCH_SECONDS=0 {command} serve"
    out = subprocess.run(
        [sys.executable, os.path.join(BENCH, "compare.py"), "-n", str(requests), "--b-cmd", "true", "--a-cmd", a_cmd],
        capture_output=True, text=True).stdout
    for line in reversed(out.splitlines()):
        m = LINE.match(line)
        if m:
            done, total, rate, worker, rss, _broker, nginx, pg = m.groups()
            if done != total:
                return None
            return {"rate": int(rate), "worker": float(worker), "nginx": float(nginx), "pg": float(pg), "rss": int(rss)}
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs="+", metavar="NAME=COMMAND")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-n", "--requests", type=int, default=50000)
    args = ap.parse_args()
    builds = [b.split("=", 1) for b in args.builds]
    if len(builds) < 2 or any(len(b) != 2 for b in builds):
        ap.error("give two or more NAME=COMMAND")
    results = {name: [] for name, _ in builds}
    for round_ in range(args.rounds):
        order = builds if round_ % 2 == 0 else list(reversed(builds))
        for name, command in order:
            r = run(command, args.requests)
            if r is None:
                print(f"{name}: run failed or incomplete", flush=True)
                continue
            r["ratio"] = r["worker"] / r["nginx"] if r["nginx"] else float("nan")
            results[name].append(r)
            print(f"{name:>12}  {r['rate']:>6}/s  worker {r['worker']:.1f} s  worker/nginx {r['ratio']:.2f}  "
                  f"postgres {r['pg']:.1f} s  rss {r['rss']} MiB", flush=True)
    print()
    for name, rs in results.items():
        if not rs:
            continue
        mean = lambda k: statistics.mean(r[k] for r in rs)  # noqa: E731
        print(f"{name:>12}  runs {len(rs)}  mean {mean('rate'):.0f}/s  worker {mean('worker'):.2f} s  "
              f"worker/nginx {mean('ratio'):.2f}  postgres {mean('pg'):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
