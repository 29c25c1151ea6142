"""netns.py — real rasputind clusters in network namespaces, and the nemeses
that break them (processes, network, clocks, membership, disks).

Run with /usr/bin/python3 as root.  Layout of a cluster with tag T and
subnet octet X (see tests/faults/README.md for the whole story):

    root namespace                     node namespaces
    bridge rpfT 10.X.0.254/24 --+-- rpfTv1 <-veth-> eth0 10.X.0.1  (ns rpf-T-n1)
                                +-- rpfTv2 <-veth-> eth0 10.X.0.2  (ns rpf-T-n2)
                                +-- ...

Every node listens on the same ports inside its own namespace (clients
7001, peers 7101).  Clients run in the root namespace and reach every node
directly over the bridge.  Network faults are iptables rules inside the
node namespaces that match the peer port only, so they never touch client
traffic; the root namespace's iptables is never changed.

    c = NsCluster(3, "/tmp/w", tag="a"); c.setup(); c.start_all()
    net = Net(c); net.isolate(c.leader()); ...; net.heal()
    c.teardown()        # also runs at exit and on SIGTERM/SIGHUP

Everything is idempotent where it can be and every wait has a deadline.
"""

import atexit
import errno
import os
import select
import shutil
import signal
import subprocess
import threading
import time
import weakref
import zlib

import redis

CLI_PORT = 7001
PEER_PORT = 7101
NS_IF = "eth0"  # the node's end of its veth, inside its namespace
CHAIN_IN = "RPF-IN"  # per-namespace chains that hold our rules: drops and loss,
CHAIN_DELAY = "RPF-DELAY"  # then NFQUEUE (delay); both hooked first in INPUT
_STRING_KEYS = ("role", "lease", "leader_client_addr", "cluster_id")

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class HarnessError(RuntimeError):
    """The harness could not do what was asked (not a server misbehaviour)."""


# --- small helpers ---------------------------------------------------------


def _run(args, ns=None, check=True, timeout=30):
    """Runs a command (inside namespace ns if given); returns stdout (str)."""
    if ns is not None:
        args = ["ip", "netns", "exec", ns] + list(args)
    try:
        p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HarnessError("timed out after %ss: %s" % (timeout, " ".join(args)))
    if check and p.returncode != 0:
        raise HarnessError("%s: exit %d: %s" % (" ".join(args), p.returncode, (p.stderr or p.stdout).strip()))
    return p.stdout


def _find_binary(path):
    if os.path.isabs(path):
        return path
    if os.path.exists(path):
        return os.path.abspath(path)
    return os.path.join(_REPO, path)


def _num(v):
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            return v
    return v


def _pairs_to_dict(reply):
    items = list(reply.items()) if isinstance(reply, dict) else \
        [(reply[k], reply[k + 1]) for k in range(0, len(reply) - 1, 2)]
    out = {}
    for k, v in items:
        key = k.decode() if isinstance(k, bytes) else str(k)
        if key in _STRING_KEYS:
            out[key] = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        else:
            out[key] = _num(v)
    return out


def _mounts():
    """[(source, mountpoint, fstype)] from /proc/self/mounts."""
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                mp = parts[1].replace("\\040", " ")
                out.append((parts[0], mp, parts[2]))
    return out


def _netns_list():
    out = _run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _links():
    out = _run(["ip", "-o", "link", "show"], check=False)
    names = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            names.append(parts[1].strip().split("@")[0])
    return names


def cleanup_tag(tag):
    """Removes whatever a cluster with this tag may have left behind (a run
    that was SIGKILLed, for instance): processes in its namespaces, the
    namespaces, the bridge and veths, tmpfs and loop mounts.  Safe to call at
    any time; NsCluster.setup() calls it first."""
    prefix = "rpf-%s-n" % tag
    for ns in _netns_list():
        if ns.startswith(prefix) and ns[len(prefix):].isdigit():
            _kill_ns_pids(ns)
            _run(["ip", "netns", "del", ns], check=False)
    bridge = "rpf" + tag
    for name in _links():
        if name == bridge or (name.startswith(bridge + "v") and name[len(bridge) + 1:].isdigit()):
            _run(["ip", "link", "del", name], check=False)
    loops = {}
    out = _run(["losetup", "-l", "-n", "-O", "NAME,BACK-FILE"], check=False)
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            loops[parts[0]] = os.path.basename(parts[1].strip().replace(" (deleted)", ""))
    for src, mp, fstype in reversed(_mounts()):
        ours = src.startswith(prefix) and fstype == "tmpfs"
        if src in loops and loops[src].startswith(prefix) and loops[src].endswith(".img"):
            ours = True
        if ours:
            _run(["umount", mp], check=False)
            if any(m[1] == mp for m in _mounts()):
                _run(["umount", "-l", mp], check=False)
    for dev, back in loops.items():
        if back.startswith(prefix) and back.endswith(".img"):
            _run(["losetup", "-d", dev], check=False)


