#!/usr/bin/python3
"""Start and stop a private evald stack: redis-server, evald-api, executors, nginx.

Used by the integration tests (as a module) and by scripts/dev (as a command):

    /usr/bin/python3 tests/lib/stack.py up --dir .dev --port 8080 [--executors 2]
    /usr/bin/python3 tests/lib/stack.py down --dir .dev

Everything lives in one directory: the generated configuration (evald.conf,
redis.conf, nginx.conf, evald-site.conf), one log per component (NAME.log), the
Redis append-only file, nginx's temporary files and, for the command, `pids`
(what `down` stops) and `env` (EVALD_URL=, EVALD_ADMIN_TOKEN=).

Each component runs in a process group of its own; stopping sends SIGTERM to
the group leader, waits, then SIGKILLs whatever is left of that group and
nothing else. Only the standard library is used, so the command works before
python3-requests is installed.
"""

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A variable every component is started with; /run must never show it
# (the sandbox gets a clean environment).
CANARY_NAME = "EVALD_TEST_CANARY"
CANARY_VALUE = "canary-6b1f0c2e"

SITE_TEMPLATE = ROOT / "nginx" / "evald.conf"
MAIN_TEMPLATE = ROOT / "nginx" / "nginx-local.conf.in"

# Values in nginx/evald.conf that the private instance replaces. Each must
# appear in the site file exactly as written here.
SITE_LISTEN = "listen 8080;"
SITE_SOCKET = "unix:/run/evald/api.sock"
SITE_STATIC = "/usr/share/evald/www"

FALLBACK_MIME_TYPES = """\
types {
    text/html html htm;
    text/css css;
    application/javascript js;
    application/json json;
    image/png png;
    image/svg+xml svg;
    text/plain txt;
}
"""


class StackError(Exception):
    """A component failed to start; the message carries its log's tail."""


class RedisError(Exception):
    """Redis answered with an error reply."""


class Redis:
    """A minimal RESP client: enough for PING and for tests that look at keys."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.addr = (host, port)
        self.timeout = timeout
        self.sock = None
        self.buf = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buf = b""

    def __call__(self, *args):
        """Sends one command; returns bytes, int, list or None. One retry on a
        broken connection (Redis may have been restarted by a fault test)."""
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    self.sock = socket.create_connection(self.addr, self.timeout)
                self.sock.sendall(self._encode(args))
                return self._reply()
            except (OSError, EOFError):
                self.close()
                if attempt:
                    raise
        return None

    @staticmethod
    def _encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(max(65536, n + 2 - len(self.buf)))
            if not chunk:
                raise EOFError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise EOFError("unexpected redis reply %r" % line[:40])


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def proc_stat(pid):
    """(state, pgrp, starttime) of a process, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: cut after the last ')'.
    fields = data[data.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[2]), int(fields[19])


def proc_alive(pid, starttime=None):
    st = proc_stat(pid)
    if st is None or st[0] == "Z":
        return False
    return starttime is None or st[2] == starttime


def group_members(pgid, min_start):
    """Processes of group pgid started no earlier than its leader was."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st and st[1] == pgid and st[2] >= min_start and st[0] != "Z":
            out.append(int(name))
    return out


def descendants(pid):
    """[(pid, starttime)] of every live descendant of pid."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(b")") + 2:].split()
        if fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append((int(name), int(fields[19])))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child[0])
    return out


