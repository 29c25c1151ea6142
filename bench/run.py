#!/usr/bin/python3
"""bench/run.py — `make bench`: rasputin against etcd and Redis on one machine.

A benchmark, not a test: it never fails on a missed target, it reports it.

It starts, under one temporary directory on one disk: a 3-node rasputin
cluster, a 3-member etcd cluster, a Redis with appendonly yes and
appendfsync always, and a Redis without persistence; loads the same 10,000
keys with 100-byte values into each; runs durable writes, linearizable
reads, compare-and-swap and a 90/10 read/write mix at each client count,
each point BENCH_REPEAT times (the median is reported); then loads
BENCH_MEM_KEYS keys into rasputin and etcd and reads every node's resident
size.  It prints the table as it goes and writes
bench/results/<UTC time>-<host>.md (machine, versions, tools, table,
ratios, targets with PASS/MISS), a .png chart and a .json of every run.

Settings (environment):
  BENCH_N              requests per point with more than one client (100000)
  BENCH_N1             requests per point with one client (BENCH_N / 10)
  BENCH_REPEAT         runs per point; the median is reported (3)
  BENCH_CLIENTS        client counts ("1 16 64")
  BENCH_OPS            operations ("set get cas mix")
  BENCH_MEM_KEYS       keys for the memory test (1000000; 0 skips it)
  BENCH_SOAK_SECONDS   a write load on rasputin this long, resident size
                       sampled every 2 s (0: skipped; the target wants 600)
  BENCH_QUICK=1        a smoke run: N 5000, N1 1000, REPEAT 1, MEM_KEYS 100000
  BENCH_RESP_TOOL      redis-benchmark (default) or rpload: what drives the
                       SET/GET/CAS columns of rasputin and Redis
  BENCH_ETCD_CONNS     gRPC connections of etcdload (0: one per client)
  BENCH_DIR            where the temporary directory goes (default build/);
                       it must be on the disk you mean to measure
  BENCH_PORT_BASE      ports used: base+1..3, +101..103 (rasputin),
                       +201..203, +301..303 (etcd), +401, +402 (Redis) (27000)
  BENCH_KEEP=1         keep the temporary directory (logs, data)
  BENCH_NOTE           a sentence written at the top of the results file
"""

import ctypes
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REL = ROOT / "build" / "release"
RASPUTIND = REL / "rasputind"
RPLOAD = REL / "bench" / "rpload"
PROBE = REL / "bench" / "probe"
ETCDLOAD = REL / "bench" / "etcdload"
RESULTS = ROOT / "bench" / "results"

KEYS = 10000
VALUE_SIZE = 100
VALUE = "x" * VALUE_SIZE   # the value CAS expects; SETs and puts write random bytes
EVAL_CAS = ("if redis.call('get',KEYS[1])==ARGV[1] then "
            "redis.call('set',KEYS[1],ARGV[2]) return 1 else return 0 end")

SYSTEMS = ["rasputin", "etcd", "redis-aof", "redis-mem"]
SYSTEM_TITLES = {
    "rasputin": "rasputin, 3 nodes",
    "etcd": "etcd, 3 members",
    "redis-aof": "Redis, appendfsync always",
    "redis-mem": "Redis, no persistence",
}
OPS = ["set", "get", "cas", "mix"]
OP_TITLES = {
    "set": "durable write (SET / put)",
    "get": "linearizable read (GET / range)",
    "cas": "compare-and-swap (CAS / txn / EVAL)",
    "mix": "90% read / 10% write",
}


def env_int(name, default):
    v = os.environ.get(name, "")
    if v == "":
        return default
    try:
        return int(v)
    except ValueError:
        sys.exit(f"bench: {name}={v!r} is not a whole number")


QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
N = env_int("BENCH_N", 5000 if QUICK else 100000)
N1 = env_int("BENCH_N1", 1000 if QUICK else max(1, N // 10))
REPEAT = env_int("BENCH_REPEAT", 1 if QUICK else 3)
CLIENTS = [int(c) for c in os.environ.get("BENCH_CLIENTS", "1 16 64").split()]
RUN_OPS = os.environ.get("BENCH_OPS", " ".join(OPS)).split()
MEM_KEYS = env_int("BENCH_MEM_KEYS", 100000 if QUICK else 1000000)
SOAK = env_int("BENCH_SOAK_SECONDS", 0)
RESP_TOOL = os.environ.get("BENCH_RESP_TOOL", "redis-benchmark")
ETCD_CONNS = env_int("BENCH_ETCD_CONNS", 0)
PORT_BASE = env_int("BENCH_PORT_BASE", 27000)
KEEP = os.environ.get("BENCH_KEEP", "") not in ("", "0")
NOTE = os.environ.get("BENCH_NOTE", "")
PROBE_FSYNCS = 500 if QUICK else 2000
PROBE_RTTS = 20000

for o in RUN_OPS:
    if o not in OPS:
        sys.exit(f"bench: BENCH_OPS: unknown operation {o!r} (known: {' '.join(OPS)})")
if RESP_TOOL not in ("redis-benchmark", "rpload"):
    sys.exit("bench: BENCH_RESP_TOOL must be redis-benchmark or rpload")
if not CLIENTS or min(CLIENTS) < 1 or REPEAT < 1 or N < 1 or N1 < 1:
    sys.exit("bench: BENCH_CLIENTS, BENCH_REPEAT, BENCH_N and BENCH_N1 must be positive")

RASPUTIN_CLI = [PORT_BASE + i for i in (1, 2, 3)]
RASPUTIN_PEER = [PORT_BASE + 100 + i for i in (1, 2, 3)]
ETCD_CLIENT = [PORT_BASE + 200 + i for i in (1, 2, 3)]
ETCD_PEER = [PORT_BASE + 300 + i for i in (1, 2, 3)]
REDIS_AOF = PORT_BASE + 401
REDIS_MEM = PORT_BASE + 402


def log(msg=""):
    print(msg, flush=True)


# --- processes -------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    # PR_SET_PDEATHSIG: the servers die with the benchmark even if it is killed -9.
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid):
    """User + system CPU time a live process has used, all its threads, in seconds
    (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()   # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK   # utime, stime


def children_cpu_seconds():
    """CPU time of the finished child processes (the load tools), in seconds."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class Servers:
    """Every server process started, by name, so all of them can be stopped."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = {}   # name -> Popen
        self.logs = {}

    def spawn(self, name, argv, cwd=None):
        logpath = self.workdir / f"{name}.out"
        f = open(logpath, "ab")
        p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=f,
                             stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True,
                             preexec_fn=_die_with_parent)
        f.close()
        self.procs[name] = p
        self.logs[name] = logpath
        return p

    def check_alive(self):
        for name, p in self.procs.items():
            if p.poll() is not None:
                tail = ""
                try:
                    tail = "".join(open(self.logs[name], errors="replace").readlines()[-10:])
                except OSError:
                    pass
                raise RuntimeError(f"{name} (pid {p.pid}) exited with status {p.returncode}:\n{tail}")

    def cpu_seconds(self, system):
        """CPU time used so far by a system's server processes, summed."""
        return sum(proc_cpu_seconds(p.pid) or 0.0 for name, p in self.procs.items()
                   if name == system or name.startswith(system + "-"))

    def rss_kib(self, name):
        try:
            with open(f"/proc/{self.procs[name].pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def stop_all(self):
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 15
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def run(argv, timeout=None, check=True):
    r = subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))[:300]}: exit {r.returncode}: "
                           f"{r.stderr.strip()[-500:]}")
    return r