def _kill_ns_pids(ns):
    out = _run(["ip", "netns", "pids", ns], check=False)
    for tok in out.split():
        try:
            pid = int(tok)
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)
        except (ValueError, ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _run(["ip", "netns", "pids", ns], check=False).strip():
        time.sleep(0.05)


# Clusters still set up, torn down at exit or on SIGTERM/SIGHUP.
_live = weakref.WeakSet()
_handlers_installed = False


def _teardown_all():
    for c in list(_live):
        try:
            c.teardown()
        except Exception as e:  # keep going: leave as little as possible behind
            print("netns: teardown of %s failed: %s" % (c.tag, e))


def _on_signal(signum, frame):
    _teardown_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_teardown_all)
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(s) in (signal.SIG_DFL, None):
                signal.signal(s, _on_signal)
        # SIGINT raises KeyboardInterrupt: the caller's finally and atexit clean up.


# --- the cluster -----------------------------------------------------------


class NsCluster:
    """n rasputind nodes, node i in netns 'rpf-<tag>-n<i>' with IP 10.<x>.0.<i>
    on a bridge 'rpf<tag>' whose root-namespace side is 10.<x>.0.254 (clients
    run in the root namespace and reach every node directly; partitions cut
    only peer traffic between nodes, never client traffic).

    storage: "tmpfs" (default; each node's storage directory is on its own
    tmpfs of disk_mb MiB, which Disk can fill), "loop" (an ext4 image of
    disk_mb MiB in workdir, loop-mounted: real fsyncs, and Disk works too) or
    "dir" (a plain directory under workdir; Disk cannot fill it).

    The harness passes --wal-segment-bytes 1m by default (wal_segment) so that
    a full disk bites within a megabyte of log; extra_args and node_args come
    after it on the command line, and the last value of a flag wins."""

    def __init__(self, n, workdir, binary="build/release/rasputind", tag="a", lease_ms=1000, heartbeat_ms=100,
                 extra_args=(), node_args=None, subnet=None, storage="tmpfs", disk_mb=128, wal_segment="1m",
                 nfq_delay=None, verbose=False):
        if not 1 <= n <= 250:
            raise ValueError("n must be 1..250")
        if not tag or len(tag) > 8 or not tag.isalnum():
            raise ValueError("tag must be 1-8 letters or digits (interface names are short)")
        if storage not in ("tmpfs", "loop", "dir"):
            raise ValueError("storage must be tmpfs, loop or dir")
        self.n = n
        self.workdir = os.path.abspath(workdir)
        self.binary = _find_binary(binary)
        self.nfq_delay = _find_binary(nfq_delay) if nfq_delay else os.path.join(os.path.dirname(self.binary),
                                                                                   "nfq_delay")
        self.tag = tag
        self.lease_ms = lease_ms
        self.heartbeat_ms = heartbeat_ms
        self.extra_args = list(extra_args)
        self.node_args = {i: list(v) for i, v in (node_args or {}).items()}
        self.storage = storage
        self.disk_mb = disk_mb
        self.wal_segment = wal_segment
        self.verbose = verbose
        self.bridge = "rpf" + tag
        self._subnet = subnet
        self.cli_port = CLI_PORT
        self.peer_port = PEER_PORT
        self.node_ids = {i: i for i in range(1, n + 1)}
        self.incarnation = {i: 0 for i in range(1, n + 1)}
        self.procs = {}
        self.paused = set()
        self.removed = set()
        self.events = []  # (wall time, text): the nemesis timeline
        self._bootstrapped = False
        self._is_setup = False
        self._nets = []
        self._lock = threading.RLock()
        self._t0 = time.monotonic()

    # -- names and addresses --

    def ns(self, i):
        return "rpf-%s-n%d" % (self.tag, i)

    def ip(self, i):
        return "10.%d.0.%d" % (self.subnet, i)

    @property
    def subnet(self):
        if self._subnet is None:
            raise HarnessError("setup() has not chosen a subnet yet")
        return self._subnet

    @property
    def root_ip(self):
        return "10.%d.0.254" % self.subnet

    def client_addrs(self):
        return [(self.ip(i), self.cli_port) for i in range(1, self.n + 1)]

    def client_addr(self, i):
        return (self.ip(i), self.cli_port)

    def peer_addr(self, i):
        return "%s:%d" % (self.ip(i), self.peer_port)

    def mountpoint(self, i):
        return os.path.join(self.workdir, "disk%d" % i)

    def storage_dir(self, i):
        return os.path.join(self.mountpoint(i), "data")

    def log_path(self, i):
        return os.path.join(self.workdir, "n%d.log" % i)

    def event(self, text):
        t = time.time()
        self.events.append((t, text))
        if self.verbose:
            print("[%7.3f] %s" % (time.monotonic() - self._t0, text), flush=True)

    # -- setup and teardown --

    def _pick_subnet(self):
        used = _run(["ip", "-4", "route", "show"], check=False)
        start = zlib.crc32(self.tag.encode()) % 100
        for k in range(100):
            x = 100 + (start + k) % 100
            if ("10.%d.0." % x) not in used:
                return x
        raise HarnessError("no free 10.x.0.0/24 subnet (x in 100..199)")

    def setup(self):
        """Namespaces, veths, the bridge, per-node storage (mounted if
        storage is tmpfs or loop) and the empty fault chains."""
        with self._lock:
            _install_handlers()
            cleanup_tag(self.tag)
            _live.add(self)
            self._is_setup = True
            os.makedirs(self.workdir, exist_ok=True)
            if self._subnet is None:
                self._subnet = self._pick_subnet()
            elif ("10.%d.0." % self._subnet) in _run(["ip", "-4", "route", "show"], check=False):
                raise HarnessError("subnet 10.%d.0.0/24 is already routed here" % self._subnet)
            _run(["ip", "link", "add", self.bridge, "type", "bridge"])
            _run(["ip", "addr", "add", "%s/24" % self.root_ip, "dev", self.bridge])
            _run(["ip", "link", "set", self.bridge, "up"])
            for i in range(1, self.n + 1):
                self._setup_node_net(i)
                self._setup_storage(i)
            self.event("setup: %d namespaces on %s (10.%d.0.0/24), storage %s" %
                       (self.n, self.bridge, self.subnet, self.storage))
        return self

    def _setup_node_net(self, i):
        ns, veth = self.ns(i), "%sv%d" % (self.bridge, i)
        _run(["ip", "netns", "add", ns])
        _run(["ip", "link", "add", veth, "type", "veth", "peer", "name", NS_IF, "netns", ns])
        _run(["ip", "link", "set", veth, "master", self.bridge])
        _run(["ip", "link", "set", veth, "up"])
        _run(["ip", "-n", ns, "addr", "add", "%s/24" % self.ip(i), "dev", NS_IF])
        _run(["ip", "-n", ns, "link", "set", NS_IF, "up"])
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        for pos, chain in ((1, CHAIN_IN), (2, CHAIN_DELAY)):
            _run(["iptables", "-w", "-N", chain], ns=ns)
            _run(["iptables", "-w", "-I", "INPUT", str(pos), "-j", chain], ns=ns)

    def _setup_storage(self, i):
        mp = self.mountpoint(i)
        if any(m[1] == mp for m in _mounts()):
            raise HarnessError("%s is already a mount point" % mp)
        if os.path.exists(mp):
            shutil.rmtree(mp)
        os.makedirs(mp)
        src = "rpf-%s-n%d" % (self.tag, i)
        if self.storage == "tmpfs":
            _run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0755" % self.disk_mb, src, mp])
        elif self.storage == "loop":
            img = os.path.join(self.workdir, src + ".img")
            if os.path.exists(img):
                os.unlink(img)
            with open(img, "wb") as f:
                f.truncate(self.disk_mb << 20)
            _run(["mkfs.ext4", "-q", "-F", "-m", "0", img], timeout=120)
            _run(["mount", "-o", "loop", img, mp])
        os.makedirs(self.storage_dir(i))

    def teardown(self):
        """Kills every process, removes rules, namespaces, the bridge and the
        mounts.  Idempotent; also runs at exit.  Logs stay in workdir."""
        with self._lock:
            if not self._is_setup:
                return
            for net in self._nets:
                try:
                    net._stop_delayers()
                except Exception:
                    pass
            for i, p in list(self.procs.items()):
                if p.poll() is None:
                    try:
                        p.send_signal(signal.SIGCONT)
                        p.kill()
                    except ProcessLookupError:
                        pass
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            self.paused.clear()
            cleanup_tag(self.tag)
            for i in range(1, self.n + 1):
                img = os.path.join(self.workdir, "rpf-%s-n%d.img" % (self.tag, i))
                if os.path.exists(img):
                    os.unlink(img)
            self._is_setup = False
            _live.discard(self)
            self.event("teardown")

    def __enter__(self):
        return self.setup()

    def __exit__(self, *exc):
        self.teardown()
        return False

    # -- processes --

    def _stored_id(self, i):
        try:
            with open(os.path.join(self.storage_dir(i), "node.id")) as f:
                for line in f:
                    if line.startswith("node_id "):
                        return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return None

    def command_line(self, i, extra=()):
        sid = self._stored_id(i)
        if sid is not None:
            self.node_ids[i] = sid  # e.g. a node that moved a corrupt log aside took a new id
        args = [self.binary, "--node-id", str(self.node_ids[i]), "--bind", self.ip(i),
                "--cli-port", str(self.cli_port), "--peer-port", str(self.peer_port),
                "--storage-dir", self.storage_dir(i), "--logfile", self.log_path(i),
                "--lease-ms", str(self.lease_ms), "--heartbeat-ms", str(self.heartbeat_ms)]
        if self.wal_segment:
            args += ["--wal-segment-bytes", str(self.wal_segment)]
        if i == 1 and not self._bootstrapped and sid is None and self.incarnation[1] == 0:
            args.append("--init")
        else:
            seeds = [self.peer_addr(j) for j in range(1, self.n + 1) if j not in self.removed or j == i]
            args += ["--seed-peers", ",".join(seeds[:16])]
        return args + self.extra_args + self.node_args.get(i, []) + list(extra)

    def start(self, i, extra=()):
        """Starts node i in its namespace (returns at once; see wait_ready).
        Node 1 bootstraps with --init on its first start; every other start
        uses --seed-peers.  stdout and stderr go to workdir/n<i>.log too."""
        with self._lock:
            if self.alive(i):
                raise HarnessError("node %d is already running" % i)
            args = self.command_line(i, extra)
            if "--init" in args:
                self._bootstrapped = True
            log = open(self.log_path(i), "ab")
            try:
                p = subprocess.Popen(["ip", "netns", "exec", self.ns(i)] + args, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            finally:
                log.close()
            self.procs[i] = p
            self.paused.discard(i)
            self.event("start n%d (id %d, pid %d)" % (i, self.node_ids[i], p.pid))
            return p.pid

    def pid(self, i):
        p = self.procs.get(i)
        return p.pid if p is not None else None

    def alive(self, i):
        p = self.procs.get(i)
        return p is not None and p.poll() is None

    def exit_code(self, i):
        """None while node i runs (or never ran), else its exit status
        (negative: killed by that signal)."""
        p = self.procs.get(i)
        return None if p is None else p.poll()

    def kill(self, i):
        """SIGKILL and reap."""
        with self._lock:
            p = self.procs.get(i)
            if p is None:
                return None
            if p.poll() is None:
                p.kill()
            rc = p.wait(timeout=10)
            self.paused.discard(i)
            self.event("kill -9 n%d" % i)
            return rc

    def stop(self, i, timeout=20):
        """SIGTERM (a paused node is resumed first), wait, return the exit
        code; SIGKILL after timeout seconds (then returns -9)."""
        with self._lock:
            p = self.procs.get(i)
            if p is None:
                return None
            if p.poll() is None:
                if i in self.paused:
                    p.send_signal(signal.SIGCONT)
                    self.paused.discard(i)
                p.terminate()
                try:
                    p.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.event("n%d did not stop within %ss of SIGTERM: SIGKILL" % (i, timeout))
                    p.kill()
                    p.wait(timeout=10)
            self.event("stop n%d: exit %s" % (i, p.returncode))
            return p.returncode

    def restart(self, i, extra=()):
        if self.alive(i):
            self.stop(i)
        return self.start(i, extra)

    def pause(self, i):
        """SIGSTOP (every thread of the process stops, the WAL writer too)."""
        with self._lock:
            p = self.procs[i]
            p.send_signal(signal.SIGSTOP)
            self.paused.add(i)
            self.event("pause n%d (SIGSTOP)" % i)

    def resume(self, i):
        with self._lock:
            p = self.procs[i]
            p.send_signal(signal.SIGCONT)
            self.paused.discard(i)
            self.event("resume n%d (SIGCONT)" % i)

    def set_clock_rate(self, i, ppm, restart=True, unsafe=False):
        """Makes node i's clock run ppm fast (negative: slow) with
        --debug-clock-rate-ppm, restarting it (data kept).  Refuses a rate
        beyond the configured --clock-drift-ppm unless unsafe."""
        bound = int(self._flag("--clock-drift-ppm", 10000, i))
        if abs(ppm) > bound and not unsafe:
            raise ValueError("%d ppm is beyond --clock-drift-ppm %d (pass unsafe=True to break leases)" % (ppm, bound))
        args = [a for a in self.node_args.get(i, [])]
        k = 0
        while k < len(args):  # drop an earlier rate
            if args[k] == "--debug-clock-rate-ppm":
                del args[k:k + 2]
            elif args[k].startswith("--debug-clock-rate-ppm="):
                del args[k]
            else:
                k += 1
        args.append("--debug-clock-rate-ppm=%d" % ppm)
        self.node_args[i] = args
        self.event("clock n%d: %+d ppm" % (i, ppm))
        if restart and self.alive(i):
            self.restart(i)

    # -- talking to nodes --

    def client(self, i, timeout=2.0, **kw):
        """A redis-py client (root namespace) for node i's client port."""
        host, port = self.client_addr(i)
        return redis.Redis(host=host, port=port, socket_timeout=timeout, socket_connect_timeout=timeout, **kw)

    def cmd(self, i, *args, timeout=5.0):
        """One command to node i; returns the reply (raises on errors)."""
        r = self.client(i, timeout=timeout)
        try:
            return r.execute_command(*args)
        finally:
            r.close()

    def status(self, i, timeout=1.0):
        """RASPUTIN STATUS of node i as a dict (numbers as int), or None if
        it does not answer (dead, paused, unreachable, starting)."""
        if not self.alive(i) or i in self.paused:
            return None
        try:
            return _pairs_to_dict(self.cmd(i, "RASPUTIN", "STATUS", timeout=timeout))
        except (redis.RedisError, OSError):
            return None

    def statuses(self, timeout=1.0):
        return {i: self.status(i, timeout) for i in range(1, self.n + 1)}

    def leaders(self, timeout=1.0):
        """[(i, term)] of every node that says it leads."""
        out = []
        for i in range(1, self.n + 1):
            s = self.status(i, timeout)
            if s and s.get("role") == "leader":
                out.append((i, s.get("term", 0)))
        return out

    def leader(self, timeout=1.0):
        """Index of a node that says role == leader (the highest term if
        several do), or None."""
        ls = self.leaders(timeout)
        if not ls:
            return None
        return max(ls, key=lambda x: x[1])[0]

    def index_of(self, node_id):
        for i, nid in self.node_ids.items():
            if nid == node_id:
                return i
        return None

    def wait_leader(self, timeout=30, among=None, exclude=()):
        """Waits until a node in `among` (default all) other than `exclude`
        says it leads; returns its index or raises HarnessError."""
        deadline = time.monotonic() + timeout
        among = list(among) if among is not None else list(range(1, self.n + 1))
        while time.monotonic() < deadline:
            for i in among:
                if i in exclude:
                    continue
                s = self.status(i, timeout=0.5)
                if s and s.get("role") == "leader":
                    return i
            time.sleep(0.05)
        raise HarnessError("no leader among %s after %ss" % ([i for i in among if i not in exclude], timeout))

    def wait_ready(self, i, timeout=30):
        """Waits until node i answers with a role other than 'joining' and
        knows its cluster id (its join is complete and saved)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.status(i, timeout=0.5)
            if s and s.get("role") not in (None, "joining") and str(s.get("cluster_id", "0")).strip("0"):
                return s
            if not self.alive(i):
                raise HarnessError("node %d exited with %s while starting (see %s)" %
                                   (i, self.exit_code(i), self.log_path(i)))
            time.sleep(0.05)
        raise HarnessError("node %d not ready after %ss" % (i, timeout))

    def wait_voters(self, count, timeout=30):
        """Waits until the leader reports `count` voters; returns the leader."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            l = self.leader(timeout=0.5)
            if l is not None:
                last = self.status(l)
                if last and last.get("voters") == count:
                    return l
            time.sleep(0.1)
        raise HarnessError("leader does not report %d voters after %ss (last status %s)" % (count, timeout, last))

    def wait_caught_up(self, i, timeout=30, index=None):
        """Waits until node i has applied `index` (default: the leader's
        commit index when called)."""
        deadline = time.monotonic() + timeout
        if index is None:
            l = self.wait_leader(timeout=timeout)
            index = self.status(l)["commit_index"]
        s = None
        while time.monotonic() < deadline:
            s = self.status(i, timeout=0.5)
            if s and s.get("applied_index", 0) >= index:
                return s
            time.sleep(0.05)
        raise HarnessError("node %d has not applied %d after %ss (status %s)" % (i, index, timeout, s))

    def _flag(self, name, default, i=None):
        """The last value of --name in extra_args (and node i's node_args)."""
        val = default
        for args in (self.extra_args, self.node_args.get(i, []) if i else []):
            for k, a in enumerate(args):
                if a == name and k + 1 < len(args):
                    val = args[k + 1]
                elif a.startswith(name + "="):
                    val = a.split("=", 1)[1]
        return val

    def replication_factor(self):
        return int(self._flag("--replication-factor", 3))

    def start_all(self, wait_voters=3, timeout=60):
        """Starts node 1, waits for it to lead, starts the rest, waits for
        min(wait_voters, n, --replication-factor) voters and every node ready
        (joined).  Returns the leader."""
        deadline = time.monotonic() + timeout
        self.start(1)
        self.wait_leader(timeout=max(1, deadline - time.monotonic()), among=[1])
        for i in range(2, self.n + 1):
            self.start(i)
        want = min(wait_voters, self.n, self.replication_factor())
        leader = self.wait_voters(want, timeout=max(1, deadline - time.monotonic()))
        for i in range(1, self.n + 1):
            self.wait_ready(i, timeout=max(1, deadline - time.monotonic()))
        self.event("cluster up: leader n%d" % leader)
        return leader

    # -- membership --

    def members(self, via=None, timeout=2.0):
        """{node id: "voter" | "learner"} from RASPUTIN NODES of node `via`
        (default: the leader), or None if it does not answer."""
        j = via or self.leader()
        if j is None:
            return None
        try:
            rows = self.cmd(j, "RASPUTIN", "NODES", timeout=timeout)
        except (redis.RedisError, OSError):
            return None
        out = {}
        for row in rows:
            out[int(row[0])] = row[3].decode() if isinstance(row[3], bytes) else str(row[3])
        return out

    def remove(self, i, timeout=20, via=None):
        """RASPUTIN REMOVE <node id of i> through a live node other than i
        (retried on NOLEADER, a timeout or UNCERTAIN until the leader's
        NODES no longer lists it), then stops node i and wipes its storage.
        Returns the reply to the REMOVE that did it ("gone" if only NODES
        showed it)."""
        nid = self.node_ids[i]
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            cands = [via] if via else [j for j in range(1, self.n + 1)
                                       if j != i and self.alive(j) and j not in self.paused]
            for j in cands:
                reply = None
                try:
                    reply = self.cmd(j, "RASPUTIN", "REMOVE", str(nid),
                                     timeout=max(1.0, min(8.0, deadline - time.monotonic())))
                except (redis.RedisError, OSError) as e:
                    last = e
                    m = self.members(timeout=1.0)
                    if m is not None and nid not in m:
                        reply = "gone"
                if reply is not None:
                    self.event("remove n%d (id %d) via n%d: %r" % (i, nid, j, reply))
                    if self.alive(i):
                        self.stop(i)
                    self.wipe(i)
                    self.removed.add(i)
                    return reply
            time.sleep(0.2)
        raise HarnessError("RASPUTIN REMOVE %d failed for %ss: %s" % (nid, timeout, last))

    def wipe(self, i):
        """Deletes node i's storage (node stopped)."""
        if self.alive(i):
            raise HarnessError("node %d is running" % i)
        d = self.storage_dir(i)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d, exist_ok=True)
        self.event("wipe n%d storage" % i)

    def readd(self, i, extra=()):
        """Starts a removed (wiped) node afresh under a new id i*1000+k; it
        joins through --seed-peers as a learner and is promoted while the
        cluster has fewer voters than its replication factor."""
        if self.alive(i):
            raise HarnessError("node %d is running" % i)
        if self._stored_id(i) is not None:
            self.wipe(i)
        self.incarnation[i] += 1
        self.node_ids[i] = i * 1000 + self.incarnation[i]
        self.removed.discard(i)
        self.event("readd n%d as id %d" % (i, self.node_ids[i]))
        return self.start(i, extra)


