"""A deterministic, structure-aware mutation fuzzer of every route, over HTTP.

Each route starts from a few valid requests (bodies, query strings, path
segments, as the other tests and docs/api.md write them) and sends mutants
of them made by a random.Random seeded from the route's name: a field
dropped, added or renamed, a value of another type or a hostile string in
its place (inside io_cases, limits, files, tests, jobs too), a huge or an
empty array, a nested object, a duplicated key, a truncated body; a path
segment that is '.', '..', '%2F', very long or not ASCII; a query string
with repeated keys, keys without values and broken percent-escapes.

Checked for every request: the answer is a 2xx (a JSON one parses), or a
4xx whose body is JSON {detail: str, code: str}. A 5xx, another status, a
dropped connection or no answer within 60 s fails the test, which prints
the route, the seed, the mutations, the exact request target and body
(a long request is saved whole in the stack's directory, which is kept).
Checked after each route's fuzzing: every component of the stack still
runs, the API workers are the very same processes (a new pid is a worker
that crashed), and GET / still answers.

The REPL routes are fuzzed on the shared stack (anonymous, as the original
client uses it); the jobs and autograder routes, /healthz and /metrics on a
stack of this module, with an admin token and client and student tokens
made through POST /tokens. Requests that would run code are kept few: most
mutants start from a body that passes validation but is refused after it
(a session that does not exist for /run and run jobs, language 'cobol'
for /evaluate_code, an unknown assignment for /submit, an assignment
without submissions for regrade); a handful start from a body that runs.
The jobs the fuzzer made are counted and bounded, so the queue never
fills and a 429 busy (a 4xx) is the worst a full queue could give anyway.

The requests go through a raw keep-alive HTTP/1.1 connection rather than
requests: requests (urllib3) re-encodes a broken escape such as %zz to
%25zz, so the malformed query strings would never leave the client.
"""

import copy
import http.client
import json
import random
import select
import socket
import time
import urllib.parse
import zlib
from collections import Counter
from dataclasses import dataclass, field

import pytest

from grading import put_ok, submit_ok, wait_graded

KiB = 1024
LONG = "L" * (70 * KiB)
TIMEOUT_S = 60
MAX_SHOWN = 1500        # bytes of a failing body shown in the report
EXAMPLES_PER_KIND = 3

# ------------------------------------------------------------ values

STRINGS = ["", ".", "./.", "..", "/", "a/./b", "\u0000", "a\u0000b", "é", "日本語 \U0001F600",
           "%00", "\n", " ", "../x", "a//b", "x" * 300, "true", "0", "-1", "null", "\t\r",
           "\u202e", "\ufeff", "a" * 129, "evald:sess:*"]
NUMBERS = [0, -1, 1, 2 ** 63, -2 ** 63 - 1, 2 ** 64, 1e308, -1e308, 0.5, -0.0, 1e-320,
           2 ** 53 + 1, 1001]


def deep(n):
    return {"a": deep(n - 1)} if n else [1]


HUGE_ARRAY = list(range(2000))
HUGE_OBJECT = {"k%d" % i: i for i in range(1000)}
NESTED = {"a": {"b": [1, {"c": None, "d": "é"}], "e": {}}}
OTHERS = [None, True, False, [], {}, HUGE_ARRAY, HUGE_OBJECT, NESTED, [[[[]]]], deep(30),
          deep(70), [None], [""], [{}]]
POOL = STRINGS + [LONG] + NUMBERS + OTHERS

# Every field name the API knows, so that an added field is sometimes one
# that another route or kind takes.
FIELDS = ["id", "rel_path", "old_path", "new_path", "content", "encoding", "cmd", "stdin",
          "timeout", "code", "entry_point", "io_cases", "language", "limits", "time_s",
          "memory_mb", "kind", "jobs", "input", "output", "assignment", "source",
          "student_id", "role", "title", "description", "max_points", "due_at", "phase",
          "starter", "hidden_feedback", "tests", "files", "support", "slug", "name",
          "visibility", "points", "stdout", "compare", "tolerance", "file", "description.md"]
ODD_KEYS = ["", "x", "ID", "id\u0000", "é", "__proto__", " id", "a/../b", ".", "..", "/x",
            "k" * 300]

SEGMENTS = [".", "..", "%2F", "%2f", "a%2Fb", "%00", "%zz", "%", "%C3%A9", "%FF", "é", "~",
            "*", "-", "_", "a" * 64, "a" * 65, "0" * 36, "x" * 5000, "%2e%2e", "%252F",
            "a;b", "a,b", "A", "@", "+"]
QUERY_VALUES = ["0", "-1", "1", "0.5", "1e308", "-0", "nan", "inf", "0x10", "%201",
                "99999999999999999999", "300", "301", "1000", "1001", "csv", "json", "CSV",
                "base64", "utf8", "utf-8", "rot13", "%00", "%FF", "%C3%A9", "é", "+",
                "%2B", "a%2F..%2Fb", "..", ".", "%2E", "", "x" * 5000]
BAD_ESCAPES = ["%", "%z", "%4", "%zz", "%%", "%G0", "%0", "%%41", "%e9"]
JUNK_QUERIES = ["", "&", "&&&", "=", "==", "=&=", "?", "??", "%", "a=b=c", "&=x", "+&+"]