def stop_group(pid, starttime, grace=10.0, popen=None):
    """Stops the process group led by pid (started at starttime): SIGTERM to
    the leader, up to grace seconds to exit, then SIGKILL to the leader, to
    every member of its group started after it, and to every descendant it
    had when this began (a sandbox in a session of its own, say). Returns the
    leader's exit status when it is our child (popen given), else None."""

    def reap():
        if popen is not None:
            popen.poll()

    reap()
    tree = descendants(pid) if proc_alive(pid, starttime) else []
    if proc_alive(pid, starttime):
        try:
            os.kill(pid, signal.SIGTERM)
            os.kill(pid, signal.SIGCONT)    # in case a test stopped it
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            reap()
            if not proc_alive(pid, starttime):
                break
            time.sleep(0.05)
        if proc_alive(pid, starttime):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for _ in range(100):
        members = group_members(pid, starttime)
        if not members:
            break
        for m in members:
            try:
                os.kill(m, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    for child, start in tree:
        if proc_alive(child, start):
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if popen is not None:
        try:
            return popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None
    deadline = time.monotonic() + 5
    while proc_alive(pid, starttime) and time.monotonic() < deadline:
        time.sleep(0.05)
    return None


def tail(path, lines=30):
    try:
        with open(path, "rb") as f:
            data = f.read()[-65536:]
    except OSError:
        return "(no log at %s)" % path
    text = data.decode("utf-8", "replace").splitlines()[-lines:]
    return "\n".join(text) if text else "(empty log %s)" % path


def find_binary(name, fallbacks=()):
    found = shutil.which(name)
    if found:
        return found
    for f in fallbacks:
        if os.access(f, os.X_OK):
            return f
    raise StackError("%s not found (scripts/dev deps installs it)" % name)


class Proc:
    """One started component."""

    def __init__(self, name, popen, log):
        self.name = name
        self.popen = popen
        self.pid = popen.pid
        self.log = log
        st = proc_stat(popen.pid)
        self.starttime = st[2] if st else 0

    def alive(self):
        self.popen.poll()
        return self.popen.returncode is None

    def stop(self, grace=10.0):
        return stop_group(self.pid, self.starttime, grace, self.popen)


class Stack:
    """A full evald stack on loopback, in directory `dir`.

    overrides: evald.conf keys that replace the defaults below (tests use
    small limits). http_port: nginx's port (a free one when None).
    static_root: what nginx serves /static/ from (as <static_root>/static/),
    <repo>/www by default.
    """

    def __init__(self, dir, http_port=None, executors=2, api_workers=16,
                 overrides=None, redis_port=None, root=None, log_level=None,
                 static_root=None):
        self.dir = Path(dir).resolve()
        self.root = Path(root).resolve() if root else ROOT
        self.static_root = Path(static_root) if static_root else self.root / "www"
        self.http_port = http_port
        self.redis_port = redis_port
        self.n_executors = executors
        self.api_workers = api_workers
        # nginx's kept FastCGI connections per worker process: see _write_nginx
        self.upstream_keepalive = (api_workers - 8) // 4 if api_workers >= 24 else 0
        self.overrides = dict(overrides or {})
        self.log_level = log_level or os.environ.get("EVALD_LOG_LEVEL", "info")
        self.admin_token = None
        self.admin_token_error = None
        self.procs = {}          # name -> Proc, in start order
        self.executors = []      # Proc or None, by index
        self._redis = None
        self.api_socket = None
        self.conf_path = self.dir / "evald.conf"
        self._sock_dir = None

    # ---------------------------------------------------------------- paths
    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.http_port

    @property
    def bindir(self):
        return Path(os.environ.get("EVALD_BINDIR", self.root / "src"))

    def binary(self, name):
        path = self.bindir / name
        if not os.access(path, os.X_OK):
            raise StackError("%s is missing: build first (scripts/dev build)" % path)
        return str(path)

    def log_path(self, name):
        return self.dir / ("%s.log" % name)

    def log_tail(self, name, lines=30):
        return tail(self.log_path(name), lines)

    # --------------------------------------------------------------- config
    def config(self):
        """The evald.conf settings for this stack, defaults then overrides."""
        conf = {
            "redis_host": "127.0.0.1",
            "redis_port": self.redis_port,
            "listen": self.api_socket,
            "listen_mode": "0666",
            "api_workers": self.api_workers,
            "log_file": "",
            "log_level": self.log_level,
            "pid_file": "",
            "anonymous": "repl",
            "anonymous_loopback_only": "yes",
            "session_ttl_s": 86400,
            "session_max_bytes": 67108864,
            "session_max_files": 10000,
            "max_body_bytes": 16777216,
            "executor_slots": 2,
            "harness_dir": str(self.root / "src" / "executor" / "harness"),
            "python": "/usr/bin/python3",
            "case_timeout_s": 5,
            "run_timeout_default_s": 30,
            "run_timeout_max_s": 300,
            "output_max_bytes": 1048576,
        }
        conf.update(self.overrides)
        # EVALD_STACK_OVERRIDES="key=value;key=value" adjusts every stack
        # started from this environment (e.g. log_level=debug).
        for item in os.environ.get("EVALD_STACK_OVERRIDES", "").split(";"):
            if "=" in item:
                k, v = item.split("=", 1)
                conf[k.strip()] = v.strip()
        return conf

    def _write_configs(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        # Traversable by unprivileged ids (nginx workers when not root, the
        # sandbox) whatever umask or mkdtemp chose.
        os.chmod(self.dir, 0o755)
        (self.dir / "tmp").mkdir(exist_ok=True)

        sock = self.dir / "api.sock"
        if len(str(sock)) > 100:     # sun_path holds 108 bytes
            self._sock_dir = tempfile.mkdtemp(prefix="evald-")
            os.chmod(self._sock_dir, 0o755)
            sock = Path(self._sock_dir) / "api.sock"
        self.api_socket = str(sock)

        lines = ["# written by tests/lib/stack.py; regenerated at every start"]
        for k, v in self.config().items():
            if isinstance(v, bool):
                v = "yes" if v else "no"
            lines.append("%s = %s" % (k, v))
        self.conf_path.write_text("\n".join(lines) + "\n")

        (self.dir / "redis.conf").write_text(
            "# written by tests/lib/stack.py\n"
            "port %d\n"
            "bind 127.0.0.1\n"
            "protected-mode yes\n"
            "daemonize no\n"
            "dir %s\n"
            "appendonly yes\n"
            "appendfilename evald.aof\n"
            "save \"\"\n"
            "logfile \"\"\n" % (self.redis_port, self.dir))

        self._write_nginx()

    def _write_nginx(self):
        site = SITE_TEMPLATE.read_text()
        static_root = self.static_root
        for old, new in ((SITE_LISTEN, "listen 127.0.0.1:%d;" % self.http_port),
                         (SITE_SOCKET, "unix:%s" % self.api_socket),
                         (SITE_STATIC, str(static_root))):
            if site.count(old) != 1:
                raise StackError("%s must contain %r exactly once (found %d)"
                                 % (SITE_TEMPLATE, old, site.count(old)))
            site = site.replace(old, new)
        # Kept FastCGI connections pin API workers. nginx/evald.conf's rule,
        #     api_workers >= 2 x worker_processes (2) x keepalive + 8,
        # sizes the kept connections to the pool: a stack with few workers
        # goes without (rather than stall), a larger one keeps as many as
        # the rule allows (64 workers: 14).
        lines = ("    keepalive 4;\n", "    keepalive_timeout 10s;\n",
                 "        fastcgi_keep_conn on;\n")
        for line in lines:
            if site.count(line) != 1:
                raise StackError("%s must contain %r exactly once" % (SITE_TEMPLATE, line))
        if self.upstream_keepalive == 0:
            for line in lines:
                site = site.replace(line, "")
        else:
            site = site.replace(lines[0], "    keepalive %d;\n" % self.upstream_keepalive)
        (self.dir / "evald-site.conf").write_text(
            "# generated from nginx/evald.conf by tests/lib/stack.py\n" + site)

        main = MAIN_TEMPLATE.read_text()
        for key, val in (("@PREFIX@", str(self.dir)),
                         ("@SITE@", str(self.dir / "evald-site.conf"))):
            main = main.replace(key, val)
        if "@" in "".join(l.split("#", 1)[0] for l in main.splitlines()):
            raise StackError("%s has an unknown @PLACEHOLDER@" % MAIN_TEMPLATE)
        (self.dir / "nginx.conf").write_text(main)

        src = Path("/etc/nginx/mime.types")
        (self.dir / "mime.types").write_text(src.read_text() if src.exists()
                                             else FALLBACK_MIME_TYPES)
        for sub in ("body", "fastcgi", "proxy", "scgi", "uwsgi"):
            (self.dir / "tmp" / sub).mkdir(parents=True, exist_ok=True)

    # -------------------------------------------------------------- process
    def _env(self):
        env = dict(os.environ)
        env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        if "/usr/sbin" not in env["PATH"].split(":"):
            env["PATH"] += ":/usr/sbin:/sbin"
        env[CANARY_NAME] = CANARY_VALUE
        return env

    def _spawn(self, name, argv, wrap=None):
        """wrap: "api" or "executor" to run argv under $EVALD_WRAPPER_API or
        $EVALD_WRAPPER_EXECUTOR if set, else under $EVALD_WRAPPER if set
        (for example valgrind for the API alone: the executor's seccomp
        system calls are beyond valgrind)."""
        if wrap:
            wrapper = (os.environ.get("EVALD_WRAPPER_" + wrap.upper())
                       or os.environ.get("EVALD_WRAPPER"))
            if wrapper:
                argv = shlex.split(wrapper) + argv
        log = open(self.log_path(name), "ab")
        log.write(("\n==== %s: %s\n" % (time.strftime("%F %T"), " ".join(argv))).encode())
        log.flush()
        try:
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=str(self.dir),
                                     env=self._env(), start_new_session=True)
        finally:
            log.close()
        proc = Proc(name, popen, self.log_path(name))
        self.procs[name] = proc
        return proc

    def _fail(self, name, why):
        raise StackError("%s %s; last lines of %s:\n%s"
                         % (name, why, self.log_path(name), self.log_tail(name)))

    def _wait(self, proc, ready, what, timeout=15.0):
        """Polls ready() until true; fails when proc exits or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if not proc.alive():
                self._fail(proc.name, "exited with status %s before %s"
                           % (proc.popen.returncode, what))
            try:
                if ready():
                    return
            except (OSError, RedisError, EOFError):
                pass
            if time.monotonic() > deadline:
                self._fail(proc.name, "not ready after %.0f s (%s)" % (timeout, what))
            time.sleep(0.05)

    def redis(self, *args):
        """Runs one Redis command on this stack's Redis."""
        if self._redis is None:
            self._redis = Redis(self.redis_port)
        return self._redis(*args)

    def http(self, method, path, body=None, token=None, timeout=5.0):
        """(status, headers, body bytes) of one request to nginx."""
        req = urllib.request.Request(self.url + path, data=body, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def evalctl(self, *args, timeout=30):
        """Runs evalctl against this stack's configuration."""
        argv = [self.binary("evalctl"), "-c", str(self.conf_path)] + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=self._env(), cwd=str(self.dir))

    def start(self):
        """Starts every component and waits until each is ready. On failure
        stops what it started and raises StackError with the log's tail."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        if self.redis_port is None:
            self.redis_port = free_port()
        if self.http_port is None:
            self.http_port = free_port()
        elif not port_is_free(self.http_port):
            raise StackError("port %d on 127.0.0.1 is in use" % self.http_port)
        self._write_configs()
        self.binary("evald-api")
        self.binary("evald-executor")

        self.start_redis()
        self._make_admin_token()

        self.start_api()

        self.executors = [None] * self.n_executors
        for i in range(self.n_executors):
            self.start_executor(i)

        nginx = self._spawn("nginx", [find_binary("nginx", ["/usr/sbin/nginx"]),
                                      "-p", str(self.dir) + "/",
                                      "-c", str(self.dir / "nginx.conf"),
                                      "-e", str(self.dir / "nginx-error.log")])
        self._wait(nginx, self._ping_ready, "answering GET / on %s" % self.url)

        if self.n_executors:
            self._wait_executors()
        return self

    def _make_admin_token(self):
        try:
            r = self.evalctl("token", "add", "--role", "admin")
        except (StackError, OSError, subprocess.TimeoutExpired) as e:
            self.admin_token_error = "evalctl failed: %s" % e
            return
        lines = [l.strip() for l in r.stdout.splitlines() if l.strip()]
        if r.returncode != 0 or not lines:
            self.admin_token_error = ("evalctl token add exited %d: %s"
                                      % (r.returncode, (r.stderr or r.stdout).strip()[-500:]))
            return
        self.admin_token = lines[-1]

    def _api_socket_ready(self):
        if ":" in self.api_socket and not self.api_socket.startswith("/"):
            host, port = self.api_socket.rsplit(":", 1)
            socket.create_connection((host, int(port)), 1).close()
            return True
        if not os.path.exists(self.api_socket):
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect(self.api_socket)
        return True

    def _ping_ready(self):
        status, _, body = self.http("GET", "/", token=self.admin_token, timeout=2)
        # 401 still means the API answered (a stack with anonymous = none).
        return (status == 200 and body.strip() == b"ping") or status == 401

    def _wait_executors(self, timeout=15.0):
        """Waits until /healthz reports an executor; when /healthz is not
        there (404) falls back to a short wait with the processes alive."""
        deadline = time.monotonic() + timeout
        fallback = False
        while time.monotonic() < deadline:
            for i, p in enumerate(self.executors):
                if p is not None and not p.alive():
                    self._fail(p.name, "exited with status %s" % p.popen.returncode)
            try:
                status, _, body = self.http("GET", "/healthz", token=self.admin_token, timeout=2)
            except OSError:
                status, body = 0, b""
            if status == 200:
                try:
                    if int(json.loads(body).get("executors", 0)) >= 1:
                        return
                except (ValueError, AttributeError, TypeError):
                    fallback = True
            elif status in (404, 401, 403):
                fallback = True
            if fallback:
                break
            time.sleep(0.1)
        time.sleep(1.0)
        for p in self.executors:
            if p is not None and not p.alive():
                self._fail(p.name, "exited with status %s" % p.popen.returncode)

    # ------------------------------------------------------------ executors
    def start_executor(self, i):
        argv = [self.binary("evald-executor"), "-c", str(self.conf_path)]
        p = self._spawn("executor%d" % i, argv, wrap="executor")
        self.executors[i] = p
        return p

    def kill_executor(self, i, sig=signal.SIGKILL):
        """Sends sig to executor i's whole process group and, for SIGKILL and
        SIGTERM, waits for it to go (start_executor(i) brings it back)."""
        p = self.executors[i]
        if p is None:
            return
        self.signal_executor(i, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            p.stop(grace=10.0)
            self.executors[i] = None
            self.procs.pop(p.name, None)

    def signal_executor(self, i, sig):
        """Sends sig (SIGSTOP, SIGCONT, ...) to executor i's process group."""
        p = self.executors[i]
        if p is not None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass

    # ------------------------------------------------------------------ api
    def start_api(self):
        """Starts evald-api and waits until its socket accepts connections."""
        try:
            os.unlink(self.api_socket)
        except FileNotFoundError:
            pass
        p = self._spawn("api", [self.binary("evald-api"), "-c", str(self.conf_path)], wrap="api")
        self._wait(p, self._api_socket_ready, "listening on %s" % self.api_socket)
        return p

    def stop_api(self, sig=signal.SIGTERM):
        """Stops evald-api: SIGTERM (graceful) or SIGKILL to its group."""
        p = self.procs.pop("api", None)
        if p is None:
            return None
        if sig == signal.SIGKILL:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return p.stop()

    # ---------------------------------------------------------------- redis
    def stop_redis(self):
        """Stops redis-server (SIGTERM: the AOF is synced)."""
        p = self.procs.pop("redis", None)
        if self._redis is not None:
            self._redis.close()
        if p is not None:
            p.stop()

    def start_redis(self):
        """Starts redis-server again on the same port and data directory."""
        p = self._spawn("redis", [find_binary("redis-server", ["/usr/bin/redis-server"]),
                                  str(self.dir / "redis.conf")])
        self._wait(p, lambda: self.redis("PING") == b"PONG", "answering PING")
        return p

    def executor_alive(self, i):
        p = self.executors[i]
        return p is not None and p.alive()

    # ------------------------------------------------------------ api pool
    @property
    def api_pid(self):
        p = self.procs.get("api")
        return p.pid if p else None

    def api_worker_pids(self):
        """The pids of evald-api's direct children (its workers)."""
        pid = self.api_pid
        out = []
        if pid is None:
            return out
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            fields = data[data.rindex(b")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != b"Z":
                out.append(int(name))
        return sorted(out)

    def alive(self):
        """Names of components that are not running any more."""
        return [n for n, p in self.procs.items() if not p.alive()]

    # ----------------------------------------------------------------- stop
    def stop(self):
        """Stops everything this object started, newest first, and waits."""
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        for name in reversed(list(self.procs)):
            self.procs[name].stop()
        self.procs.clear()
        self.executors = [None] * self.n_executors
        if self._sock_dir:
            shutil.rmtree(self._sock_dir, ignore_errors=True)
            self._sock_dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------- detached (command)
    def write_state(self):
        with open(self.dir / "pids", "w") as f:
            for p in self.procs.values():
                f.write("%s %d %d\n" % (p.name, p.pid, p.starttime))
        with open(self.dir / "env", "w") as f:
            f.write("EVALD_URL=%s\n" % self.url)
            f.write("EVALD_ADMIN_TOKEN=%s\n" % (self.admin_token or ""))
            f.write("EVALD_CONF=%s\n" % self.conf_path)
            f.write("EVALD_REDIS_PORT=%d\n" % self.redis_port)


def read_pids(dir):
    """[(name, pid, starttime)] recorded by `up`, in start order."""
    path = Path(dir) / "pids"
    out = []
    try:
        text = path.read_text()
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


def cmd_up(args):
    dir = Path(args.dir).resolve()
    running = [(n, p) for n, p, s in read_pids(dir) if proc_alive(p, s)]
    if running:
        print("stack in %s is already running (%s); run `down` first"
              % (dir, ", ".join("%s %d" % r for r in running)), file=sys.stderr)
        return 1
    st = Stack(dir, http_port=args.port, executors=args.executors,
               api_workers=args.workers)
    try:
        st.start()
    except StackError as e:
        print("stack.py up: %s" % e, file=sys.stderr)
        return 1
    st.write_state()
    if st.admin_token is None:
        print("stack.py up: warning: no admin token: %s" % st.admin_token_error,
              file=sys.stderr)
    print("evald is up on %s (logs and state in %s)" % (st.url, dir))
    # Leave the processes running: they are in sessions of their own.
    return 0


def cmd_down(args):
    dir = Path(args.dir).resolve()
    entries = read_pids(dir)
    if not entries:
        print("no stack recorded in %s" % dir)
        return 0
    for name, pid, start in reversed(entries):
        if proc_alive(pid, start) or group_members(pid, start):
            stop_group(pid, start)
            print("stopped %s (pid %d)" % (name, pid))
    (dir / "pids").unlink()
    return 0


def cmd_status(args):
    entries = read_pids(Path(args.dir).resolve())
    if not entries:
        print("no stack recorded in %s" % Path(args.dir).resolve())
        return 1
    down = 0
    for name, pid, start in entries:
        ok = proc_alive(pid, start)
        down += not ok
        print("%-10s %7d %s" % (name, pid, "running" if ok else "gone"))
    return 1 if down else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start a stack in the background")
    up.add_argument("--dir", default=".dev")
    up.add_argument("--port", type=int, default=8080)
    up.add_argument("--executors", type=int, default=2)
    up.add_argument("--workers", type=int, default=32)
    down = sub.add_parser("down", help="stop the processes `up` started")
    down.add_argument("--dir", default=".dev")
    status = sub.add_parser("status", help="show whether they are running")
    status.add_argument("--dir", default=".dev")
    args = ap.parse_args(argv)
    return {"up": cmd_up, "down": cmd_down, "status": cmd_status}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
