#!/usr/bin/env python3
"""Where a machine's CPU goes while a command runs: how busy the machine is, what each process
(by name) spends, and what each thread of one process spends. Used to tell a run bound by the
machine's cores from one bound by a stage of the worker (docs/benchmarks.md, "Where the burst's
CPU goes").

    python3 scripts/cpu-share.py --threads idverify -- \\
        python3 ../shared/bench/compare.py --a-cmd "env ANSWER_REUSE_VERIFIED_SECONDS=0 \\
        ANSWER_REUSE_MISMATCH_SECONDS=0 $(swift build -c release --show-bin-path)/idverify serve" \\
        -n 50000 --b-cmd true

Samples /proc every --interval seconds. The summary covers the busy window only (samples where the
machine was at least --busy busy), so start-up and the stop of the infrastructure do not dilute it.
Python processes are named by their script (py:compare.py).
"""
import argparse, collections, os, subprocess, sys, time

TICK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1


def machine():
    with open("/proc/stat") as fh:
        values = list(map(int, fh.readline().split()[1:]))
    return sum(values), values[3] + values[4]  # all, idle + iowait


def stat_cpu(path):
    with open(path) as fh:
        text = fh.read()
    name = text[text.index("(") + 1:text.rindex(")")]
    rest = text[text.rindex(")") + 2:].split()
    return name, (int(rest[11]) + int(rest[12])) / TICK


def processes():
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            name, cpu = stat_cpu(f"/proc/{pid}/stat")
            if name.startswith("python"):
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    argv = fh.read().split(b"\0")
                if len(argv) > 1:
                    name = "py:" + os.path.basename(argv[1].decode(errors="replace"))
            out[pid] = (name, cpu)
        except (OSError, ValueError):
            pass
    return out


def threads(prefix, procs):
    out = {}
    for pid, (name, _) in procs.items():
        if not name.startswith(prefix):
            continue
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                tname, cpu = stat_cpu(f"/proc/{pid}/task/{tid}/stat")
                out[tid] = (tname, cpu)
        except OSError:
            pass
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--busy", type=float, default=0.65, help="share of the machine that makes a sample count")
    parser.add_argument("--threads", metavar="NAME", help="also sum the threads of processes whose name starts so")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("give the command to run after --")

    child = subprocess.Popen(args.command)
    busy_seconds = 0.0
    samples = 0
    by_process = collections.Counter()
    by_thread = collections.Counter()
    total0, idle0 = machine()
    procs0 = processes()
    threads0 = threads(args.threads, procs0) if args.threads else {}
    while child.poll() is None:
        time.sleep(args.interval)
        total1, idle1 = machine()
        procs1 = processes()
        threads1 = threads(args.threads, procs1) if args.threads else {}
        busy = 1 - (idle1 - idle0) / max(1, total1 - total0)
        if busy >= args.busy:
            samples += 1
            busy_seconds += busy * args.interval
            for pid, (name, cpu) in procs1.items():
                by_process[name] += max(0.0, cpu - procs0.get(pid, (name, 0.0))[1])
            for tid, (name, cpu) in threads1.items():
                by_thread[f"{name}/{tid}"] += max(0.0, cpu - threads0.get(tid, (name, 0.0))[1])
        total0, idle0, procs0, threads0 = total1, idle1, procs1, threads1

    window = samples * args.interval
    print(f"\nbusy window: {window:.1f} s in {samples} samples; machine {100 * busy_seconds / max(window, 1e-9):.1f} % busy "
          f"({CORES} cores)", file=sys.stderr)
    for name, cpu in by_process.most_common(10):
        if cpu >= 0.01:
            print(f"  {name:24} {cpu:6.2f} s  {cpu / max(window, 1e-9):5.2f} cores", file=sys.stderr)
    if args.threads:
        print(f"threads of {args.threads}*:", file=sys.stderr)
        for name, cpu in by_thread.most_common(10):
            if cpu >= 0.01:
                print(f"  {name:24} {cpu:6.2f} s  {cpu / max(window, 1e-9):5.2f} cores", file=sys.stderr)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