def redis_cli(port, *args, timeout=5):
    return run(["redis-cli", "-p", port, "--raw", *args], timeout=timeout, check=False)


def wait_for(what, fn, servers, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        servers.check_alive()
        try:
            v = fn()
            if v:
                return v
        except (subprocess.TimeoutExpired, RuntimeError, ValueError, KeyError, json.JSONDecodeError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready within {seconds} s")


# --- the four systems ------------------------------------------------------------

def rasputin_status(port):
    r = redis_cli(port, "RASPUTIN", "STATUS")
    lines = r.stdout.splitlines()
    return dict(zip(lines[0::2], lines[1::2]))


def start_rasputin(servers, tmp):
    seeds = ",".join(f"127.0.0.1:{p}" for p in RASPUTIN_PEER)
    for i in range(3):
        d = tmp / f"rasputin-n{i + 1}"
        args = [RASPUTIND, "--node-id", i + 1, "--bind", "127.0.0.1",
                "--cli-port", RASPUTIN_CLI[i], "--peer-port", RASPUTIN_PEER[i],
                "--storage-dir", d, "--logfile", tmp / f"rasputin-n{i + 1}.log"]
        args += ["--init"] if i == 0 else ["--seed-peers", seeds]
        servers.spawn(f"rasputin-n{i + 1}", args)

    def ready():
        st = rasputin_status(RASPUTIN_CLI[0])
        return st.get("voters") == "3" and st.get("leader_id", "0") != "0"

    wait_for("the rasputin cluster (3 voters and a leader)", ready, servers, 60)


MEMORY_FIELDS = ("used_memory", "allocator_free", "log_memory", "store_memtables",
                 "store_table_readers", "store_block_cache", "value_cache_bytes")


def rasputin_memory(port):
    """A node's INFO memory breakdown in bytes ({} if unreachable)."""
    out = {}
    for line in redis_cli(port, "INFO", "memory").stdout.splitlines():
        k, _, v = line.strip().partition(":")
        if k in MEMORY_FIELDS and v.isdigit():
            out[k] = int(v)
    return out


def rasputin_leader_port(servers):
    def leader():
        st = rasputin_status(RASPUTIN_CLI[0])
        addr = st.get("leader_client_addr", "")
        return int(addr.rsplit(":", 1)[1]) if ":" in addr else None

    return wait_for("a rasputin leader", leader, servers, 30)


def etcdctl(*args, endpoints=None, timeout=900):
    eps = endpoints or [f"127.0.0.1:{p}" for p in ETCD_CLIENT]
    env = dict(os.environ, ETCDCTL_API="3")
    # compacting or defragmenting a million keys takes longer than etcdctl's default 5 s
    r = subprocess.run(["etcdctl", "--endpoints", ",".join(eps), f"--command-timeout={timeout}s",
                        *map(str, args)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"etcdctl {' '.join(map(str, args))}: {r.stderr.strip()[-300:]}")
    return r.stdout


def start_etcd(servers, tmp):
    cluster = ",".join(f"e{i + 1}=http://127.0.0.1:{ETCD_PEER[i]}" for i in range(3))
    for i in range(3):
        servers.spawn(f"etcd-e{i + 1}", [
            "etcd", "--name", f"e{i + 1}", "--data-dir", tmp / f"etcd-e{i + 1}",
            "--listen-client-urls", f"http://127.0.0.1:{ETCD_CLIENT[i]}",
            "--advertise-client-urls", f"http://127.0.0.1:{ETCD_CLIENT[i]}",
            "--listen-peer-urls", f"http://127.0.0.1:{ETCD_PEER[i]}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{ETCD_PEER[i]}",
            "--initial-cluster", cluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", "rasputin-bench",
            # The memory test writes a million keys; the default 2 GiB quota is
            # not a limit worth hitting mid-run.
            "--quota-backend-bytes", str(8 * 1024 ** 3),
            "--logger", "zap", "--log-outputs", "stderr"])
    wait_for("the etcd cluster (healthy)", lambda: etcdctl("endpoint", "health", timeout=10) is not None,
             servers, 60)


def etcd_status():
    out = json.loads(etcdctl("endpoint", "status", "-w", "json", timeout=10))
    return out


def etcd_leader_endpoint(servers):
    def leader():
        for e in etcd_status():
            st = e["Status"]
            if st["leader"] and st["leader"] == st["header"]["member_id"]:
                return e["Endpoint"]
        return None

    return wait_for("an etcd leader", leader, servers, 30)


_etcd_compacted = [0]


def etcd_compact_defrag():
    """What a production etcd with auto-compaction would have done by now."""
    rev = max(e["Status"]["header"]["revision"] for e in etcd_status())
    if rev <= _etcd_compacted[0]:
        return
    try:
        etcdctl("compaction", "--physical", rev)
    except RuntimeError as e:
        if "compacted" not in str(e):
            raise
    etcdctl("defrag")
    _etcd_compacted[0] = rev


def start_redis(servers, tmp):
    for name, port, persist in (("redis-aof", REDIS_AOF, True), ("redis-mem", REDIS_MEM, False)):
        d = tmp / name
        d.mkdir()
        args = ["redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", d,
                "--save", "", "--daemonize", "no", "--logfile", tmp / f"{name}.log"]
        args += ["--appendonly", "yes", "--appendfsync", "always"] if persist else ["--appendonly", "no"]
        servers.spawn(name, args)
        wait_for(name, lambda p=port: redis_cli(p, "PING").stdout.strip() == "PONG", servers, 30)


# --- load tools --------------------------------------------------------------------

RESULT_RE = re.compile(r"^RESULT (.*)$", re.M)


def soak_window_growth(samples, names, stat=statistics.median):
    """Per node, % change from the median (or stat) resident size of the
    samples taken 60-180 s into the soak to that of its last 120 s."""
    end = samples[-1][0]
    out = {}
    for n in names:
        warm = [row[n] for t, row in samples if 60 <= t < 180] or [samples[0][1][n]]
        late = [row[n] for t, row in samples if t >= end - 120] or [samples[-1][1][n]]
        a, b = stat(warm), stat(late)
        out[n] = 100.0 * (b - a) / a if a else 0.0
    return out


def parse_result(text):
    m = RESULT_RE.findall(text)
    if not m:
        return None
    out = {}
    for kv in m[-1].split():
        k, _, v = kv.partition("=")
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out


def tool_for(system, op):
    if system == "etcd":
        return "etcdload"
    if op == "mix" or RESP_TOOL == "rpload":
        return "rpload"
    return "redis-benchmark"


def command_for(system, op, clients, n, port, etcd_ep):
    """The argv of one measured run, and the tool's name."""
    tool = tool_for(system, op)
    if tool == "etcdload":
        argv = [ETCDLOAD, "-endpoints", etcd_ep, "-op", {"set": "put"}.get(op, op),
                "-clients", clients, "-n", n, "-keys", KEYS, "-value-size", VALUE_SIZE]
        if ETCD_CONNS:
            argv += ["-conns", ETCD_CONNS]
        return tool, argv
    if tool == "rpload":
        t = op
        if op == "cas" and system != "rasputin":
            t = "evalcas"
        return tool, [RPLOAD, "-p", port, "-c", clients, "-n", n, "-r", KEYS, "-d", VALUE_SIZE,
                      "-t", t, "-s", int(time.time() * 1000) % 1000000]
    base = ["redis-benchmark", "-p", port, "-c", clients, "-n", n, "-r", KEYS, "--csv"]
    if op == "set":
        return tool, base + ["-d", VALUE_SIZE, "-t", "set"]
    if op == "get":
        return tool, base + ["-t", "get"]
    if system == "rasputin":
        return tool, base + ["CAS", "key:__rand_int__", VALUE, VALUE]
    return tool, base + ["EVAL", EVAL_CAS, "1", "key:__rand_int__", VALUE, VALUE]


def run_point(system, op, clients, n, port, etcd_ep):
    tool, argv = command_for(system, op, clients, n, port, etcd_ep)
    timeout = 120 + n / 50   # generous: a system at 50 ops/s still finishes
    try:
        r = run(argv, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"tool": tool, "ok": False, "error": f"no result within {timeout:.0f} s"}
    if tool == "redis-benchmark":
        rows = [l for l in r.stdout.splitlines() if l.startswith('"') and not l.startswith('"test"')]
        if r.returncode != 0 or not rows:
            return {"tool": tool, "ok": False,
                    "error": (r.stderr.strip() or r.stdout.strip())[-300:] or f"exit {r.returncode}"}
        f = [x.strip('"') for x in rows[-1].split('","')]
        return {"tool": tool, "ok": True, "ops_s": float(f[1]), "p50_ms": float(f[4]),
                "p99_ms": float(f[6]), "avg_ms": float(f[2]), "errors": 0, "n": n}
    res = parse_result(r.stdout)
    if r.returncode != 0 or res is None:
        return {"tool": tool, "ok": False, "error": (r.stderr.strip() or f"exit {r.returncode}")[-300:]}
    out = {"tool": tool, "ok": True, "ops_s": res["ops_s"], "p50_ms": res["p50_ms"],
           "p99_ms": res["p99_ms"], "avg_ms": res.get("avg_ms"), "errors": int(res["errors"]),
           "n": int(res["n"])}
    if out["errors"]:
        out["error"] = r.stderr.strip()[-300:]
    return out


def preload(system, port, etcd_ep, prefix, count, servers, fixed):
    """Writes keys PREFIX000000000000.. with 100-byte values, all VALUE if fixed, else
    random; returns (secs, ops/s)."""
    if system == "etcd":
        argv = [ETCDLOAD, "-endpoints", etcd_ep, "-op", "load", "-prefix", prefix, "-n", count,
                "-clients", 8, "-batch", 100, "-value-size", VALUE_SIZE]
        argv += ["-fixed-values"] if fixed else []
    else:
        argv = [RPLOAD, "-p", port, "-t", "load", "-k", prefix, "-n", count, "-c", 8, "-P", 32,
                "-d", VALUE_SIZE, "-T", 120]
        argv += ["-x"] if fixed else []
    t = time.time()
    r = run(argv, timeout=7200, check=False)
    servers.check_alive()
    res = parse_result(r.stdout)
    if r.returncode != 0 or res is None:
        raise RuntimeError(f"loading {count} keys into {system} failed: {r.stderr.strip()[-400:]}")
    if r.stderr.strip():
        log(f"    ({system}: {r.stderr.strip().splitlines()[-1][:200]})")
    return time.time() - t, res["ops_s"]


# --- machine description -------------------------------------------------------------

def first_line(argv):
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=10)
        return r.stdout.strip().splitlines()[0] if r.stdout.strip() else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "not found"


def machine(tmp):
    d = {}
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    d["CPU"] = cpu
    d["cores"] = str(os.cpu_count())
    with open("/proc/meminfo") as f:
        kib = int(f.readline().split()[1])
    d["RAM"] = f"{kib / 1024 / 1024:.1f} GiB"
    osname = "?"
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    d["OS"] = osname
    d["kernel"] = platform.release()
    src = " ".join(first_line(["findmnt", "-n", "-o", "SOURCE,FSTYPE,OPTIONS", "-T", str(tmp)]).split())
    dev = src.split()[0] if src and src != "not found" else ""
    disk = src
    base = os.path.basename(dev)
    blk = re.sub(r"p?\d+$", "", base) if not os.path.exists(f"/sys/block/{base}") else base
    if blk and os.path.exists(f"/sys/block/{blk}"):
        def sysfs(p):
            try:
                return open(f"/sys/block/{blk}/{p}").read().strip()
            except OSError:
                return "?"
        model = sysfs("device/model")
        rota = "rotational" if sysfs("queue/rotational") == "1" else "non-rotational"
        rota += " (as sysfs says)"
        size = int(sysfs("size")) * 512 / 1e9 if sysfs("size").isdigit() else 0
        disk += f"; /dev/{blk}: {model if model != '?' else 'no model (virtual?)'}, {size:.0f} GB, " \
                f"{rota}, write cache: {sysfs('queue/write_cache')}"
    d["disk (all data dirs)"] = f"{tmp} on {disk}"
    d["load average at start"] = " ".join(open("/proc/loadavg").read().split()[:3])
    return d


def versions():
    git = "?"
    try:
        rev = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], timeout=10).stdout.strip()
        dirty = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                    timeout=10).stdout.strip()
        git = rev + (" (with uncommitted changes)" if dirty else "")
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        pass
    return {
        "rasputind": f"{first_line([RASPUTIND, '--version'])}, commit {git}",
        "etcd": first_line(["etcd", "--version"]),
        "etcdctl": first_line(["etcdctl", "version"]),
        "redis-server": first_line(["redis-server", "--version"]),
        "redis-benchmark": first_line(["redis-benchmark", "--version"]),
        "go (etcdload)": first_line(["go", "version"]),
        "cc (rpload, probe)": first_line(["cc", "--version"]),
        "gnuplot": first_line(["gnuplot", "--version"]),
    }


