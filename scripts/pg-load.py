#!/usr/bin/env python3
"""What one worker puts on PostgreSQL, per verdict: the yardstick's run of side A only
(../shared/bench/compare.py's `run_one`, same infrastructure and environment), on a PostgreSQL
with pg_stat_statements loaded. Statistics are reset once the worker is ready (after its
migrations) and read before the cluster is stopped: statements (calls, rows, time, shared
blocks), WAL bytes and records, and each table's indexes with their sizes.

    python3 scripts/pg-load.py -n 20000 --a-cmd "env ANSWER_REUSE_VERIFIED_SECONDS=0 \
        ANSWER_REUSE_MISMATCH_SECONDS=0 $(swift build -c release --show-bin-path)/idverify serve"

Counts per verdict (statements, rows, WAL bytes) hardly depend on machine load; times do.
"""
import argparse, os, subprocess, sys

BENCH = os.environ.get("BENCH_DIR", "/work/shared/bench")
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(BENCH, "lib"))
import compare  # noqa: E402
import infra  # noqa: E402

PG_BIN = "/usr/lib/postgresql/15/bin"
state = {}


def psql(port, sql, db="accept"):
    argv = [f"{PG_BIN}/psql", "-h", f"/tmp/accept-pg-{port}", "-p", str(port), "-U", "postgres", "-d", db,
            "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-F", " | ", "-P", "footer=off", "-c", sql]
    if os.getuid() == 0:
        argv = ["runuser", "-u", "postgres", "--"] + argv
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


orig_start_pg = infra.start_pg


def start_pg(procs, port, fast=True):
    url = orig_start_pg(procs, port, fast)
    psql(port, "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'", db="postgres")
    d = f"/tmp/accept-pg-{port}/data"
    argv = [f"{PG_BIN}/pg_ctl", "-D", d, "-l", f"/tmp/accept-pg-{port}/server.log", "-w", "-t", "60", "restart", "-m", "fast"]
    if os.getuid() == 0:
        argv = ["runuser", "-u", "postgres", "--"] + argv
    # The server inherits pg_ctl's output: not a pipe, or nothing would ever read its end.
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    psql(port, "CREATE EXTENSION pg_stat_statements")
    # Planning time too (known once the library is loaded): an unnamed statement is planned at every execution.
    psql(port, "ALTER SYSTEM SET pg_stat_statements.track_planning = on", db="postgres")
    psql(port, "SELECT pg_reload_conf()", db="postgres")
    state["port"] = port
    return url


orig_wait_http = infra.wait_http


def wait_http(url, timeout, proc=None, want=200):
    r = orig_wait_http(url, timeout, proc, want)
    if r[0] and "port" in state:
        port = state["port"]
        # An experiment on the schema the worker just migrated (e.g. an index dropped).
        for statement in filter(None, os.environ.get("PG_LOAD_SQL", "").split(";")):
            psql(port, statement)
        psql(port, "SELECT pg_stat_statements_reset(), pg_stat_reset_shared('wal'), pg_stat_reset()")
        state["lsn0"] = psql(port, "SELECT pg_current_wal_lsn()").strip().splitlines()[-1]
    return r


orig_cleanup = infra.Procs.cleanup


def cleanup(self):
    try:
        report(self)
    finally:  # the cluster is stopped whatever the report did
        orig_cleanup(self)


def report(procs):
    port = state.get("port")
    if not (port and "lsn0" in state and port in procs.pg_ports and "report" not in state):
        return
    q = []
    q.append(psql(port, f"SELECT pg_current_wal_lsn() - '{state['lsn0']}'::pg_lsn AS wal_bytes, "
                        "wal_records, wal_fpi, wal_bytes AS stat_wal_bytes FROM pg_stat_wal"))
    q.append(psql(port, "SELECT calls, rows, round(total_exec_time::numeric, 1) AS ms, "
                        "plans, round(total_plan_time::numeric, 1) AS plan_ms, "
                        "shared_blks_hit AS hit, shared_blks_read AS read, shared_blks_dirtied AS dirtied, "
                        "wal_records AS walrec, wal_bytes, wal_fpi, "
                        "left(regexp_replace(query, '\\s+', ' ', 'g'), 150) AS query "
                        "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'accept') "
                        "ORDER BY total_exec_time DESC LIMIT 40"))
    q.append(psql(port, "SELECT relname, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_hot_upd AS hot, n_tup_del AS del, "
                        "pg_size_pretty(pg_relation_size(relid)) AS heap, "
                        "pg_size_pretty(pg_indexes_size(relid)) AS indexes, "
                        "(SELECT count(*) FROM pg_index i WHERE i.indrelid = relid) AS nindex "
                        "FROM pg_stat_user_tables ORDER BY n_tup_ins + n_tup_upd DESC"))
    q.append(psql(port, "SELECT indexrelname, pg_size_pretty(pg_relation_size(indexrelid)) AS size, idx_scan "
                        "FROM pg_stat_user_indexes ORDER BY pg_relation_size(indexrelid) DESC"))
    # Average stored bytes per column of the tables written per verdict (this worker's or the peer's).
    for table in ("verification_results", "audit_trail", "peer_results"):
        if not psql(port, f"SELECT to_regclass('{table}') IS NOT NULL").strip().endswith("t"):
            continue
        cols = psql(port, f"SELECT string_agg(format('round(avg(pg_column_size(%I)))::int AS %I', attname, attname), ', ' "
                          f"ORDER BY attnum) FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attnum > 0 "
                          "AND NOT attisdropped").strip().splitlines()[-1]
        q.append(f"{table}: average bytes per column\n" + psql(port, f"SELECT {cols} FROM {table}"))
    state["report"] = "\n".join(q)


infra.start_pg = start_pg
infra.wait_http = wait_http
infra.Procs.cleanup = cleanup


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a-cmd", required=True)
    ap.add_argument("-n", "--requests", type=int, default=20000)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--registry", default="nginx")
    ap.add_argument("--rate-limit", type=int, default=100000)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--desks", type=int, default=500)
    ap.add_argument("--pg-fast", action="store_true")
    ap.add_argument("--ready-timeout", type=float, default=300)
    ap.add_argument("--run-timeout", type=float, default=900)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--extra-env", action="append", default=[])
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep-workdir", action="store_true")
    args = ap.parse_args()
    infra.install_signal_handlers()
    reqs = compare.build_requests(args.requests, args.seed, args.desks)
    r = compare.run_one("A", args.a_cmd, args, reqs)
    print(compare.fmt(r) if "error" not in r else f"A: ERROR {r['error']}")
    print(state.get("report", "(no statistics)"))
    return 0 if r.get("complete") else 1


if __name__ == "__main__":
    sys.exit(main())