BOGUS_AUTH = ["Bearer wrong-token", "Bearer ", "Basic YWRtaW46YWRtaW4=", "bearer",
              "Bearer " + "x" * 300, "Bearer evd_" + "A" * 43, "Bearer evd_%00"]

# ----------------------------------------------------------- raw HTTP


class Http:
    """One keep-alive HTTP/1.1 connection to nginx that sends the request
    target and body byte for byte."""

    def __init__(self, port):
        self.port = port
        self.sock = None

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _connected(self):
        if self.sock is not None:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if readable:                 # closed by nginx while idle
                self.close()
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT_S)
        return self.sock

    def send(self, method, target, headers=(), body=None):
        """(status, headers, body bytes); raises OSError or HTTPException."""
        lines = [b"%s %s HTTP/1.1" % (method.encode(), target),
                 b"Host: 127.0.0.1:%d" % self.port]
        lines += [("%s: %s" % h).encode() for h in headers]
        if body is not None:
            lines += [b"Content-Type: application/json", b"Content-Length: %d" % len(body)]
        sock = self._connected()
        try:
            sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + (body or b""))
            resp = http.client.HTTPResponse(sock, method=method)
            resp.begin()
            data = resp.read()
        except BaseException:
            self.close()
            raise
        if resp.will_close:
            self.close()
        return resp.status, resp.headers, data


# -------------------------------------------------------- JSON mutation