# --- the report ------------------------------------------------------------------------

def med(runs, key):
    vals = [r[key] for r in runs if r.get("ok") and r.get(key) is not None]
    return statistics.median(vals) if vals else None


def fmt_num(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def fmt_ms(v):
    if v is None:
        return "—"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def verdict(ok):
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


class Report:
    def __init__(self):
        self.runs = {}      # (op, clients, system) -> [run]
        self.probe = {}
        self.memory = {}
        self.soak = None
        self.preload = {}
        self.rasputin_end = {}   # node -> RASPUTIN STATUS at the end
        self.targets = []

    def point(self, op, c, system):
        return self.runs.get((op, c, system), [])

    def m(self, op, c, system, key):
        return med(self.point(op, c, system), key)

    def compute_targets(self):
        t = []
        c64 = 64 in CLIENTS
        r_set = self.m("set", 64, "rasputin", "ops_s")
        e_set = self.m("set", 64, "etcd", "ops_s")
        a_set = self.m("set", 64, "redis-aof", "ops_s")
        x = ratio(r_set, e_set)
        t.append(("durable writes, 64 clients: rasputin >= 3x etcd",
                  f"{x:.2f}x" if x else "—", verdict(None if x is None else x >= 3)))
        x = ratio(r_set, a_set)
        t.append(("durable writes, 64 clients: rasputin >= 0.5x Redis appendfsync always",
                  f"{x:.2f}x" if x else "—", verdict(None if x is None else x >= 0.5)))
        r_get = self.m("get", 64, "rasputin", "ops_s")
        e_get = self.m("get", 64, "etcd", "ops_s")
        m_get = self.m("get", 64, "redis-mem", "ops_s")
        x = ratio(r_get, e_get)
        t.append(("linearizable reads, 64 clients: rasputin >= 5x etcd",
                  f"{x:.2f}x" if x else "—", verdict(None if x is None else x >= 5)))
        x = ratio(r_get, m_get)
        t.append(("linearizable reads, 64 clients: rasputin >= 0.7x Redis without persistence",
                  f"{x:.2f}x" if x else "—", verdict(None if x is None else x >= 0.7)))
        if not c64:
            t = [(a, "64 clients not measured", "n/a") for a, _, _ in t]
        for op in RUN_OPS:
            rp = self.m(op, 16, "rasputin", "p99_ms")
            ep = self.m(op, 16, "etcd", "p99_ms")
            ok = None if rp is None or ep is None else rp < ep
            t.append((f"p99 at 16 clients below etcd's: {op}",
                      f"{fmt_ms(rp)} ms vs {fmt_ms(ep)} ms" if ok is not None else "—", verdict(ok)))
        p50 = self.m("set", 1, "rasputin", "p50_ms")
        if self.probe.get("fsync_append") and self.probe.get("rtt") and p50 is not None:
            ref_ms = (self.probe["fsync_append"]["p50_us"] + 2 * self.probe["rtt"]["p50_us"]) / 1000
            t.append(("1 client SET p50 <= 1.5 x (fdatasync + 2 loopback RTT)",
                      f"{p50:.3f} ms vs 1.5 x {ref_ms:.3f} = {1.5 * ref_ms:.3f} ms "
                      f"({p50 / ref_ms:.2f}x the reference)", verdict(p50 <= 1.5 * ref_ms)))
        else:
            t.append(("1 client SET p50 <= 1.5 x (fdatasync + 2 loopback RTT)", "not measured", "n/a"))
        if self.memory.get("rasputin") and self.memory.get("etcd"):
            rmax = max(self.memory["rasputin"].values())
            emin = min(self.memory["etcd"].values())
            t.append((f"resident size per node at {MEM_KEYS:,} keys below an etcd member's "
                      "(largest rasputin node vs smallest etcd member)",
                      f"{rmax / 1024:.0f} MiB vs {emin / 1024:.0f} MiB",
                      verdict(rmax < emin) + ("" if MEM_KEYS >= 1000000 else " (fewer keys than the target's 1M)")))
        else:
            t.append(("resident size per node below an etcd member's", "not measured", "n/a"))
        if self.soak:
            g = self.soak["max_growth_pct"]
            t.append((f"resident size flat under a {self.soak['seconds']} s write load "
                      "(median of the last 120 s < 1.1 x median of 60-180 s)",
                      f"largest growth {g:+.1f}%", verdict(g < 10)
                      if self.soak["seconds"] >= 600 else "n/a (shorter than 600 s)"))
        else:
            t.append(("resident size flat under a 10-minute write load",
                      "not run (BENCH_SOAK_SECONDS=600)", "n/a"))
        self.targets = t
        return t

    def markdown(self, meta):
        L = []
        L.append(f"# rasputin benchmark: {meta['stamp']} on {meta['host']}")
        L.append("")
        if QUICK:
            L.append("**A smoke run (BENCH_QUICK=1): few requests per point, one run each. "
                     "It shows the harness works; its figures are not a measurement.**")
            L.append("")
        if NOTE:
            L.append(f"**Note:** {NOTE}")
            L.append("")
        L.append("## Machine")
        L.append("")
        for k, v in meta["machine"].items():
            L.append(f"- {k}: {v}")
        L.append("")
        L.append("## Versions")
        L.append("")
        for k, v in meta["versions"].items():
            L.append(f"- {k}: {v}")
        L.append("")
        L.append("## Method")
        L.append("")
        L.append(f"- Key space: {KEYS:,} keys `key:000000000000`..`key:{KEYS - 1:012d}`, values "
                 f"{VALUE_SIZE} bytes, preloaded in every system; keys drawn uniformly at random. "
                 "SETs and puts write random printable bytes (as redis-benchmark does; they do not "
                 "compress). Before each CAS run every key is set to the value the CAS expects, so "
                 "every CAS swaps.")
        L.append(f"- Requests per point: {N:,} (1 client: {N1:,}); {REPEAT} run(s) per point; the table "
                 "gives the median of the runs for ops/s, p50 and p99 separately. Each client has one "
                 "request outstanding (no pipelining). The systems take turns within a point.")
        L.append("- rasputin and etcd: 3 nodes each on loopback, the load sent to the leader's client "
                 "port (rasputin: every command is linearizable and goes through the leader anyway; "
                 "etcd: a put or a linearizable range is served by the leader). etcd is compacted "
                 "and defragmented before each of its points (etcd 3.4 does not compact by default).")
        L.append("- Redis: one process each; `appendonly yes, appendfsync always` (an fsync per "
                 "event-loop batch of writes) and no persistence at all (`appendonly no, save \"\"`).")
        L.append("- All data directories are under one temporary directory on the disk named above. "
                 "Servers and load generators share the machine's cores.")
        L.append("- CPU per operation (median of the runs): the user + system time the system's "
                 "server processes used during the run (all threads; for rasputin and etcd the "
                 "three nodes together, from /proc/PID/stat in 10 ms ticks), and the load tool's "
                 "own (getrusage of the finished child), each divided by the requests. On a "
                 "machine whose cores the servers and the load tool share, these say which "
                 "system is bound by CPU and which by its disk.")
        L.append("")
        L.append("Tools (which program drove which column):")
        L.append("")
        L.append("| operation | rasputin | etcd | Redis (both) |")
        L.append("|---|---|---|---|")
        for op in RUN_OPS:
            cmd = {
                "set": ("`SET key v`", "put", "`SET key v`"),
                "get": ("`GET key`", "range of one key, linearizable (etcd's default)", "`GET key`"),
                "cas": ("`CAS key v v` (always swaps)", "txn: if value == v then put v else get",
                        "`EVAL` of a Lua get-compare-set"),
                "mix": ("90% `GET`, 10% `SET`", "90% range, 10% put", "90% `GET`, 10% `SET`"),
            }[op]
            L.append(f"| {OP_TITLES[op]} | {tool_for('rasputin', op)}: {cmd[0]} | "
                     f"etcdload (bench/etcdload, Go, etcd's clientv3): {cmd[1]} | "
                     f"{tool_for('redis-aof', op)}: {cmd[2]} |")
        conns = f"{ETCD_CONNS} gRPC connections" if ETCD_CONNS else "one gRPC connection per client"
        L.append("")
        L.append(f"etcdload uses {conns}. redis-benchmark and rpload use one TCP connection per "
                 "client. redis-benchmark is single-threaded (it saturates near 90k ops/s on a "
                 "small machine); rpload (bench/rpload.c) is an epoll client with the same "
                 "one-request-per-connection discipline.")
        L.append("")
        L.append("## Results")
        L.append("")
        L.append("| operation | clients | system | ops/s | p50 ms | p99 ms | server CPU µs/op | "
                 "tool CPU µs/op | runs (ops/s) | tool |")
        L.append("|---|---:|---|---:|---:|---:|---:|---:|---|---|")
        for op in RUN_OPS:
            for c in CLIENTS:
                for s in SYSTEMS:
                    runs = self.point(op, c, s)
                    if not runs:
                        continue
                    each = ", ".join(fmt_num(r["ops_s"]) if r.get("ok") else "failed" for r in runs)
                    errs = sum(r.get("errors", 0) for r in runs if r.get("ok"))
                    if errs:
                        each += f" ({errs} error replies)"
                    L.append(f"| {op} | {c} | {SYSTEM_TITLES[s]} | {fmt_num(med(runs, 'ops_s'))} | "
                             f"{fmt_ms(med(runs, 'p50_ms'))} | {fmt_ms(med(runs, 'p99_ms'))} | "
                             f"{fmt_num(med(runs, 'server_cpu_us'), 1)} | "
                             f"{fmt_num(med(runs, 'tool_cpu_us'), 1)} | "
                             f"{each} | {runs[0]['tool']} |")
        failures = [(k, r) for k, rs in self.runs.items() for r in rs if not r.get("ok") or r.get("error")]
        if failures:
            L.append("")
            L.append("Failed runs and error replies:")
            L.append("")
            for (op, c, s), r in failures:
                L.append(f"- {op}, {c} clients, {s}: {r.get('error', '?')}".replace("\n", " "))
        L.append("")
        L.append("## Ratios")
        L.append("")
        L.append("| operation | clients | ops/s rasputin / etcd | ops/s rasputin / Redis fsync always | "
                 "ops/s rasputin / Redis no persistence | p99 rasputin / etcd | p99 rasputin / Redis fsync always |")
        L.append("|---|---:|---:|---:|---:|---:|---:|")

        def rf(x):
            return f"{x:.2f}" if x is not None else "—"

        for op in RUN_OPS:
            for c in CLIENTS:
                r = self.m(op, c, "rasputin", "ops_s")
                L.append(f"| {op} | {c} | {rf(ratio(r, self.m(op, c, 'etcd', 'ops_s')))} | "
                         f"{rf(ratio(r, self.m(op, c, 'redis-aof', 'ops_s')))} | "
                         f"{rf(ratio(r, self.m(op, c, 'redis-mem', 'ops_s')))} | "
                         f"{rf(ratio(self.m(op, c, 'rasputin', 'p99_ms'), self.m(op, c, 'etcd', 'p99_ms')))} | "
                         f"{rf(ratio(self.m(op, c, 'rasputin', 'p99_ms'), self.m(op, c, 'redis-aof', 'p99_ms')))} |")
        L.append("")
        L.append("## Single-client write latency reference")
        L.append("")
        if self.probe:
            pr = self.probe
            L.append("Measured in this run, just before the first point (bench/probe.c; "
                     "the fsync files are in the same temporary directory as the data):")
            L.append("")
            for k, title in (("fsync_append", "append 100 bytes + fdatasync (the reference)"),
                             ("fsync_overwrite", "overwrite 100 bytes of a written file + fdatasync"),
                             ("fsync_overwrite_x3", "the same overwrite + fdatasync by three processes at "
                              "once, each on its own file, as three nodes' logs on this one disk"),
                             ("rtt", "loopback TCP round trip, 100 bytes (the reference)"),
                             ("commit_floor", "a bare 3-node commit on this disk, no server: a leader "
                              "process sends 100 bytes to two follower processes over loopback TCP and "
                              "overwrites + fdatasyncs its own file; each follower writes what has "
                              "arrived to its own file with one fdatasync and acks; done at the "
                              "leader's sync and the first ack")):
                if k in pr:
                    L.append(f"- {title}: p50 {pr[k]['p50_us']:.1f} µs, p99 {pr[k]['p99_us']:.1f} µs "
                             f"({int(pr[k]['n'])} samples)")
            if "ping" in pr:
                L.append(f"- redis-benchmark PING_INLINE, 1 client, Redis without persistence: "
                         f"p50 {pr['ping']['p50_ms'] * 1000:.0f} µs (a round trip through a real server; "
                         "for comparison)")
            p50 = self.m("set", 1, "rasputin", "p50_ms")
            if p50 is not None and "fsync_append" in pr and "rtt" in pr:
                ref = (pr["fsync_append"]["p50_us"] + 2 * pr["rtt"]["p50_us"]) / 1000
                L.append(f"- reference = fdatasync + 2 RTT = {ref:.3f} ms; rasputin SET p50 at 1 client "
                         f"= {p50:.3f} ms = {p50 / ref:.2f}x the reference (target <= 1.5x)")
                if "fsync_overwrite_x3" in pr:
                    x3 = (pr["fsync_overwrite_x3"]["p50_us"] + 2 * pr["rtt"]["p50_us"]) / 1000
                    L.append(f"- for context, not the target: a write commits once two of the three logs "
                             f"have it on disk, and all three flush at once on this one disk; with the "
                             f"three-writer fdatasync instead, fdatasync + 2 RTT = {x3:.3f} ms, and "
                             f"rasputin's p50 is {p50 / x3:.2f}x that")
                if "commit_floor" in pr:
                    floor = (pr["commit_floor"]["p50_us"] + pr["rtt"]["p50_us"]) / 1000
                    L.append(f"- for context, not the target: one write with no server software in the "
                             f"way, the bare commit + the client's RTT = "
                             f"{floor:.3f} ms ({floor / ref:.2f}x the reference); rasputin's p50 is "
                             f"{p50 / floor:.2f}x that")
                    if "ping" in pr:
                        tool = pr["commit_floor"]["p50_us"] / 1000 + pr["ping"]["p50_ms"]
                        L.append(f"- for context, not the target: the bare commit + redis-benchmark's own "
                                 f"round trip (its PING p50 above) = {tool:.3f} ms ({tool / ref:.2f}x "
                                 f"the reference); rasputin's p50 is {p50 / tool:.2f}x that")
        else:
            L.append("Not measured.")
        L.append("")
        L.append("## Memory")
        L.append("")
        if self.memory:
            L.append(f"Resident size (VmRSS, what `ps -o rss` shows) after loading {MEM_KEYS:,} more keys "
                     f"(`mem:%012d`, {VALUE_SIZE}-byte values) on top of the {KEYS:,} of the key space; "
                     "etcd compacted and defragmented first. Disk: the size of each data directory.")
            L.append("")
            L.append("| process | resident MiB | data dir MiB |")
            L.append("|---|---:|---:|")
            for s in ("rasputin", "etcd"):
                for name, kib in self.memory.get(s, {}).items():
                    du = self.memory.get("disk", {}).get(name)
                    L.append(f"| {name} | {kib / 1024:.0f} | {du / 1024:.0f} |" if du is not None
                             else f"| {name} | {kib / 1024:.0f} | — |")
            L.append("")
            for s, (secs, rate) in self.preload.items():
                L.append(f"- loading into {s}: {secs:.0f} s ({rate:,.0f} keys/s; "
                         f"{'etcdload, txns of 100 puts, 8 in flight' if s == 'etcd' else 'rpload, 8 connections x 32 pipelined SETs'})")
        else:
            L.append("Not measured (BENCH_MEM_KEYS=0).")
        if self.soak:
            L.append("")
            L.append(f"### Resident size under a {self.soak['seconds']} s write load")
            L.append("")
            L.append(f"rpload, 16 clients, SET over the {MEM_KEYS:,} `mem:` keys, on the leader; "
                     f"{self.soak['ops_s']:,.0f} ops/s. Resident MiB, sampled every 2 s "
                     f"(every fifth sample shown):")
            L.append("")
            names = list(self.soak["samples"][0][1].keys()) if self.soak["samples"] else []
            L.append("| s | " + " | ".join(names) + " |")
            L.append("|---:|" + "---:|" * len(names))
            for k, (t, row) in enumerate(self.soak["samples"]):
                if k % 5 == 0 or k == len(self.soak["samples"]) - 1:
                    L.append(f"| {t:.0f} | " + " | ".join(f"{row[n] / 1024:.0f}" for n in names) + " |")
            L.append("")
            L.append("Growth, median of the last 120 s against the median of 60-180 s (the "
                     "target's measure): " + ", ".join(
                         f"{n} {g:+.1f}%" for n, g in self.soak["growth_pct"].items()))
            if self.soak.get("peak_growth_pct"):
                L.append("")
                L.append("The same windows' largest samples (the top of the saw): " + ", ".join(
                    f"{n} {g:+.1f}%" for n, g in self.soak["peak_growth_pct"].items()))
            if self.soak.get("endpoint_growth_pct"):
                L.append("")
                L.append("From the first sample after 60 s to the last (two single samples, "
                         "for comparison): " + ", ".join(
                             f"{n} {g:+.1f}%" for n, g in self.soak["endpoint_growth_pct"].items()))
            bd = self.soak.get("breakdown") or {}
            if any(bd.values()):
                L.append("")
                L.append("Where the memory was at the end (`INFO memory`, MiB): what the "
                         "allocator handed out, what it held free, and parts of the former:")
                L.append("")
                L.append("| node | resident | " + " | ".join(MEMORY_FIELDS) + " |")
                L.append("|---|---:|" + "---:|" * len(MEMORY_FIELDS))
                last = self.soak["samples"][-1][1]
                for n, m in bd.items():
                    L.append(f"| {n} | {last.get(n, 0) / 1024:.1f} | " + " | ".join(
                        f"{m[k] / 2 ** 20:.1f}" if k in m else "—" for k in MEMORY_FIELDS) + " |")
        if self.rasputin_end:
            L.append("")
            L.append("rasputin at the end of the run (`RASPUTIN STATUS`): " + "; ".join(
                f"{n}: {st.get('role', '?')}, term {st.get('term', '?')}, "
                f"{st.get('leader_changes', '?')} leader change(s) counted, the first election included"
                for n, st in self.rasputin_end.items()) + ".")
        L.append("")
        L.append("## Targets")
        L.append("")
        L.append("| target | measured | |")
        L.append("|---|---|---|")
        for name, val, v in self.targets:
            L.append(f"| {name} | {val} | {v} |")
        L.append("")
        L.append(f"Run time: {meta['elapsed'] / 60:.1f} minutes. Load average at the end: "
                 f"{meta['load_end']}. Chart: `{meta['png']}`. Every run: `{meta['json']}`.")
        L.append("")
        return "\n".join(L)


def chart(report, tmp, png, title):
    """Two rows of clustered bars: ops/s and p99 per operation, one bar per system."""
    ops = [o for o in RUN_OPS if any(report.m(o, c, s, "ops_s") for c in CLIENTS for s in SYSTEMS)]
    if not ops:
        return False
    for op in ops:
        for metric in ("ops_s", "p99_ms"):
            with open(tmp / f"chart-{op}-{metric}.dat", "w") as f:
                f.write("# clients " + " ".join(SYSTEMS) + "\n")
                for c in CLIENTS:
                    vals = []
                    for s in SYSTEMS:
                        v = report.m(op, c, s, metric)
                        vals.append(f"{v:.6g}" if v else "?")
                    f.write(f"{c} " + " ".join(vals) + "\n")
    g = [f"set terminal pngcairo size {max(900, 420 * len(ops))},860 font 'DejaVu Sans,9'",
         f"set output '{png}'",
         "set datafile missing '?'",
         "set style data histograms",
         "set style histogram clustered gap 1",
         "set style fill solid 0.85 border -1",
         "set boxwidth 0.9",
         "set logscale y",
         "set grid ytics",
         "set xlabel 'clients'",
         "set tmargin 5",
         f"set multiplot layout 2,{len(ops)} title \"{title}\""]
    colors = ["#c0392b", "#2471a3", "#7d3c98", "#999999"]
    # One legend for the whole chart, under the title, drawn in screen coordinates.
    g.append("unset key")
    for i, s in enumerate(SYSTEMS):
        x = 0.22 + 0.16 * i
        g.append(f"set object {i + 1} rect from screen {x:.3f},0.950 to screen {x + 0.012:.3f},0.967 "
                 f"fc rgb '{colors[i]}' fs solid 0.85 border -1")
        g.append(f"set label {i + 1} '{SYSTEM_TITLES[s]}' at screen {x + 0.016:.3f},0.959 left")
    for metric, label in (("ops_s", "ops/s"), ("p99_ms", "p99 ms")):
        for op in ops:
            d = tmp / f"chart-{op}-{metric}.dat"
            g.append(f"set title \"{op}: {label}\"")
            g.append(f"set ylabel '{label}'")
            plots = []
            for i, s in enumerate(SYSTEMS):
                col = i + 2
                src = f"'{d}'" if i == 0 else "''"
                xt = ":xtic(1)" if i == 0 else ""
                plots.append(f"{src} using {col}{xt} title '{SYSTEM_TITLES[s]}' lc rgb '{colors[i]}'")
            g.append("plot " + ", ".join(plots))
    g.append("unset multiplot")
    script = tmp / "chart.gp"
    script.write_text("\n".join(g) + "\n")
    r = subprocess.run(["gnuplot", str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        log(f"bench: gnuplot failed: {r.stderr.strip()[-300:]}")
        return False
    return True


# --- the run --------------------------------------------------------------------------

def du_kib(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                pass
    return total // 1024


def measure_probes(report, tmp, servers):
    log("probes: fdatasync of 100-byte appends in the data directory, loopback round trips")
    r = run([PROBE, "fsync", tmp, PROBE_FSYNCS], timeout=600)
    for line in r.stdout.splitlines():
        res = parse_result(line)
        if res:
            report.probe[res["probe"]] = res
    r = run([PROBE, "rtt", PROBE_RTTS], timeout=600)
    res = parse_result(r.stdout)
    report.probe["rtt"] = res
    r = run([PROBE, "commit", tmp, PROBE_FSYNCS], timeout=600)
    res = parse_result(r.stdout)
    if res:
        report.probe[res["probe"]] = res
    ping = run(["redis-benchmark", "-p", REDIS_MEM, "-c", 1, "-n", PROBE_RTTS, "-t", "ping_inline",
                "--csv"], timeout=600, check=False)
    rows = [l for l in ping.stdout.splitlines() if l.startswith('"PING')]
    if rows:
        f = [x.strip('"') for x in rows[-1].split('","')]
        report.probe["ping"] = {"p50_ms": float(f[4]), "ops_s": float(f[1])}
    pr = report.probe
    log(f"  fdatasync append p50 {pr['fsync_append']['p50_us']:.0f} µs, overwrite p50 "
        f"{pr['fsync_overwrite']['p50_us']:.0f} µs"
        + (f", overwrite by three writers at once p50 {pr['fsync_overwrite_x3']['p50_us']:.0f} µs"
           if "fsync_overwrite_x3" in pr else "")
        + f"; loopback RTT p50 {pr['rtt']['p50_us']:.1f} µs"
        + (f"; bare 3-process commit p50 {pr['commit_floor']['p50_us']:.0f} µs"
           if "commit_floor" in pr else "")
        + (f"; Redis PING p50 {pr['ping']['p50_ms'] * 1000:.0f} µs" if "ping" in pr else ""))


def main():
    for path, how in ((RASPUTIND, "make build/release/rasputind"), (RPLOAD, "make bench"),
                      (PROBE, "make bench"), (ETCDLOAD, "make bench")):
        if not path.exists():
            sys.exit(f"bench: {path} is missing (build it: {how})")
    for prog in ("etcd", "etcdctl", "redis-server", "redis-cli", "redis-benchmark", "gnuplot"):
        if not shutil.which(prog):
            sys.exit(f"bench: {prog} is not installed (scripts/deps.sh bench installs it)")
    ports = RASPUTIN_CLI + RASPUTIN_PEER + ETCD_CLIENT + ETCD_PEER + [REDIS_AOF, REDIS_MEM]
    busy = [p for p in ports if not port_free(p)]
    if busy:
        sys.exit(f"bench: ports {busy} are in use (another bench running? BENCH_PORT_BASE moves them)")

    parent = Path(os.environ.get("BENCH_DIR") or (ROOT / "build"))
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-", dir=parent))
    fstype = first_line(["stat", "-f", "-c", "%T", str(tmp)])
    if fstype in ("tmpfs", "ramfs"):
        log(f"bench: WARNING: {tmp} is on {fstype}: fdatasync costs nothing there; set BENCH_DIR")
    servers = Servers(tmp)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    # Ctrl-C stops the run even when started with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    t0 = time.time()
    stamp = time.strftime("%Y-%m-%dT%H%MZ", time.gmtime())
    host = socket.gethostname().split(".")[0]
    stem = f"{stamp}-{host}" + ("-quick" if QUICK else "")
    report = Report()
    meta = {"stamp": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "host": host,
            "machine": machine(tmp), "versions": versions()}
    interrupted = False
    try:
        log(f"bench: data under {tmp}; N={N} (1 client: {N1}), {REPEAT} run(s) per point, "
            f"clients {CLIENTS}, operations {RUN_OPS}{' (quick)' if QUICK else ''}")
        log("starting rasputin (3 nodes), etcd (3 members), Redis x2 ...")
        start_rasputin(servers, tmp)
        start_etcd(servers, tmp)
        start_redis(servers, tmp)
        rport = rasputin_leader_port(servers)
        eep = etcd_leader_endpoint(servers)
        log(f"  rasputin leader on :{rport}, etcd leader {eep}, Redis on :{REDIS_AOF} (fsync always) "
            f"and :{REDIS_MEM} (no persistence)")
        port_of = {"rasputin": rport, "redis-aof": REDIS_AOF, "redis-mem": REDIS_MEM, "etcd": None}

        log(f"preloading {KEYS:,} keys of {VALUE_SIZE} bytes into each system")
        for s in SYSTEMS:
            secs, _ = preload(s, port_of[s], eep, "key:", KEYS, servers, fixed=True)
            log(f"  {s}: {secs:.1f} s")
        etcd_compact_defrag()

        measure_probes(report, tmp, servers)

        log("")
        if RUN_OPS:
            log(f"{'op':<4} {'clients':>7} {'run':>5}  {'system':<10} {'ops/s':>10} {'p50 ms':>8} "
                f"{'p99 ms':>8}  tool")
        for op in RUN_OPS:
            for c in CLIENTS:
                n = N1 if c == 1 else N
                for rep in range(REPEAT):
                    order = SYSTEMS[rep % len(SYSTEMS):] + SYSTEMS[:rep % len(SYSTEMS)]
                    for s in order:
                        servers.check_alive()
                        if s == "rasputin":
                            # a leader change would send every request through a forward
                            port_of["rasputin"] = rasputin_leader_port(servers)
                        if op == "cas":
                            # redis-benchmark's SET writes random values: put V back in every
                            # key so that every CAS V -> V swaps, in every system
                            preload(s, port_of[s], eep, "key:", KEYS, servers, fixed=True)
                        if s == "etcd":
                            etcd_compact_defrag()
                        cpu0, tool0 = servers.cpu_seconds(s), children_cpu_seconds()
                        r = run_point(s, op, c, n, port_of[s], eep)
                        if r["ok"]:
                            r["server_cpu_us"] = (servers.cpu_seconds(s) - cpu0) * 1e6 / r["n"]
                            r["tool_cpu_us"] = (children_cpu_seconds() - tool0) * 1e6 / r["n"]
                        report.runs.setdefault((op, c, s), []).append(r)
                        if r["ok"]:
                            extra = f"  ({r['errors']} error replies)" if r.get("errors") else ""
                            log(f"{op:<4} {c:>7} {rep + 1:>2}/{REPEAT:<2}  {s:<10} {r['ops_s']:>10,.0f} "
                                f"{fmt_ms(r['p50_ms']):>8} {fmt_ms(r['p99_ms']):>8}  {r['tool']}{extra}"
                                f"  (CPU per op: servers {r['server_cpu_us']:.1f} µs, "
                                f"load tool {r['tool_cpu_us']:.1f} µs)")
                        else:
                            log(f"{op:<4} {c:>7} {rep + 1:>2}/{REPEAT:<2}  {s:<10} FAILED: "
                                f"{r['error'][:200]}")
                if REPEAT > 1:
                    for s in SYSTEMS:
                        runs = report.point(op, c, s)
                        log(f"{op:<4} {c:>7} {'med':>5}  {s:<10} {fmt_num(med(runs, 'ops_s')):>10} "
                            f"{fmt_ms(med(runs, 'p50_ms')):>8} {fmt_ms(med(runs, 'p99_ms')):>8}")
                log("")

        if MEM_KEYS > 0:
            log(f"memory: loading {MEM_KEYS:,} keys into rasputin and etcd")
            rport = rasputin_leader_port(servers)
            for s, port in (("rasputin", rport), ("etcd", None)):
                secs, rate = preload(s, port, eep, "mem:", MEM_KEYS, servers, fixed=False)
                report.preload[s] = (secs, rate)
                log(f"  {s}: {secs:.0f} s, {rate:,.0f} keys/s")
            etcd_compact_defrag()
            time.sleep(5)
            report.memory = {"rasputin": {}, "etcd": {}, "disk": {}}
            for i in range(3):
                for s, name, d in (("rasputin", f"rasputin-n{i + 1}", tmp / f"rasputin-n{i + 1}"),
                                   ("etcd", f"etcd-e{i + 1}", tmp / f"etcd-e{i + 1}")):
                    report.memory[s][name] = servers.rss_kib(name)
                    report.memory["disk"][name] = du_kib(d)
            log("  resident MiB: " + ", ".join(
                f"{n} {k / 1024:.0f}" for s in ("rasputin", "etcd") for n, k in report.memory[s].items()))

            if SOAK > 0:
                log(f"soak: SET on rasputin's leader for {SOAK} s, resident size every 2 s")
                rport = rasputin_leader_port(servers)
                names = [f"rasputin-n{i + 1}" for i in range(3)]
                p = subprocess.Popen([str(a) for a in [RPLOAD, "-p", rport, "-t", "set", "-k", "mem:",
                                      "-r", MEM_KEYS, "-c", 16, "-n", 10 ** 9, "-D", SOAK, "-T", 60]],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                samples = []
                ts = time.time()
                # Every 2 s: the size saws with the log between snapshots
                # and the memtable between flushes, and the medians of the
                # windows below are steadier over 60 samples than over 12.
                while p.poll() is None:
                    samples.append((time.time() - ts, {n: servers.rss_kib(n) or 0 for n in names}))
                    if len(samples) % 5 == 1:
                        log(f"  {samples[-1][0]:5.0f} s: " + ", ".join(
                            f"{n} {k / 1024:.0f} MiB" for n, k in samples[-1][1].items()))
                    servers.check_alive()
                    deadline = time.time() + 2
                    while p.poll() is None and time.time() < deadline:
                        time.sleep(0.5)
                out, err = p.communicate()
                samples.append((time.time() - ts, {n: servers.rss_kib(n) or 0 for n in names}))
                # Where each node's memory was at the end (INFO memory).
                breakdown = {n: rasputin_memory(RASPUTIN_CLI[i]) for i, n in enumerate(names)}
                res = parse_result(out) or {"ops_s": 0}
                # The resident size saws up and down with the log held in
                # memory between snapshots and the memtable between flushes
                # (a band ~20% wide): growth is judged on the median of the
                # samples from 60 to 180 s against that of the last 120 s,
                # not on two single samples, whose phases decide the result.
                base = next((row for t, row in samples if t >= 60), samples[0][1])
                endpoint = {n: 100.0 * (samples[-1][1][n] - base[n]) / base[n] if base[n] else 0.0
                            for n in names}
                growth = soak_window_growth(samples, names)
                peak_growth = soak_window_growth(samples, names, max)
                report.soak = {"seconds": SOAK, "samples": samples, "growth_pct": growth,
                               "breakdown": breakdown, "peak_growth_pct": peak_growth,
                               "endpoint_growth_pct": endpoint,
                               "max_growth_pct": max(growth.values()), "ops_s": res["ops_s"]}
                if p.returncode != 0:
                    log(f"  rpload: {err.strip()[-300:]}")
                log("  growth: " + ", ".join(f"{n} {g:+.1f}%" for n, g in growth.items()))
    except KeyboardInterrupt:
        interrupted = True
        log("\nbench: interrupted; stopping the servers")
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        log(f"\nbench: stopped: {e}")
        interrupted = True
    finally:
        for i, port in enumerate(RASPUTIN_CLI):
            try:
                report.rasputin_end[f"rasputin-n{i + 1}"] = rasputin_status(port)
            except (subprocess.TimeoutExpired, OSError):
                pass
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not leave servers behind
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        servers.stop_all()

    meta["elapsed"] = time.time() - t0
    meta["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
    if report.runs or report.memory:
        RESULTS.mkdir(parents=True, exist_ok=True)
        if interrupted:
            stem += "-interrupted"
        md = RESULTS / f"{stem}.md"
        png = RESULTS / f"{stem}.png"
        js = RESULTS / f"{stem}.json"
        meta["png"] = png.name
        meta["json"] = js.name
        report.compute_targets()
        title = f"rasputin vs etcd vs Redis, {meta['stamp']}, {host}" + (" (smoke run)" if QUICK else "")
        if not chart(report, tmp, png, title):
            meta["png"] = "(no chart)"
        text = report.markdown(meta)
        if interrupted:
            text = text.replace("## Machine", "**The run was interrupted: the results are partial.**\n\n"
                                "## Machine", 1)
        md.write_text(text)
        js.write_text(json.dumps({
            "meta": meta, "settings": {"N": N, "N1": N1, "REPEAT": REPEAT, "CLIENTS": CLIENTS,
                                       "OPS": RUN_OPS, "MEM_KEYS": MEM_KEYS, "SOAK": SOAK,
                                       "QUICK": QUICK, "RESP_TOOL": RESP_TOOL},
            "runs": [{"op": op, "clients": c, "system": s, **r}
                     for (op, c, s), rs in report.runs.items() for r in rs],
            "probe": report.probe, "memory": report.memory, "soak": report.soak,
            "targets": report.targets}, indent=1))
        log("targets:")
        for name, val, v in report.targets:
            log(f"  {v:<5} {name}: {val}")
        log(f"results: {md.relative_to(ROOT)}, {png.relative_to(ROOT)} "
            f"({meta['elapsed'] / 60:.1f} min)")
    if KEEP:
        log(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
