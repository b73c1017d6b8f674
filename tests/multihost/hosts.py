"""Hosts made of network namespaces, and an evald cluster spread over them.

    switch ns: bridge br0 ──┬── redis   10.231.0.2   redis-server (requirepass, AOF, db 2)
                            ├── api     10.231.0.3   evald-api + nginx on :8080
                            ├── ex1     10.231.0.11  evald-executor
                            ├── ex2     10.231.0.12  evald-executor
                            ├── ex3     10.231.0.13  evald-executor
                            └── cli     10.231.0.20  the test's HTTP clients

Every namespace is named `evm-<random>-<role>`; each host gets one end of a
veth pair (eth0), whose other end is a port of the bridge inside the switch
namespace. Nothing is created in the caller's own namespace: no address, no
route, no link. The hosts have no default route, so nothing reaches the
outside world. `Net.cleanup()` (always called by the fixture) ends the
processes started in those namespaces and deletes the namespaces, which takes
their links with them.

Processes are started with `ip netns exec NS ...`. The test process itself
talks to them from threads moved into a namespace with setns(2) (a thread's
network namespace is its own): HTTP from the client host, Redis commands from
the Redis host.
"""

import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
import stack as stacklib  # noqa: E402

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

SUBNET = "10.231.0"
ADDRS = {"redis": 2, "api": 3, "ex1": 11, "ex2": 12, "ex3": 13, "cli": 20}
HTTP_PORT = 8080
REDIS_PORT = 6379
REDIS_DB = 2


class NetError(Exception):
    """The namespaces could not be built."""


def _ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise NetError("ip %s: exit %d: %s" % (" ".join(args), r.returncode,
                                               (r.stderr or r.stdout).strip()))
    return r


def _setns(path):
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (path, os.strerror(e)))
    finally:
        os.close(fd)