# --- the network -----------------------------------------------------------


class Net:
    """Peer-traffic faults between nodes of one NsCluster, with iptables
    rules inside the node namespaces (match the peer port only).

    Every fault acts where the packets arrive.  A fault "src -> dst" is a
    rule in dst's namespace, chain RPF-IN (hooked first in INPUT), matching
    packets from src's address whose source or destination port is the peer
    port: src's packets vanish on the wire, as in a real network (a rule in
    src's OUTPUT would instead make its send()/connect() fail at once with
    EPERM).  Delay is an NFQUEUE rule in the receivers' RPF-DELAY chain
    (hooked second in INPUT, so drops come first) served by nfq_delay: held
    on the receiving side, the packets have already left the sender's TCP
    stack, so TCP small queues and autocorking on the sender do not add
    latency to the configured delay (they do when packets are held in the
    sender's OUTPUT; measured: 30 ms became ~50 ms)."""

    def __init__(self, cluster):
        self.c = cluster
        self.faults = []  # (description, node whose namespace holds the rule, rule args)
        self.delayers = {}  # i -> {"ms", "jitter_ms", "procs": [(j, Popen)]}
        cluster._nets.append(self)

    def _ipt(self, i, *args, check=True):
        return _run(["iptables", "-w"] + list(args), ns=self.c.ns(i), check=check)

    def _rule(self, i, chain, desc, match, target, log=True):
        args = [chain] + match + ["-m", "comment", "--comment", desc] + target
        self._ipt(i, "-A", *args)
        self.faults.append((desc, i, args))
        if log:
            self.c.event("net: " + desc)

    def _peer_match(self, src):
        return ["-s", self.c.ip(src), "-p", "tcp", "-m", "multiport", "--ports", str(self.c.peer_port)]

    def drop(self, src, dst):
        """Packets from src to dst are dropped (one direction: asymmetric)."""
        if src == dst:
            raise ValueError("src == dst")
        self._rule(dst, CHAIN_IN, "drop %d->%d" % (src, dst), self._peer_match(src), ["-j", "DROP"])

    def cut(self, a, b):
        """Both directions between a and b."""
        self.drop(a, b)
        self.drop(b, a)

    def partition(self, *groups):
        """Cuts every link between different groups, e.g. partition([1,2,3],
        [4,5]).  Nodes named in no group keep all their links."""
        groups = [list(g) for g in groups]
        for gi, g in enumerate(groups):
            for h in groups[gi + 1:]:
                for a in g:
                    for b in h:
                        self.cut(a, b)

    def isolate(self, i):
        """Cuts node i from every other node."""
        self.partition([i], [j for j in range(1, self.c.n + 1) if j != i])

    def bridge(self, a, b):
        """The partial partition: a and b cannot talk, every other node
        still hears both (they are the 'bridge' between them)."""
        self.cut(a, b)

    def loss(self, src, dst, p):
        """Random loss of packets from src to dst with probability p."""
        if not 0 < p <= 1:
            raise ValueError("p must be in (0, 1]")
        self._rule(dst, CHAIN_IN, "loss %d->%d p=%g" % (src, dst, p),
                   self._peer_match(src) + ["-m", "statistic", "--mode", "random", "--probability", "%.6f" % p],
                   ["-j", "DROP"])

    def delay(self, i, ms, jitter_ms=0, seed=None):
        """Every peer packet leaving node i is held ms (+/- jitter_ms,
        uniform, never reordered) before its receiver takes it: in each other
        node's namespace an nfq_delay serves NFQUEUE queue i, fed by a rule
        matching packets from i.  Calling it again replaces i's delay."""
        if not os.path.exists(self.c.nfq_delay):
            raise HarnessError("%s is missing: make build/release/nfq_delay" % self.c.nfq_delay)
        self.undelay(i)
        desc = "delay n%d %dms" % (i, ms) + (" +/-%dms" % jitter_ms if jitter_ms else "")
        entry = {"ms": ms, "jitter_ms": jitter_ms, "procs": []}
        self.delayers[i] = entry
        for j in range(1, self.c.n + 1):
            if j == i:
                continue
            entry["procs"].append((j, self._start_delayer(j, i, ms, jitter_ms,
                                                          (seed if seed is not None else i) * 1000 + j)))
            self._rule(j, CHAIN_DELAY, desc, self._peer_match(i),
                       ["-j", "NFQUEUE", "--queue-num", str(i), "--queue-bypass"], log=False)
        self.c.event("net: " + desc)

    def _start_delayer(self, j, queue, ms, jitter_ms, seed):
        ns = self.c.ns(j)
        errlog = open(os.path.join(self.c.workdir, "nfq_delay-n%d.log" % j), "ab")
        try:
            p = subprocess.Popen(["ip", "netns", "exec", ns, self.c.nfq_delay, "--queue", str(queue),
                                  "--delay-ms", str(int(ms)), "--jitter-ms", str(int(jitter_ms)),
                                  "--seed", str(seed)],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errlog,
                                 start_new_session=True)
        finally:
            errlog.close()
        ready, _, _ = select.select([p.stdout], [], [], 5)
        line = p.stdout.readline().decode(errors="replace") if ready else ""
        if not line.startswith("ready"):
            self._stop_delayer(p)
            raise HarnessError("nfq_delay for queue %d in %s did not start (see nfq_delay-n%d.log)" % (queue, ns, j))
        return p

    def undelay(self, i):
        """Removes node i's delay: the rules first, then the held packets go."""
        for f in [f for f in self.faults if f[2][0] == CHAIN_DELAY and f[0].startswith("delay n%d " % i)]:
            self._ipt(f[1], "-D", *f[2], check=False)
            self.faults.remove(f)
        d = self.delayers.pop(i, None)
        if d is not None:
            for _, p in d["procs"]:
                self._stop_delayer(p)
            self.c.event("net: undelay n%d" % i)

    def _stop_delayer(self, p):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p.stdout:
            p.stdout.close()

    def _stop_delayers(self):
        for i in list(self.delayers):
            for _, p in self.delayers.pop(i)["procs"]:
                self._stop_delayer(p)

    def heal(self):
        """Removes every fault: flushes the chains in every namespace and
        stops the delayers."""
        for i in range(1, self.c.n + 1):
            self._ipt(i, "-F", CHAIN_IN, check=False)
            self._ipt(i, "-F", CHAIN_DELAY, check=False)
        self._stop_delayers()
        had = bool(self.faults)
        self.faults = []
        if had:
            self.c.event("net: heal")

    def describe(self):
        """The faults now in force, one per line ('none' if none)."""
        seen = []
        for f in self.faults:
            if f[0] not in seen:
                seen.append(f[0])
        return "\n".join(seen) or "none"

    def counters(self):
        """{description: packets matched so far} for every fault rule now in
        force (summed over namespaces)."""
        out = {}
        for i in range(1, self.c.n + 1):
            for chain in (CHAIN_IN, CHAIN_DELAY):
                text = self._ipt(i, "-L", chain, "-v", "-n", "-x", check=False)
                for line in text.splitlines():
                    if "/*" in line and line.strip()[:1].isdigit():
                        desc = line.split("/*", 1)[1].split("*/", 1)[0].strip()
                        out[desc] = out.get(desc, 0) + int(line.split()[0])
        return out