def walk(node, path=()):
    """(path, value) of node and of everything inside it."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + (i,))


def at(root, path):
    for k in path:
        root = root[k]
    return root


def show_path(path):
    return "$" + "".join("[%d]" % k if isinstance(k, int) else "." + k[:20] for k in path)


def short(v):
    text = repr(v)
    return text if len(text) <= 50 else "%s...(%d chars)" % (text[:40], len(text))


def new_string(rng, old):
    s = rng.choice(STRINGS + [LONG])
    return rng.choice([s, old + s, s + old, old[:len(old) // 2], old + "/" + s, old.upper(),
                       old * 3, old.replace("/", "//")])


def new_value(rng, old):
    """A value to put where old was: mostly of another type."""
    r = rng.random()
    if isinstance(old, str) and r < 0.35:
        return new_string(rng, old)
    if isinstance(old, (int, float)) and not isinstance(old, bool) and r < 0.3:
        return rng.choice(NUMBERS)
    if isinstance(old, list) and r < 0.3:
        # a copy array is always over every limit (max_cases, jobs_batch_max,
        # TESTS_MAX), so it never runs a thousand cases
        return rng.choice([[], [copy.deepcopy(old[0])] * 1200 if old else [], old * 2, [old]])
    if isinstance(old, dict) and r < 0.3:
        return rng.choice([{}, [old], {"x": old}])
    return copy.deepcopy(rng.choice(POOL))


def op_replace(rng, body, nodes, log):
    path, old = rng.choice(nodes[1:])
    new = new_value(rng, old)
    at(body, path[:-1])[path[-1]] = new
    log.append("replace %s <- %s" % (show_path(path), short(new)))


def op_drop(rng, body, nodes, log):
    path, _ = rng.choice(nodes[1:])
    parent = at(body, path[:-1])
    del parent[path[-1]]
    log.append("drop %s" % show_path(path))


def op_add(rng, body, nodes, log):
    path, node = rng.choice([(p, v) for p, v in nodes if isinstance(v, (dict, list))])
    value = copy.deepcopy(rng.choice(POOL))
    if isinstance(node, dict):
        key = rng.choice(FIELDS + ODD_KEYS)
        node[key] = value
        log.append("add %s.%s <- %s" % (show_path(path), short(key), short(value)))
    else:
        if node and rng.random() < 0.5:
            value = copy.deepcopy(rng.choice(node))
        i = rng.randint(0, len(node))
        node.insert(i, value)
        log.append("insert %s[%d] <- %s" % (show_path(path), i, short(value)))


def op_rename(rng, body, nodes, log):
    dicts = [(p, v) for p, v in nodes if isinstance(v, dict) and v]
    if not dicts:
        return op_add(rng, body, nodes, log)
    path, node = rng.choice(dicts)
    old = rng.choice(list(node))
    new = rng.choice(FIELDS + ODD_KEYS + STRINGS)
    node[new] = node.pop(old)
    log.append("rename %s.%s -> %s" % (show_path(path), short(old), short(new)))


OPS = [(op_replace, 45), (op_drop, 20), (op_add, 20), (op_rename, 10)]


def mutate_json(rng, base):
    """(mutated copy of base, log of what was done)."""
    body, log = copy.deepcopy(base), []
    for _ in range(rng.choices([1, 2, 3], [60, 25, 15])[0]):
        nodes = list(walk(body))
        op = rng.choices([o for o, _ in OPS], [w for _, w in OPS])[0]
        if len(nodes) < 2:
            op = op_add
        op(rng, body, nodes, log)
    return body, log


def encode_json(rng, body, log):
    """The bytes of body; now and then with a duplicated key or broken."""
    raw = json.dumps(body, ensure_ascii=rng.random() < 0.5).encode()
    r = rng.random()
    if r < 0.05 and isinstance(body, dict) and body:
        key = rng.choice(list(body))
        dup = json.dumps({key: rng.choice(POOL[:30])})[1:-1].encode()
        raw = raw[:-1] + b", " + dup + b"}" if rng.random() < 0.5 else b"{" + dup + b", " + raw[1:]
        log.append("duplicate key %s" % short(key))
    elif r < 0.08:
        cut = rng.randrange(len(raw))
        raw = raw[:cut]
        log.append("truncate at %d" % cut)
    elif r < 0.10:
        i, junk = rng.randrange(len(raw)), rng.choice([b"\xff", b"\x00", b"{", b'"', b"\\", b","])
        raw = raw[:i] + junk + raw[i:]
        log.append("insert byte %r at %d" % (junk, i))
    return raw


# ----------------------------------------------- query and path mutation

def q(s):
    return urllib.parse.quote(s, safe="")


def query_value(rng):
    if rng.random() < 0.5:
        return rng.choice(QUERY_VALUES)
    return q(rng.choice(STRINGS + [LONG]))


def mutate_query(rng, pairs, log):
    """pairs: [key, wire value or None]; returns the mutated list."""
    pairs = [list(p) for p in pairs]
    op = rng.randrange(9)
    i = rng.randrange(len(pairs)) if pairs else None
    if op == 0 and pairs:
        log.append("query: drop %s" % pairs.pop(i)[0])
    elif op == 1 and pairs:
        pairs.insert(rng.randint(0, len(pairs)), [pairs[i][0], query_value(rng)])
        log.append("query: repeat %s" % pairs[i][0])
    elif op == 2 and pairs:
        pairs[i][1] = rng.choice([None, ""])
        log.append("query: %s without a value" % pairs[i][0])
    elif op == 3 and pairs:
        pairs[i][1] = query_value(rng)
        log.append("query: %s <- %s" % (pairs[i][0], short(pairs[i][1])))
    elif op == 4 and pairs:
        v, bad = pairs[i][1] or "", rng.choice(BAD_ESCAPES)
        cut = rng.randint(0, len(v))
        pairs[i][1] = v[:cut] + bad + v[cut:]
        log.append("query: %s <- broken escape %r" % (pairs[i][0], bad))
    elif op == 5:
        pairs.append([rng.choice(FIELDS + ["", "%zz", "é", "wait%00"]), query_value(rng)])
        log.append("query: add %s" % short(pairs[-1][0]))
    elif op == 6:
        pairs.insert(rng.randint(0, len(pairs)), ["", None])
        log.append("query: empty segment")
    elif op == 7 and pairs:
        pairs[i][0] = rng.choice([pairs[i][0].upper(), pairs[i][0] + "%00", q(pairs[i][0]),
                                  pairs[i][0] + "+", "%" + pairs[i][0]])
        log.append("query: key -> %s" % pairs[i][0])
    else:
        pairs = [[rng.choice(JUNK_QUERIES), None]]
        log.append("query: %r" % pairs[0][0])
    return pairs


def query_bytes(pairs):
    return "&".join(k if v is None else "%s=%s" % (k, v) for k, v in pairs).encode()


def mutate_segment(rng, seg, log):
    r = rng.random()
    if r < 0.4:
        new = rng.choice(SEGMENTS)
    elif r < 0.6:
        new = seg + rng.choice(["/", "/x", "%2F", "/.", "/..", "x", "%00", "?", ";x", "//",
                                "%20", "é"])
    elif r < 0.75:
        new = rng.choice([seg[:-1], seg.upper(), seg[::-1], "", seg + seg])
    elif r < 0.9 and seg:
        k = rng.randrange(len(seg))
        new = seg[:k] + rng.choice(["g", "-", "_", ".", "%", "/", " ", "é", "Z"]) + seg[k + 1:]
    else:
        new = q(rng.choice(STRINGS + [LONG]))
    log.append("path segment <- %s" % short(new))
    return new


def safe_target(raw):
    """Percent-encodes what would break the request line (controls, space)."""
    return b"".join(b"%%%02X" % c if c <= 0x20 or c == 0x7F else bytes([c]) for c in raw)


# -------------------------------------------------------------- verdict

def problem(method, status, headers, body):
    """Why this answer breaks the contract, or None."""
    ctype = headers.get("Content-Type", "")
    if 200 <= status < 300:
        if method != "HEAD" and body and ctype.startswith("application/json"):
            try:
                json.loads(body)
            except ValueError:
                return "a %d whose JSON body does not parse" % status
        return None
    if not 400 <= status < 500:
        return "status %d" % status
    if method == "HEAD":            # no body to check
        return None
    if not ctype.startswith("application/json"):
        return "a %d with Content-Type %r" % (status, ctype)
    try:
        got = json.loads(body)
    except ValueError:
        return "a %d whose body is not JSON" % status
    if not (isinstance(got, dict) and isinstance(got.get("detail"), str) and got["detail"]
            and isinstance(got.get("code"), str) and got["code"]):
        return "a %d without a string detail and code" % status
    return None


def error_code(headers, body):
    try:
        got = json.loads(body)
        return got.get("code") if isinstance(got, dict) else None
    except ValueError:
        return None


def jobs_made(route, status, body):
    """How many jobs a 2xx answer of route queued."""
    if not 200 <= status < 300:
        return 0
    try:
        got = json.loads(body)
    except ValueError:
        return 0
    if route.path == "/run":
        return 1
    if route.path == "/evaluate_code":
        return 0 if str(got.get("error") or "").startswith("UnknownLanguage") else 1
    if route.path == "/jobs":
        return len(got.get("job_ids") or [1])
    if route.path == "/submit":
        return 1
    if route.path.endswith("/regrade"):
        return int(got.get("queued", 0))
    return 0


# ------------------------------------------------------------- routes

@dataclass
class Route:
    """A route to fuzz. bases(ctx) -> [(body or query pairs, param, statuses
    the unmutated request must get)]; live, the same for requests that run
    code, of which n_live mutants are sent."""
    name: str
    method: str
    path: str
    n: int
    bases: object
    live: object = None
    n_live: int = 0
    roles: dict = field(default_factory=lambda: {"anon": 1})
    query: bool = False          # the bases are query pairs, not bodies
    reset_every: int = 0         # a fresh session every so many requests
    max_jobs: int = 0
    after: object = None         # after(ctx, status): restores what a 2xx used up


class Ctx:
    """A stack under fuzzing: its connection, tokens and fixtures' names."""

    def __init__(self, st, tokens):
        self.st, self.tokens = st, tokens
        self.http = Http(st.http_port)
        self.epoch = 0
        self.names = {}

    def sid(self, name):
        """The victim session of the REPL route name, in this epoch."""
        return "fz-%s-%d" % (name, self.epoch)