@contextmanager
def in_netns(name):
    """Runs the block with the calling thread in network namespace name;
    sockets made inside stay in it."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns("/run/netns/" + name)
        yield
    finally:
        try:
            if _libc.setns(own, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
        finally:
            os.close(own)


def run_in(name, fn, *args, timeout=600):
    """fn(*args) in a new thread that lives in namespace name; its result."""
    out = {}

    def body():
        try:
            _setns("/run/netns/" + name)
            out["r"] = fn(*args)
        except BaseException as e:      # re-raised in the caller
            out["e"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise TimeoutError("%s did not finish within %d s" % (fn, timeout))
    if "e" in out:
        raise out["e"]
    return out.get("r")


class Net:
    """The namespaces and the bridge that joins them."""

    def __init__(self):
        self.tag = "evm-" + secrets.token_hex(3)
        self.switch = self.tag + "-sw"
        self.created = []

    def ns(self, role):
        return "%s-%s" % (self.tag, role)

    @staticmethod
    def addr(role):
        return "%s.%d" % (SUBNET, ADDRS[role])

    def setup(self):
        if os.geteuid() != 0:
            raise NetError("network namespaces need root (running as uid %d)" % os.geteuid())
        _ip("netns", "add", self.switch)
        self.created.append(self.switch)
        _ip("-n", self.switch, "link", "set", "lo", "up")
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        for role in ADDRS:
            ns = self.ns(role)
            _ip("netns", "add", ns)
            self.created.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            port = "p-" + role
            # Both ends are made inside the switch namespace, then one moves
            # to the host: the caller's namespace never holds either.
            _ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "name",
                "eth0", "netns", ns)
            _ip("-n", self.switch, "link", "set", port, "master", "br0")
            _ip("-n", self.switch, "link", "set", port, "up")
            _ip("-n", ns, "addr", "add", self.addr(role) + "/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
        # Each host reaches each other over the bridge.
        for role in ADDRS:
            if role == "redis":
                continue
            r = _ip("-n", self.ns(role), "route", "get", self.addr("redis"))
            if "eth0" not in r.stdout:
                raise NetError("%s has no route to the Redis host: %s" % (role, r.stdout))
        return self

    def pids(self, ns):
        r = _ip("netns", "pids", ns, check=False)
        return [int(x) for x in r.stdout.split() if x.isdigit()]

    def cleanup(self):
        """Kills what still runs in our namespaces (all started by this test)
        and deletes them. Returns a list of what could not be undone."""
        left = []
        for ns in self.created:
            for pid in self.pids(ns):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(self.pids(ns) for ns in self.created):
            time.sleep(0.1)
        for ns in reversed(self.created):
            r = _ip("netns", "del", ns, check=False)
            if r.returncode != 0:
                left.append("ip netns del %s: %s" % (ns, r.stderr.strip()))
        self.created = []
        return left


def cgroup_remount_script():
    """Shell commands that mount again, under the fresh /sys that
    `ip netns exec` gives a command, the cgroup hierarchies this machine
    has under /sys/fs/cgroup (the same hierarchies: same controllers), so
    an executor on a namespace host confines its jobs with cgroups as it
    would on a real host. Failures are ignored: the executor then says that
    rlimits stand in."""
    cmds = []
    with open("/proc/self/mounts") as f:
        mounts = [l.split() for l in f]
    for dev, where, fstype, opts, *_ in mounts:
        if where == "/sys/fs/cgroup" and fstype in ("tmpfs", "cgroup2"):
            cmds.append("mount -t %s -o %s %s /sys/fs/cgroup" % (fstype, opts, fstype))
    for dev, where, fstype, opts, *_ in mounts:
        if where.startswith("/sys/fs/cgroup/") and fstype in ("cgroup", "cgroup2"):
            cmds.append("mkdir -p %s && mount -t %s -o %s %s %s" % (where, fstype, opts,
                                                                      fstype, where))
    return "; ".join(c + " 2>/dev/null" for c in cmds) or "true"


class NsRedis(stacklib.Redis):
    """stacklib.Redis that connects from inside a namespace, authenticates
    and selects the database."""

    def __init__(self, ns, host, port, password, db, timeout=10.0):
        super().__init__(port, host=host, timeout=timeout)
        self.ns = ns
        self.password = password
        self.db = db

    def __call__(self, *args):
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    with in_netns(self.ns):
                        self.sock = socket.create_connection(self.addr, self.timeout)
                    self.sock.sendall(self._encode(("AUTH", self.password)))
                    self._reply()
                    self.sock.sendall(self._encode(("SELECT", self.db)))
                    self._reply()
                self.sock.sendall(self._encode(args))
                return self._reply()
            except (OSError, EOFError):
                self.close()
                if attempt:
                    raise
        return None


class Cluster:
    """evald spread over Net's hosts. Configuration files, logs and Redis's
    AOF live under dir."""

    def __init__(self, net, dir, executor_slots=1, api_workers=16, overrides=None):
        self.net = net
        self.dir = Path(dir)
        self.password = secrets.token_hex(16)
        self.slots = executor_slots
        self.api_workers = api_workers
        self.overrides = dict(overrides or {})
        self.procs = {}                 # name -> stacklib.Proc
        self.executors = {}             # host role -> Proc or None
        self.token = None
        self.redis = NsRedis(net.ns("redis"), net.addr("redis"), REDIS_PORT, self.password,
                             REDIS_DB)

    @property
    def url(self):
        return "http://%s:%d" % (self.net.addr("api"), HTTP_PORT)

    # ------------------------------------------------------------ configs
    def _conf(self):
        conf = {
            "redis_host": self.net.addr("redis"),
            "redis_port": REDIS_PORT,
            "redis_password": self.password,
            "redis_db": REDIS_DB,
            "redis_timeout_ms": 3000,
            "anonymous": "none",
            "lease_ms": 1500,
            "executor_slots": self.slots,
            "queue_max_depth": 100000,
            "jobs_batch_max": 1000,
            "run_timeout_default_s": 10,
            "log_level": "info",
        }
        conf.update(self.overrides)
        return conf

    def write_configs(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        (self.dir / "redis").mkdir(exist_ok=True)
        (self.dir / "redis" / "redis.conf").write_text(
            "port %d\nbind %s\nprotected-mode yes\ndaemonize no\ndir %s\n"
            "requirepass %s\nappendonly yes\nappendfilename evald.aof\nsave \"\"\n"
            "logfile \"\"\n" % (REDIS_PORT, self.net.addr("redis"), self.dir / "redis",
                                self.password))
        # evald-api and nginx: the test stack's generated files, with the
        # listen address of the API host.
        api = stacklib.Stack(self.dir / "api", http_port=HTTP_PORT, redis_port=REDIS_PORT,
                             api_workers=self.api_workers, executors=0,
                             overrides=self._conf())
        api._write_configs()
        site = api.dir / "evald-site.conf"
        text = site.read_text()
        old = "listen 127.0.0.1:%d;" % HTTP_PORT
        if text.count(old) != 1:
            raise NetError("unexpected nginx site file %s" % site)
        site.write_text(text.replace(old, "listen %s:%d;" % (self.net.addr("api"), HTTP_PORT)))
        self.api_stack = api
        # One configuration per executor host: its own sandbox uid range
        # (they share this machine's uids).
        for k, role in enumerate(("ex1", "ex2", "ex3")):
            d = self.dir / role
            d.mkdir(exist_ok=True)
            os.chmod(d, 0o755)
            conf = api.config()
            conf.update(self._conf())
            conf["sandbox_uid_base"] = 300000 + 10000 * k
            conf.pop("listen", None)
            conf.pop("listen_mode", None)
            lines = ["%s = %s" % (key, v) for key, v in conf.items()]
            (d / "evald.conf").write_text("\n".join(lines) + "\n")

    # ------------------------------------------------------------ process
    def _spawn(self, name, role, argv, cwd):
        log = open(self.dir / ("%s.log" % name), "ab")
        log.write(("\n==== %s: ip netns exec %s %s\n"
                   % (time.strftime("%F %T"), self.net.ns(role), " ".join(argv))).encode())
        log.flush()
        env = dict(os.environ)
        env["PATH"] = env.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        try:
            popen = subprocess.Popen(["ip", "netns", "exec", self.net.ns(role)] + argv,
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=str(cwd), env=env,
                                     start_new_session=True)
        finally:
            log.close()
        p = stacklib.Proc(name, popen, self.dir / ("%s.log" % name))
        self.procs[name] = p
        return p

    def _wait(self, p, ready, what, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            if not p.alive():
                raise NetError("%s exited (%s) before %s:\n%s" % (
                    p.name, p.popen.returncode, what, stacklib.tail(p.log)))
            try:
                if ready():
                    return
            except (OSError, EOFError, stacklib.RedisError):
                pass
            if time.monotonic() > deadline:
                raise NetError("%s: not %s after %d s:\n%s" % (p.name, what, timeout,
                                                               stacklib.tail(p.log)))
            time.sleep(0.1)

    def start(self):
        self.write_configs()
        bindir = self.api_stack.bindir
        p = self._spawn("redis", "redis", [stacklib.find_binary("redis-server",
                                                                ["/usr/bin/redis-server"]),
                                           str(self.dir / "redis" / "redis.conf")],
                        self.dir / "redis")
        self._wait(p, lambda: self.redis("PING") == b"PONG", "answering PING from its host")
        r = subprocess.run(["ip", "netns", "exec", self.net.ns("api"), str(bindir / "evalctl"),
                            "-c", str(self.api_stack.conf_path), "token", "add", "--role",
                            "admin"], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise NetError("evalctl token add on the API host failed: %s" % r.stderr)
        self.token = r.stdout.split()[-1]
        p = self._spawn("api", "api", [str(bindir / "evald-api"), "-c",
                                       str(self.api_stack.conf_path)], self.api_stack.dir)
        self._wait(p, self.api_stack._api_socket_ready, "listening")
        d = self.api_stack.dir
        p = self._spawn("nginx", "api", [stacklib.find_binary("nginx", ["/usr/sbin/nginx"]),
                                         "-p", str(d) + "/", "-c", str(d / "nginx.conf"),
                                         "-e", str(d / "nginx-error.log")], d)
        self._wait(p, lambda: run_in(self.net.ns("cli"), self._ping, timeout=10),
                   "answering GET / from the client host")
        return self

    def _ping(self):
        import requests
        r = requests.get(self.url + "/", headers=self.auth(), timeout=5)
        return r.status_code == 200 and r.text.strip() == "ping"

    def auth(self):
        return {"Authorization": "Bearer " + self.token}

    def start_executor(self, role, wait=True):
        bindir = self.api_stack.bindir
        wrapper = self.dir / "with-cgroups.sh"
        if not wrapper.exists():
            # `exec` keeps the pid: the Popen pid is the executor's.
            wrapper.write_text("#!/bin/sh\n# the host's cgroup mounts, again under ip netns "
                               "exec's fresh /sys\n%s\nexec \"$@\"\n"
                               % cgroup_remount_script().replace("; ", "\n"))
        p = self._spawn("executor-" + role, role,
                        ["/bin/sh", str(wrapper), str(bindir / "evald-executor"), "-c",
                         str(self.dir / role / "evald.conf")], self.dir / role)
        self.executors[role] = p
        if wait:
            self._wait(p, lambda: self.executor_id(role) is not None, "registered in Redis")
        return p

    def executor_id(self, role):
        """The executor id the process on host role registered, or None."""
        p = self.executors.get(role)
        if p is None:
            return None
        now = int(time.time() * 1000)
        for e in self.redis("ZRANGEBYSCORE", "evald:alive", now, "+inf") or []:
            try:
                if int(e.decode().rsplit("-", 2)[1]) == p.pid:
                    return e.decode()
            except (IndexError, ValueError):
                continue
        return None

    def stop_executor(self, role, sig=signal.SIGTERM, grace=30):
        """SIGTERM (drain: to the main process only) or SIGKILL (the whole
        group), then waits for it to be gone."""
        p = self.executors.get(role)
        if p is None:
            return None
        if sig == signal.SIGKILL:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            rc = p.stop(grace=5)
        else:
            os.kill(p.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while p.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            rc = p.stop(grace=1) if p.alive() else p.popen.returncode
        self.executors[role] = None
        self.procs.pop(p.name, None)
        return rc

    def live_executors(self):
        now = int(time.time() * 1000)
        return self.redis("ZCOUNT", "evald:alive", now, "+inf") or 0

    def stop(self):
        for name in reversed(list(self.procs)):
            try:
                self.procs[name].stop(grace=10)
            except Exception:
                pass
        self.procs.clear()
        self.executors.clear()
        self.redis.close()