# --- disks -----------------------------------------------------------------


class Disk:
    """Fills a node's storage filesystem (its own tmpfs or loop-mounted
    ext4) with a filler file; the node fails on its next allocation (a new
    WAL segment, a RocksDB file)."""

    def __init__(self, cluster):
        self.c = cluster
        self.full = set()

    def filler(self, i):
        return os.path.join(self.c.mountpoint(i), "filler")

    def fill(self, i):
        if self.c.storage == "dir":
            raise HarnessError("Disk needs storage='tmpfs' or 'loop'")
        path = self.filler(i)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            for chunk in (1 << 20, 1 << 16, 4096, 512, 1):
                buf = b"\0" * chunk
                while True:
                    try:
                        os.write(fd, buf)
                    except OSError as e:
                        if e.errno == errno.ENOSPC:
                            break
                        raise
            os.fsync(fd)
        finally:
            os.close(fd)
        st = os.statvfs(self.c.mountpoint(i))
        self.full.add(i)
        self.c.event("disk n%d full (%d bytes free)" % (i, st.f_bavail * st.f_frsize))

    def free(self, i):
        try:
            os.unlink(self.filler(i))
        except FileNotFoundError:
            pass
        self.full.discard(i)
        self.c.event("disk n%d freed" % i)

    def usage(self, i):
        """(bytes used, bytes total) of node i's storage filesystem."""
        st = os.statvfs(self.c.mountpoint(i))
        return ((st.f_blocks - st.f_bfree) * st.f_frsize, st.f_blocks * st.f_frsize)