def auth_headers(ctx, role, rng):
    if role == "anon":
        return [], role
    if role == "bogus":
        return [("Authorization", rng.choice(BOGUS_AUTH))], role
    return [("Authorization", "Bearer " + ctx.tokens[role])], role


def target_of(route, param, pairs):
    path = route.path.replace("{}", param) if "{}" in route.path else route.path
    raw = path.encode()
    if pairs:
        raw += b"?" + query_bytes(pairs)
    return safe_target(raw)


@dataclass
class Outcome:
    requests: int = 0
    jobs: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)


def send(ctx, route, out, method, target, body, role_headers, what):
    headers, role = role_headers
    try:
        status, rh, data = ctx.http.send(method, target, headers, body)
    except socket.timeout:
        status, rh, data = None, {}, b"no answer within %d s" % TIMEOUT_S
    except (OSError, http.client.HTTPException) as e:
        status, rh, data = None, {}, ("connection failed: %r" % e).encode()
    out.requests += 1
    code = error_code(rh, data) if status and status >= 400 else None
    out.statuses["%s %s" % (status, code) if code else str(status)] += 1
    why = problem(method, status, rh, data) if status else data.decode()
    if why:
        if b"<center>nginx</center>" in data:
            why += ", nginx's own HTML page"
        out.failures.append((why, reproducer(ctx, route, method, target, body, headers, role,
                                             what, why, status, data)))
    return status, data


def reproducer(ctx, route, method, target, body, headers, role, what, why, status, data):
    """How to send this request again: what the report shows of it, and a
    file with all of it when it is long."""
    lines = ["%s %s as %s, seed %d, %s: %s" % (method, route.path, role,
                                               zlib.crc32(route.name.encode()), what, why),
             "  target (%d bytes): %r" % (len(target), target[:160])]
    if body is not None:
        lines.append("  body (%d bytes): %r" % (len(body), body[:MAX_SHOWN]))
    if len(target) > 160 or len(body or b"") > MAX_SHOWN:
        saved = ctx.st.dir / ("fuzz-%s-%d.http" % (
            route.name.replace("/", "_").replace(" ", "_").replace("{}", "p"),
            len(ctx.names.setdefault("saved", []))))
        ctx.names["saved"].append(saved)
        auth = [(k, "Bearer <%s token>" % role if role in ctx.tokens else v) for k, v in headers]
        head = b"\r\n".join([b"%s %s HTTP/1.1" % (method.encode(), target), b"Host: x"]
                             + [("%s: %s" % h).encode() for h in auth])
        saved.write_bytes(head + b"\r\n\r\n" + (body or b""))
        lines.append("  the whole request is in %s" % saved)
    lines.append("  answer: %s %r" % (status, data[:300]))
    return "\n".join(lines)


def failure_report(out, route):
    """The failures by kind, most frequent first, a few examples of each."""
    kinds = Counter(why for why, _ in out.failures)
    parts = ["%d of %d requests to %s broke the contract: %s" % (
        len(out.failures), out.requests, route.name,
        "; ".join("%d x %s" % (n, k) for k, n in kinds.most_common()))]
    for kind, _ in kinds.most_common():
        examples = [text for why, text in out.failures if why == kind][:EXAMPLES_PER_KIND]
        parts += examples
    return "\n\n".join(parts)


def reset(ctx, route):
    """A fresh victim session for a REPL route: two text files, a binary."""
    ctx.epoch += 1
    sid = ctx.sid(route.name)
    for rel, content, enc in (("a.txt", "a\n", None), ("dir/b.txt", "b\n", None),
                              ("dir/c.bin", "/wD/", "base64")):
        body = {"id": sid, "rel_path": rel, "content": content}
        if enc:
            body["encoding"] = enc
        status, _, data = ctx.http.send("POST", b"/write_file", [], json.dumps(body).encode())
        assert status == 200, "could not set up %s: %s" % (sid, data[:300])


def mutant(rng, route, base, param, log):
    """(method, target, body) of one mutant of base: its path segment, its
    query or body, or both, changed."""
    pairs, body = (base, None) if route.query else (None, base)
    change_param = param is not None and rng.random() < (
        0.55 if route.query else 0.8 if base is None else 0.15)
    if change_param:
        param = mutate_segment(rng, param, log)
    if not change_param or rng.random() < 0.2:
        if route.query:
            pairs = mutate_query(rng, pairs, log)
        elif base is not None:
            body, more = mutate_json(rng, base)
            log.extend(more)
        else:
            body = copy.deepcopy(rng.choice([{}, NESTED, {"id": "x"}, HUGE_OBJECT]))
            log.append("a body where none is read")
    if route.query and rng.random() < 0.05:
        body = copy.deepcopy(rng.choice(POOL[:40]))
        log.append("a body where none is read")
    raw = None if body is None else encode_json(rng, body, log)
    method = "HEAD" if route.method == "GET" and rng.random() < 0.05 else route.method
    return method, target_of(route, param if param is not None else "", pairs), raw


def all_bases(ctx, route):
    return route.bases(ctx) + (route.live(ctx) if route.live else [])


def fuzz(ctx, route):
    """Sends route's bases, then its mutants; returns an Outcome."""
    seed = zlib.crc32(route.name.encode())
    rng, out = random.Random(seed), Outcome()
    roles, weights = list(route.roles), list(route.roles.values())
    for i in range(len(all_bases(ctx, route))):
        if route.reset_every:
            reset(ctx, route)
        base, param, want = all_bases(ctx, route)[i]
        role = "admin" if "admin" in route.roles else "anon"
        body = None if route.query or base is None else json.dumps(base).encode()
        target = target_of(route, param or "", base if route.query else None)
        status, data = send(ctx, route, out, route.method, target, body,
                            auth_headers(ctx, role, rng), "base %d" % i)
        assert status in want, "base %d of %s: %s %r" % (i, route.name, status, data[:400])
        out.jobs += jobs_made(route, status, data)
        if route.after:
            route.after(ctx, status)
    live_at = set(rng.sample(range(route.n), route.n_live)) if route.n_live else set()
    for i in range(route.n):
        if route.reset_every and i % route.reset_every == 0:
            reset(ctx, route)
        pool = route.live(ctx) if i in live_at else route.bases(ctx)
        base, param, _ = rng.choice(pool)
        log = []
        method, target, body = mutant(rng, route, base, param, log)
        hdrs = auth_headers(ctx, rng.choices(roles, weights)[0], rng)
        status, data = send(ctx, route, out, method, target, body, hdrs,
                            "mutant %d (%s)" % (i, "; ".join(log) or "unchanged"))
        out.jobs += jobs_made(route, status or 0, data)
        if route.after:
            route.after(ctx, status)
    return out


def check(ctx, route, out, workers, ping, started):
    """The report line, then every assertion of the route's run."""
    label = route.name if route.method == "*" else route.method + " " + route.path
    print("\n%-32s %4d requests %5.1f s, %d jobs; %s" % (
        label, out.requests, time.monotonic() - started, out.jobs,
        ", ".join("%s: %d" % kv for kv in sorted(out.statuses.items()))))
    st = ctx.st
    assert st.alive() == [], "components died: %s\n%s" % (st.alive(), st.log_tail("api", 20))
    assert st.api_worker_pids() == workers, (
        "an API worker died while fuzzing %s:\n%s" % (route.name, st.log_tail("api", 20)))
    assert ping(), "GET / no longer answers after fuzzing %s" % route.name
    if out.failures:
        pytest.fail(failure_report(out, route), pytrace=False)
    assert out.jobs <= route.max_jobs, (
        "the fuzzer itself queued %d jobs through %s (budget %d): make fewer mutants live"
        % (out.jobs, route.name, route.max_jobs))


def run_route(ctx, route, ping):
    workers, started = ctx.st.api_worker_pids(), time.monotonic()
    try:
        out = fuzz(ctx, route)
    finally:
        ctx.http.close()
    check(ctx, route, out, workers, ping, started)


# --------------------------------------------------- the REPL routes

NO_SESSION = "fz-no-such-session"
CODE = "def f(x):\n    return x\n"
CASES = [{"input": "1", "output": "1"}, {"input": "x=[1, 2]", "output": "[1, 2]"}]
OK = (200,)