# --- command line: manual poking and cleaning up ---------------------------


def _main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="netns.py", description="rasputind clusters in network namespaces")
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start a cluster and keep it up until Ctrl-C")
    up.add_argument("n", type=int, nargs="?", default=3)
    up.add_argument("--tag", default="m")
    up.add_argument("--workdir", default="/tmp/rpf-manual")
    up.add_argument("--storage", default="tmpfs")
    cl = sub.add_parser("cleanup", help="remove what clusters with these tags left behind")
    cl.add_argument("tags", nargs="*", help="default: every rpf-<tag>-n<i> namespace found")
    a = ap.parse_args(argv)
    if a.cmd == "cleanup":
        tags = set(a.tags)
        if not tags:
            for ns in _netns_list():
                if ns.startswith("rpf-") and "-n" in ns:
                    tags.add(ns[4:].rsplit("-n", 1)[0])
        for t in sorted(tags):
            cleanup_tag(t)
            print("cleaned", t)
        return 0
    c = NsCluster(a.n, a.workdir, tag=a.tag, storage=a.storage, verbose=True)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    try:
        c.setup()
        c.start_all()
        for i, (h, p) in enumerate(c.client_addrs(), 1):
            print("n%d: redis-cli -h %s -p %d   (ns %s, log %s)" % (i, h, p, c.ns(i), c.log_path(i)))
        print("Ctrl-C stops it")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        c.teardown()
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(_main(sys.argv[1:]))