def repl_routes():
    def S(ctx, name):
        return ctx.sid(name)

    write = lambda c: [
        ({"id": S(c, "write_file"), "rel_path": "new.txt", "content": "x"}, None, OK),
        ({"id": S(c, "write_file"), "rel_path": "dir/n.bin", "content": "AAEC/w==",
          "encoding": "base64"}, None, OK),
        ({"id": S(c, "write_file"), "rel_path": "./dir/./u.txt", "content": "é\n",
          "encoding": "utf-8"}, None, OK)]
    read = lambda c: [
        ([["id", S(c, "read_file")], ["rel_path", "a.txt"]], None, OK),
        ([["id", S(c, "read_file")], ["rel_path", "dir%2Fb.txt"], ["encoding", "utf-8"]],
         None, OK),
        ([["id", S(c, "read_file")], ["rel_path", "dir/c.bin"], ["encoding", "base64"]],
         None, OK)]
    delete = lambda c: [
        ({"id": S(c, "delete_file"), "rel_path": "a.txt"}, None, OK),
        ({"id": S(c, "delete_file"), "rel_path": "dir"}, None, OK)]
    rename = lambda c: [
        ({"id": S(c, "rename_file"), "old_path": "a.txt", "new_path": "c.txt"}, None, OK),
        ({"id": S(c, "rename_file"), "old_path": "dir", "new_path": "moved/dir"}, None, OK)]
    fork = lambda c: [({"id": S(c, "fork_session")}, None, OK)]
    run_dry = lambda c: [({"id": NO_SESSION, "cmd": "echo hi", "stdin": "in", "timeout": 5},
                          None, (400,))]
    run_live = lambda c: [({"id": S(c, "run"), "cmd": "true", "timeout": 5}, None, OK)]
    eval_dry = lambda c: [({"id": S(c, "evaluate_code"), "code": CODE, "entry_point": "f",
                            "io_cases": copy.deepcopy(CASES), "language": "cobol",
                            "limits": {"time_s": 1, "memory_mb": 64}}, None, OK)]
    eval_live = lambda c: [({"id": S(c, "evaluate_code"), "code": CODE, "entry_point": "f",
                             "io_cases": copy.deepcopy(CASES), "limits": {"time_s": 2}},
                            None, OK)]
    roles = {"anon": 90, "admin": 6, "bogus": 4}
    return [
        Route("write_file", "POST", "/write_file", 300, write, roles=roles, reset_every=50),
        Route("read_file", "GET", "/read_file", 250, read, roles=roles, query=True,
              reset_every=50),
        Route("delete_file", "POST", "/delete_file", 180, delete, roles=roles,
              reset_every=10),
        Route("rename_file", "POST", "/rename_file", 180, rename, roles=roles,
              reset_every=10),
        Route("fork_session", "POST", "/fork_session", 100, fork, roles=roles,
              reset_every=50),
        Route("run", "POST", "/run", 200, run_dry, run_live, 20, roles=roles,
              reset_every=50, max_jobs=40),
        Route("evaluate_code", "POST", "/evaluate_code", 200, eval_dry, eval_live, 12,
              roles=roles, reset_every=50, max_jobs=40),
    ]


REPL_ROUTES = repl_routes()


@pytest.fixture(scope="module")
def main_ctx(stack):
    return Ctx(stack, {"admin": stack.admin_token})


@pytest.mark.parametrize("route", REPL_ROUTES, ids=lambda r: r.name)
def test_fuzz_repl_route(main_ctx, api, route):
    run_route(main_ctx, route, api.ping)


# ------------------------------------- jobs, autograder, health, metrics

OVERRIDES = {
    "submission_max_bytes": 64 * KiB,
    "assignment_max_bytes": 256 * KiB,
    "max_body_bytes": 4 * 1024 * KiB,
    "case_timeout_s": 2,
}
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
DOUBLE_OK = "def double(x):\n    return 2 * x\n"


def io_test(name, inp, out, visibility="public"):
    return {"kind": "io", "name": name, "entry_point": "double", "input": inp, "output": out,
            "points": 1, "visibility": visibility}


IO_DEF = {"title": "Fuzz: double", "language": "python", "max_points": 2,
          "hidden_feedback": "summary", "limits": {"time_s": 2},
          "tests": [io_test("double 2", "2", "4"), io_test("double 5", "5", "10", "hidden")]}
RICH_DEF = {
    "slug": "fz-put",
    "title": "Fuzz: every field", "description": "# Fuzz\n", "language": "python",
    "max_points": 6, "due_at": "2030-01-01T00:00:00Z", "phase": 1, "starter": "starter.py",
    "hidden_feedback": "full", "limits": {"time_s": 2, "memory_mb": 128},
    "support": ["data/input.txt"],
    "tests": [
        io_test("io one", "2", "4"),
        {"kind": "stdio", "name": "stdio one", "stdin": "1 2\n", "stdout": "3\n",
         "compare": "float", "tolerance": 1e-9, "points": 2, "visibility": "hidden"},
        {"kind": "pytest", "file": "tests/test_pub.py", "visibility": "public", "points": 1},
        {"kind": "pytest", "name": "hidden py", "file": "tests/hidden/test_h.py"},
    ],
    "files": {
        "starter.py": "def double(x):\n    return x\n",
        "tests/test_pub.py": "from submission import double\n\n\ndef test_d():\n"
                             "    assert double(2) == 4\n",
        "tests/hidden/test_h.py": "import pytest\nfrom submission import double\n\n\n"
                                  "@pytest.mark.points(2)\ndef test_h():\n"
                                  "    assert double(0) == 0\n",
        "data/input.txt": "1 2\n",
        "description.md": "# described\n",
    },
}


@pytest.fixture(scope="module")
def fz(stack_factory, make_api):
    """The module's stack, its tokens, and what the bases name: a session,
    a finished job, assignments, a graded submission."""
    st = stack_factory.start("fuzz", executors=1, api_workers=4, overrides=OVERRIDES)
    assert st.admin_token, "evalctl made no admin token: %s" % st.admin_token_error
    admin = make_api(st, st.admin_token)
    tokens = {"admin": st.admin_token}
    for role, student in (("client", None), ("alice", "alice"), ("bob", "bob")):
        body = {"role": "student" if student else role, "student_id": student}
        r = admin.post("/tokens", body)
        assert r.status_code == 201, r.text
        tokens[role] = r.json()["token"]
    ctx = Ctx(st, tokens)
    make_api(st).write("fz-sess", "a.txt", "a")
    r = admin.post("/jobs", {"kind": "run", "id": "fz-sess", "cmd": "echo hi"})
    assert r.status_code == 202, r.text
    job = r.json()["job_id"]
    r = admin.get("/jobs/" + job, params={"wait": 30})
    assert r.json().get("status") == "done", r.text
    for slug in ("fz-io", "fz-empty", "fz-regrade", "fz-del"):
        put_ok(admin, slug, IO_DEF)
    rich = dict(RICH_DEF, slug="fz-rich")
    put_ok(admin, "fz-rich", rich)
    sub = submit_ok(admin, "fz-io", DOUBLE_OK, "alice")
    regrade_sub = submit_ok(admin, "fz-regrade", DOUBLE_OK, "bob")
    wait_graded(admin, [sub, regrade_sub])
    ctx.names.update(job=job, sub=sub, admin=admin)
    yield ctx, make_api(st)
    stack_factory.stop(st)


def restore_deleted(ctx, status):
    if status == 204:
        put_ok(ctx.names["admin"], "fz-del", IO_DEF)


def grading_routes():
    run_job = {"kind": "run", "id": NO_SESSION, "cmd": "echo hi", "stdin": "", "timeout": 5}
    eval_job = {"kind": "evaluate", "id": "fz-sess", "code": CODE, "entry_point": "f",
                "io_cases": CASES, "limits": {"time_s": 1, "memory_mb": 64}}
    jobs_dry = lambda c: [
        (run_job, None, (400,)),
        (dict(eval_job, language="cobol"), None, (422,)),
        ({"jobs": [run_job, eval_job, run_job]}, None, (400,))]
    jobs_live = lambda c: [
        (dict(run_job, id="fz-sess", cmd="true"), None, (202,)),
        ({"jobs": [eval_job, dict(run_job, id="fz-sess", cmd="true")]}, None, (202,))]
    job_get = lambda c: [
        ([], c.names["job"], OK), ([["wait", "0"]], c.names["job"], OK),
        ([["wait", "0.5"]], c.names["job"], OK), ([["wait", "1"]], UNKNOWN_ID, (404,))]
    put = lambda c: [(RICH_DEF, "fz-put", (200, 201)),
                     (IO_DEF, "fz-put", (200, 201))]
    submit_dry = lambda c: [({"assignment": "fz-nope", "source": DOUBLE_OK,
                              "language": "python", "student_id": "alice"}, None, (404,))]
    submit_live = lambda c: [({"assignment": "fz-io", "source": DOUBLE_OK,
                               "student_id": "alice"}, None, (202,))]
    tokens = lambda c: [({"role": "student", "student_id": "fz-student"}, None, (201,)),
                        ({"role": "client"}, None, (201,)),
                        ({"role": "admin", "student_id": "ignored"}, None, (201,))]
    anyone = {"admin": 40, "client": 25, "alice": 20, "bob": 5, "anon": 5, "bogus": 5}
    admin = {"admin": 88, "client": 4, "alice": 3, "anon": 2, "bogus": 3}
    trusted = {"admin": 50, "client": 40, "alice": 4, "anon": 3, "bogus": 3}
    return [
        Route("jobs", "POST", "/jobs", 250, jobs_dry, jobs_live, 6, roles=trusted,
              max_jobs=30),
        Route("jobs/{}", "GET", "/jobs/{}", 180, job_get, roles=trusted, query=True),
        Route("assignments", "GET", "/assignments", 40, lambda c: [([], None, OK)],
              roles=anyone, query=True),
        Route("assignments/{}", "GET", "/assignments/{}", 150,
              lambda c: [([], "fz-io", OK), ([], "fz-rich", OK)], roles=anyone, query=True),
        Route("assignments/{} PUT", "PUT", "/assignments/{}", 350, put, roles=admin),
        Route("assignments/{} DELETE", "DELETE", "/assignments/{}", 100,
              lambda c: [(None, "fz-del", (204,))], roles=admin, after=restore_deleted),
        Route("assignments/{}/regrade", "POST", "/assignments/{}/regrade", 80,
              lambda c: [(None, "fz-empty", (202,))],
              lambda c: [(None, "fz-regrade", (202,))], 3, roles=admin, max_jobs=10),
        Route("submit", "POST", "/submit", 200, submit_dry, submit_live, 4, roles=anyone,
              max_jobs=10),
        Route("results/{}", "GET", "/results/{}", 120,
              lambda c: [([], c.names["sub"], OK)], roles=anyone, query=True),
        Route("submissions", "GET", "/submissions", 150, lambda c: [
            ([["assignment", "fz-io"], ["student_id", "alice"], ["limit", "10"]], None, OK),
            ([["limit", "1000"]], None, OK), ([], None, OK)],
              roles={"admin": 60, "alice": 25, "client": 5, "anon": 5, "bogus": 5},
              query=True),
        Route("gradebook", "GET", "/gradebook", 80, lambda c: [
            ([["format", "csv"]], None, OK), ([["format", "json"]], None, OK),
            ([], None, OK)], roles=admin, query=True),
        Route("tokens", "POST", "/tokens", 120, tokens, roles=admin),
        Route("healthz", "GET", "/healthz", 40, lambda c: [([], None, OK)], roles=anyone,
              query=True),
        Route("metrics", "GET", "/metrics", 40, lambda c: [([], None, OK)], roles=admin,
              query=True),
        Route("root", "GET", "/", 30, lambda c: [([], None, OK)], roles=anyone, query=True),
    ]


GRADING_ROUTES = grading_routes()


@pytest.mark.parametrize("route", GRADING_ROUTES, ids=lambda r: r.name)
def test_fuzz_grading_route(fz, route):
    ctx, anon = fz
    run_route(ctx, route, anon.ping)


# ------------------------------------------------ methods and unknown paths

# One body for every route that a wrong method or a mangled path may reach:
# every handler refuses it before doing anything (no session, no file, no
# such assignment, no such role, an unknown field in an assignment).
DRY_ANY = {"id": NO_SESSION, "kind": "run", "cmd": "true", "rel_path": "a.txt",
           "old_path": "a.txt", "assignment": "fz-nope", "source": "x", "student_id": "alice",
           "role": "nobody"}
TABLE = ["/", "/write_file", "/read_file", "/delete_file", "/rename_file", "/fork_session",
         "/run", "/evaluate_code", "/jobs", "/jobs/" + UNKNOWN_ID, "/assignments",
         "/assignments/fz-nope", "/assignments/fz-nope/regrade", "/submit",
         "/results/" + UNKNOWN_ID, "/submissions", "/gradebook", "/tokens", "/healthz",
         "/metrics", "/nope", "/static/nope"]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO",
           "get", "PROPFIND", "CONNECT"]


def mangle(rng, path):
    return rng.choice([path, path, path + "/", "/" + path, path.upper(), path + "/x",
                       path.replace("/", "//"), path + "%2F", path + "/.", path + "/..",
                       path + "?", path + "?" + rng.choice(JUNK_QUERIES), path + "%00",
                       path + ";", path[:-1] or "/", "/x/.." + path, "/.." + path])


def methods_fuzz(ctx, n, name):
    route = Route(name, "*", "*", n, None)
    rng, out = random.Random(zlib.crc32(name.encode())), Outcome()
    for i in range(n):
        method, path = rng.choice(METHODS), mangle(rng, rng.choice(TABLE))
        body = None
        if method not in ("GET", "HEAD") or rng.random() < 0.1:
            body = json.dumps(DRY_ANY).encode() if rng.random() < 0.8 else rng.choice(
                [b"", b"{", b"[]", b"\xff"])
        role = rng.choices(["admin", "anon", "bogus"], [70, 25, 5])[0]
        send(ctx, route, out, method, safe_target(path.encode()), body,
             auth_headers(ctx, role, rng), "request %d" % i)
    return route, out


@pytest.mark.parametrize("where", ["main", "grading"])
def test_fuzz_methods_and_paths(main_ctx, api, fz, where):
    """Every method on every route's path, and mangled paths (trailing and
    doubled slashes, dot segments, escapes): 2xx or a 4xx {detail, code}."""
    ctx, ping = (main_ctx, api.ping) if where == "main" else (fz[0], fz[1].ping)
    workers, started = ctx.st.api_worker_pids(), time.monotonic()
    try:
        route, out = methods_fuzz(ctx, 150, "methods-" + where)
    finally:
        ctx.http.close()
    check(ctx, route, out, workers, ping, started)


# What nginx refuses while it reads the request line (a malformed line, a
# path it cannot decode or that climbs above /, a line over its 16 KiB
# buffers): the fuzzer's smallest cases of each, which docs/api.md answers
# with 400 bad_request and 414 too_large in the usual JSON shape.
REQUEST_LINES = [
    (b"GET /jobs/%zz", 400), (b"GET /results/%", 400), (b"GET /assignments/%00", 400),
    (b"get /", 400), (b"GET /../healthz", 400), (b"GET /healthz?x=" + b"a" * 17000, 414),
]


@pytest.mark.parametrize("line,status", REQUEST_LINES, ids=lambda v: repr(v)[:24])
def test_nginx_refusals_answer_json(fz, line, status):
    ctx = fz[0]
    method, target = line.split(b" ", 1)
    try:
        got, headers, body = ctx.http.send(method.decode(), target)
    finally:
        ctx.http.close()
    assert got == status and problem(method.decode(), got, headers, body) is None, (
        "%r -> %d %s %r" % (line[:60], got, headers.get("Content-Type"), body[:200]))
