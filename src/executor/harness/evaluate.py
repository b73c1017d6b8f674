"""evald's /evaluate_code harness: runs inside the sandbox, stdlib only.

Run as `/usr/bin/python3 -I -S /run/evald/evaluate.py` with the session's work
directory as cwd (a .pyc of this file, made by the same interpreter, runs the
same way and skips compiling it: about 5-10 ms per request).

Protocol
  stdin  one JSON object {"code": str, "entry_point": str, "io_cases": [...],
         "case_timeout_s": number (default 5), "case_memory_mb": int (default:
         no limit of its own)}; io_cases elements are passed through as the
         client sent them, whatever their shape.
  fd 3   exactly one JSON document (UTF-8)
         {"passed": bool, "error": str|null, "case_results": [{"case": i,
         "input": ..., "passed": bool, "got": ..., "expected": ...,
         "error": str|null}, ...]}
         and then exit status 0, also for a malformed request (error
         "internal: ..."). When fd 3 is not open (run by hand) the document
         goes to stdout instead. stdout and stderr carry only what the code
         printed.

Processes
  master  parses the request, literal-evaluates every case's output,
          compiles (never runs) the code, judges plain results and writes the
          answer. It holds every expected value, so it makes itself
          non-dumpable before it forks, and no process that runs the code
          descends from a copy of it that has seen the request.
  runner  forked by the master before the request is read, so its memory
          holds no case data. For each case the master sends it that case's
          input (from the second case on, while the case before runs),
          and its output only when that is an expression to evaluate in
          the code's globals; the runner forks a case process, holds the
          per-case wall limit, SIGKILLs the case's process group and relays
          its report. The next case process is forked while the last one
          exits, and runs nothing of the code until the runner has reaped
          it. A case whose module did not run is the last one the runner
          runs. Buffers that held one case's data are zeroed before the
          next case process is forked.
  case    a fork of the runner: closes every harness descriptor but its own
          result pipe, stdin reads /dev/null, RLIMIT_CPU = ceil(limit) + 1 s,
          RLIMIT_AS = case_memory_mb (hard limit 32 MiB above, which the
          harness takes back to report a MemoryError), then executes the
          module in a fresh module `solution` (file name "solution.py", the
          work directory appended to sys.path), evaluates entry_point in its
          globals, calls it once and reports. A result made only of exact
          builtin types travels as a type-preserving encoding and the master
          compares the fresh builtin objects it decodes with the literal, so a
          value of a type the code defined never judges its own equality
          against a plain literal; anything else never equals one.

Semantics of io_cases are those of API.md ("io_cases, precisely").
"""

import builtins as _builtins

# The harness's own copy of the builtins: a case process keeps reporting
# correctly after the code replaces builtins.len or builtins.type.
globals().update({k: v for k, v in vars(_builtins).items() if not k.startswith("_")})

import marshal
import os
import sys
import select
import _ast
import _json

_GLOBALS = globals()

FILENAME = "solution.py"          # how the code's frames appear in tracebacks
MODULE_NAME = "solution"          # the code's __name__ and sys.modules key
DEFAULT_TIMEOUT_S = 5.0
MAX_FRAME = 64 << 20              # largest result a case process may report
MAX_DOC = 60 << 20                # the executor reads at most 64 MiB from fd 3
MAX_ERROR_CHARS = 64 << 10
MAX_REPR_CHARS = 1 << 20
MAX_DEPTH = 201                   # deeper than any literal (the parser stops at 200)
AS_MARGIN = 32 << 20              # address space the harness takes back after a MemoryError
RUNNER_SLACK_S = 30.0             # how long the master waits beyond the case limit
PARSE_IN_JUDGE_MAX = 64 << 10     # longer inputs are parsed by the case process

EXIT_SEND_FAILED = 120            # case process: its result pipe was gone
EXIT_NO_MEMORY = 121              # case process: out of memory while reporting
EXIT_INTERNAL = 122               # case process: the harness itself failed

_SIGNAMES = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP",
             6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1",
             11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM",
             15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ", 31: "SIGSYS"}
_SIGKILL = 9
_SIGXCPU = 24

# Filled in the runner (_resource) and the case process.
_SOURCE = None
_resource = None
_as_limit = None


# ------------------------------------------------------------------- JSON
# The json package costs as much to import as the interpreter takes to start;
# its C accelerator is all the harness needs.

class _JSONContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"),
                      "NaN": float("nan")}.__getitem__
    memo = None


_scan_once = _json.make_scanner(_JSONContext())
_JSON_WS = " \t\n\r"


def _loads(s):
    """json.loads for a str; raises ValueError on anything that is not JSON."""
    if s.startswith("\ufeff"):
        raise ValueError("JSON text starts with a byte order mark")
    i = len(s) - len(s.lstrip(_JSON_WS))
    try:
        obj, end = _scan_once(s, i)
    except StopIteration:
        raise ValueError("not JSON") from None
    if s[end:].strip(_JSON_WS):
        raise ValueError("extra data after the JSON value")
    return obj


def _not_serializable(o):
    raise TypeError("not JSON serializable: " + type(o).__name__)


def _dumps(obj, ascii_only=True):
    """json.dumps(obj, ensure_ascii=ascii_only, separators=(",", ":"))."""
    enc = _json.make_encoder(
        None, _not_serializable,
        _json.encode_basestring_ascii if ascii_only else _json.encode_basestring,
        None, ":", ",", False, False, True)
    return "".join(enc(obj, 0))


# ---------------------------------------------------------- literal_eval
# ast.literal_eval of Python 3.11, on the _ast nodes (the ast module is slow to
# import). Only whether it succeeds and what it returns matter to the harness.

_LITERAL_NAMES = {"True": True, "False": False, "None": None}


def _literal_eval(s):
    if not isinstance(s, str):
        raise ValueError("malformed node or string: %r" % (s,))
    # The forms most inputs and outputs take, without the parser (about 25
    # us each, and the judge parses every one before the first case can
    # start): a short decimal int, True, False, None, a plain quoted
    # string. Each gives exactly what the parser would.
    if len(s) < 64 and s.isascii():
        if len(s) < 16:
            d = s[1:] if s[:1] == "-" else s
            if d.isdigit() and (d[0] != "0" or d.count("0") == len(d)):
                return int(s)
            if s in _LITERAL_NAMES:
                return _LITERAL_NAMES[s]
        q = s[:1]
        if (len(s) >= 2 and (q == "'" or q == '"') and s[-1] == q and s.isprintable()
                and "'" not in s[1:-1] and '"' not in s[1:-1] and "\\" not in s):
            return s[1:-1]
    node = compile(s.lstrip(" \t"), "<unknown>", "eval", _ast.PyCF_ONLY_AST,
                   dont_inherit=True).body

    def malformed(node):
        raise ValueError("malformed node or string: %r" % (node,))

    def convert_num(node):
        if not isinstance(node, _ast.Constant) or type(node.value) not in (int, float, complex):
            malformed(node)
        return node.value

    def convert_signed_num(node):
        if isinstance(node, _ast.UnaryOp) and isinstance(node.op, (_ast.UAdd, _ast.USub)):
            operand = convert_num(node.operand)
            if isinstance(node.op, _ast.UAdd):
                return + operand
            return - operand
        return convert_num(node)

    def convert(node):
        if isinstance(node, _ast.Constant):
            return node.value
        elif isinstance(node, _ast.Tuple):
            return tuple(map(convert, node.elts))
        elif isinstance(node, _ast.List):
            return list(map(convert, node.elts))
        elif isinstance(node, _ast.Set):
            return set(map(convert, node.elts))
        elif (isinstance(node, _ast.Call) and isinstance(node.func, _ast.Name) and
              node.func.id == 'set' and node.args == node.keywords == []):
            return set()
        elif isinstance(node, _ast.Dict):
            if len(node.keys) != len(node.values):
                malformed(node)
            return dict(zip(map(convert, node.keys), map(convert, node.values)))
        elif isinstance(node, _ast.BinOp) and isinstance(node.op, (_ast.Add, _ast.Sub)):
            left = convert_signed_num(node.left)
            right = convert_num(node.right)
            if isinstance(left, (int, float)) and isinstance(right, complex):
                if isinstance(node.op, _ast.Add):
                    return left + right
                return left - right
        return convert_signed_num(node)

    return convert(node)


# ------------------------------------------------------------ input parsing
# The pairs re.finditer(r'(\w+)\s*=\s*(.+?)(?=,\s*\w+\s*=|$)', s) yields,
# computed without the re module (also slow to import). \w is str.isalnum()
# or "_", \s is str.isspace(), "." is anything but "\n", "$" is the end or
# just before a final "\n" -- exactly _sre's definitions for str patterns.

def _isword(c):
    return c == "_" or c.isalnum()


def _pair_comma(s, f):
    r"""The comma that (?=,\s*\w+\s*=) would pair with the "=" at f, or -1.

    Between such a comma and its "=" there are only spaces and word
    characters, so every "=" has at most one and they come in order."""
    k = f
    while k > 0 and s[k - 1].isspace():
        k -= 1
    w = k
    while w > 0 and _isword(s[w - 1]):
        w -= 1
    if w == k:
        return -1
    c = w
    while c > 0 and s[c - 1].isspace():
        c -= 1
    c -= 1
    return c if c >= 0 and s[c] == "," else -1


def _value_end(s, lo, limit):
    """The least j in [lo, limit] where the lookahead holds, or None. limit
    is the first newline at or after lo, or the end: "." stops there."""
    n = len(s)
    f = s.find("=", lo)
    while f >= 0:
        c = _pair_comma(s, f)
        if c >= limit:
            break
        if c >= lo:
            return c
        if f >= limit:
            break
        f = s.find("=", f + 1)
    if limit == n or limit == n - 1:    # $: the end, or before a final newline
        return limit
    return None


def _match_value(s, e):
    r"""\s*(.+?)(?=...) after the "=" at e: (start, end) of the value, or None."""
    n = len(s)
    t = e + 1
    while t < n and s[t].isspace():
        t += 1
    # \s* is greedy: the longest run of spaces first, then give some back.
    for v in range(t, e, -1):
        if v >= n or s[v] == "\n":
            continue
        nl = s.find("\n", v)
        end = _value_end(s, v + 1, n if nl < 0 else nl)
        if end is not None:
            return v, end
    return None


def _keyword_pairs(s):
    """What re.finditer(PATTERN, s) yields, as (name, value) pairs.

    A match needs a word run, spaces and an "=": each "=" (left to right)
    can only be reached from the word run just before it, which begins no
    earlier than where the scan stands."""
    pairs = []
    pos = 0
    e = s.find("=")
    while e >= 0:
        r = e
        while r > pos and s[r - 1].isspace():
            r -= 1
        q = r
        while q > pos and _isword(s[q - 1]):
            q -= 1
        if q < r:
            m = _match_value(s, e)
            if m is not None:
                pairs.append((s[q:r], s[m[0]:m[1]]))
                pos = m[1]
                e = s.find("=", pos)
                continue
        e = s.find("=", e + 1)
    return pairs


def _parse_input(raw):
    """("kw", {name: value}) | ("pos", value) | ("none", None), as the original."""
    if not isinstance(raw, str):
        # what re.finditer says about a non-string
        raise TypeError("expected string or bytes-like object, got '%s'" % type(raw).__name__)
    kwargs = {}
    for name, value in _keyword_pairs(raw):
        try:
            kwargs[name] = _literal_eval(value)
        except Exception:
            pass
    if kwargs:
        return "kw", kwargs
    try:
        return "pos", _literal_eval(raw)
    except Exception:
        return "none", None


# ------------------------------------------------------ values and errors


class _NotJSON(Exception):
    pass


class _NotPlain(Exception):
    pass


def _jsonable(x, depth):
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if t is int:
        # JSON numbers have no size limit and the executor passes this
        # text through untouched; only str()'s own digit limit bounds it.
        if x.bit_length() <= 14000:
            return x
        raise _NotJSON
    if t is float:
        if x - x == 0.0:        # finite
            return x
        raise _NotJSON
    if depth >= MAX_DEPTH:
        raise _NotJSON
    if t is list or t is tuple:
        return [_jsonable(v, depth + 1) for v in x]
    if t is dict:
        out = {}
        for k, v in x.items():
            if type(k) is not str:
                raise _NotJSON
            out[k] = _jsonable(v, depth + 1)
        return out
    raise _NotJSON


def _cut(s, limit, what):
    if len(s) > limit:
        return s[:limit] + "\n... (%s cut at %d characters)" % (what, limit)
    return s


def _safe_repr(x):
    try:
        if type(x) is int and x.bit_length() > 14000:
            # past Python's 4300-digit str() limit; conversion is quadratic
            if x.bit_length() > 100000:
                return "<int of %d bits>" % x.bit_length()
            old = sys.get_int_max_str_digits()
            sys.set_int_max_str_digits(0)
            try:
                return repr(x)
            finally:
                sys.set_int_max_str_digits(old)
        r = repr(x)
    except BaseException as e:
        try:
            return "<%s value whose repr() failed: %s>" % (type(x).__name__, type(e).__name__)
        except BaseException:
            return "<a value whose repr() failed>"
    return _cut(r, MAX_REPR_CHARS, "repr")


def _display(x):
    """The JSON value of x when it maps onto JSON, else repr(x)."""
    try:
        return _jsonable(x, 0)
    except BaseException:
        return _safe_repr(x)


def _encode(x, depth):
    """Type-preserving encoding of a value made only of exact builtin types."""
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if t is int:
        return ["i", "%x" % x]
    if t is float:
        return ["f", float.hex(x)]
    if t is complex:
        return ["c", float.hex(x.real), float.hex(x.imag)]
    if t is bytes:
        return ["b", bytes.hex(x)]
    if x is Ellipsis:
        return ["e"]
    if depth >= MAX_DEPTH:
        raise _NotPlain
    d = depth + 1
    if t is list:
        return ["l", [_encode(v, d) for v in x]]
    if t is tuple:
        return ["t", [_encode(v, d) for v in x]]
    if t is set:
        return ["s", [_encode(v, d) for v in x]]
    if t is frozenset:
        return ["z", [_encode(v, d) for v in x]]
    if t is dict:
        return ["d", [[_encode(k, d), _encode(v, d)] for k, v in x.items()]]
    raise _NotPlain


def _decode(node, depth):
    """Inverse of _encode into fresh builtin objects; ValueError on anything else."""
    if node is None or node is True or node is False or type(node) is str:
        return node
    if type(node) is not list or not node or depth > MAX_DEPTH + 1:
        raise ValueError("malformed")
    tag, n = node[0], len(node)
    if tag == "e" and n == 1:
        return Ellipsis
    if n == 2 and type(node[1]) is str:
        if tag == "i":
            return int(node[1], 16)
        if tag == "f":
            return float.fromhex(node[1])
        if tag == "b":
            return bytes.fromhex(node[1])
    if tag == "c" and n == 3 and type(node[1]) is str and type(node[2]) is str:
        return complex(float.fromhex(node[1]), float.fromhex(node[2]))
    if n == 2 and type(node[1]) is list:
        items = node[1]
        d = depth + 1
        if tag == "l":
            return [_decode(v, d) for v in items]
        if tag == "t":
            return tuple([_decode(v, d) for v in items])
        if tag == "s":
            return set([_decode(v, d) for v in items])
        if tag == "z":
            return frozenset([_decode(v, d) for v in items])
        if tag == "d":
            out = {}
            for kv in items:
                if type(kv) is not list or len(kv) != 2:
                    raise ValueError("malformed")
                out[_decode(kv[0], d)] = _decode(kv[1], d)
            return out
    raise ValueError("malformed")


def _register_source():
    if _SOURCE is None:
        return
    import linecache
    linecache.cache[FILENAME] = (len(_SOURCE), None, _SOURCE.splitlines(True), FILENAME)


def _format_error(e, frames=True):
    """ "Name: message\\n" + the traceback without the harness's own frames.

    With frames false no frame is shown (errors the harness raised itself);
    a SyntaxError then still shows where the parser stopped."""
    try:
        name = type(e).__name__
    except BaseException:
        name = "Exception"
    try:
        msg = str(e)
    except BaseException:
        msg = "<exception str() failed>"
    body = ""
    try:
        tb = e.__traceback__ if frames else None
        while tb is not None and tb.tb_frame.f_globals is _GLOBALS:
            tb = tb.tb_next
        if tb is not None or isinstance(e, SyntaxError):
            import traceback
            _register_source()
            if tb is not None:
                body = "".join(traceback.format_exception(type(e), e, tb))
            else:
                body = "".join(traceback.format_exception_only(type(e), e))
    except BaseException:
        body = ""
    return _cut("%s: %s\n%s" % (name, msg, body), MAX_ERROR_CHARS, "error")


# -------------------------------------------------------------- plumbing

def _write_all(fd, data):
    mv = memoryview(data)
    while mv:
        mv = mv[os.write(fd, mv):]


def _write_parts(fd, head, body):
    """head then body on fd, in one write(2) when the pipe takes them: the
    reader wakes once for a whole report, not once per part."""
    _write_rest(fd, head, body, os.writev(fd, [head, body]))


def _write_rest(fd, head, body, n):
    """What is left of head then body once n bytes of them are written."""
    if n < len(head):
        _write_all(fd, memoryview(head)[n:])
        n = len(head)
    _write_all(fd, memoryview(body)[n - len(head):])


def _read_exact(fd, n):
    """n bytes from a blocking fd, or None at end of file."""
    chunks = []
    while n > 0:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            return None
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def _readinto_exact(fd, buf, n):
    mv = memoryview(buf)
    try:
        got = 0
        while got < n:
            k = os.readv(fd, [mv[got:n]])
            if k == 0:
                return False
            got += k
        return True
    finally:
        mv.release()


def _frame(data):
    return len(data).to_bytes(8, "big") + data


def _monotonic():
    import time
    return time.monotonic()


def _sleep(s):
    import time
    time.sleep(s)


# ----------------------------------------------------------- case process

def _release():
    """Give the harness back the address space margin above the code's limit
    (the hard RLIMIT_AS is the limit plus AS_MARGIN), so that it can format
    and report after the code ran out of memory."""
    global _as_limit
    if _as_limit is not None:
        R = _resource
        try:
            R.setrlimit(R.RLIMIT_AS, (_as_limit[1], _as_limit[1]))
        except (OSError, ValueError):
            pass
        _as_limit = None


def _fail(e):
    """Format an exception the code raised, freeing memory first if it ran out."""
    _release()
    if isinstance(e, MemoryError):
        tb = e.__traceback__
        while tb is not None:
            try:
                tb.tb_frame.clear()
            except BaseException:
                pass
            tb = tb.tb_next
    return _format_error(e)


def _finish(res_w, msg):
    """Report msg on the result pipe and end the case process. Never returns."""
    _release()
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass
    try:
        if sys.getrecursionlimit() < 1000:
            sys.setrecursionlimit(1000)
        data = _dumps(msg).encode("ascii")
        if len(data) > MAX_FRAME:
            data = _dumps({"k": "error", "error":
                           "ResultTooLarge: the result is too large to report (%d bytes "
                           "encoded, the limit is %d)\n" % (len(data), MAX_FRAME)}).encode()
    except MemoryError:
        data = b'{"k":"error","error":"MemoryError: out of memory while reporting the result\\n"}'
    except BaseException as e:
        try:
            data = _dumps({"k": "error", "error": "internal: the result could not be "
                           "encoded: " + _format_error(e, False)}).encode()
        except BaseException:
            os._exit(EXIT_INTERNAL)
    try:
        _write_parts(res_w, b"R" + len(data).to_bytes(8, "big"), data)
    except MemoryError:
        os._exit(EXIT_NO_MEMORY)
    except BaseException:
        os._exit(EXIT_SEND_FAILED)
    # The report woke the runner on this CPU (a pipe's wake-up says the
    # writer will sleep); let it relay the report before this process's
    # exit, which unmaps a whole Python, takes the CPU.
    try:
        os.sched_yield()
    except BaseException:
        pass
    os._exit(0)


def _set_limit(res, soft, hard):
    """Lower a limit to (soft, hard), never above the current hard limit.
    Returns the pair set, or None."""
    R = _resource
    try:
        cur_soft, cur_hard = R.getrlimit(res)
        if cur_hard != R.RLIM_INFINITY:
            hard = min(hard, cur_hard)
        soft = min(soft, hard)
        R.setrlimit(res, (soft, hard))
        return soft, hard
    except (OSError, ValueError):
        return None


def _apply_limits(timeout, mem_mb):
    global _as_limit
    R = _resource
    _set_limit(R.RLIMIT_CORE, 0, 0)
    cpu = int(timeout)
    if cpu < timeout:
        cpu += 1
    _set_limit(R.RLIMIT_CPU, cpu + 1, cpu + 2)
    if mem_mb:
        _as_limit = _set_limit(R.RLIMIT_AS, mem_mb << 20, (mem_mb << 20) + AS_MARGIN)


def _positional_names(func):
    """Names of func's positional parameters, as inspect.signature gives them."""
    names = None
    t = type(func)
    if t is _MethodType:
        inner = func.__func__
        if type(inner) is _FunctionType and _plain_function(inner) and inner.__code__.co_argcount:
            co = inner.__code__
            names = list(co.co_varnames[1:co.co_argcount])
    elif t is _FunctionType and _plain_function(func):
        co = func.__code__
        names = list(co.co_varnames[:co.co_argcount])
    if names is None:
        import inspect
        P = inspect.Parameter
        names = [p.name for p in inspect.signature(func).parameters.values()
                 if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    if names and names[0] == "self":
        names = names[1:]
    return names


def _plain_function(f):
    d = f.__dict__
    return not ("__wrapped__" in d or "__signature__" in d or "_partialmethod" in d)


class _K:
    def m(self):
        pass


_FunctionType = type(_plain_function)
_MethodType = type(_K().m)


def _case_main(spec, cfg, code_obj, res_w, mark_w):
    """One case, in its own process: "M" on mark_w once the module ran, the
    report on res_w. Never returns."""
    global _SOURCE
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    hlen = int.from_bytes(spec[:4], "big")
    msg = _loads(spec[4:4 + hlen].decode("ascii"))
    parsed = spec[4 + hlen:]
    del spec
    _SOURCE = cfg.get("code") if type(cfg.get("code")) is str else None
    probe = msg.get("probe") is True
    in_err = msg.get("in_err")
    kind = arg = None
    if parsed:
        kind, arg = marshal.loads(parsed)     # the judge parsed the input
    elif not probe and in_err is None:
        try:
            kind, arg = _parse_input(msg.get("input"))
        except Exception as e:
            in_err = _format_error(e, frames=False)
    del parsed
    out_kind = msg.get("out")
    out_src = msg.get("output")
    out_err = msg.get("out_err")
    del msg

    sys.argv = [FILENAME]
    try:
        sys.path.append(os.getcwd())
    except OSError:
        pass
    _apply_limits(cfg["timeout"], cfg.get("mem"))

    # the module, fresh for every case
    if code_obj is None:
        _finish(res_w, {"k": "module_error", "error": "internal: the runner has no code\n"})
    mod = type(sys)(MODULE_NAME)
    sys.modules[MODULE_NAME] = mod
    g = mod.__dict__
    try:
        exec(code_obj, g)
    except BaseException as e:
        _finish(res_w, {"k": "module_error", "error": _fail(e)})
    try:
        os.write(mark_w, b"M")
        os.close(mark_w)
    except BaseException:
        os._exit(EXIT_SEND_FAILED)
    if probe:
        _finish(res_w, {"k": "ok"})

    try:
        func = eval(cfg.get("entry_point"), g)
    except BaseException as e:
        _finish(res_w, {"k": "error", "error": _fail(e)})

    if in_err is not None:
        _finish(res_w, {"k": "error", "error": in_err})
    if kind == "kw":
        try:
            names = _positional_names(func)
        except BaseException as e:
            _finish(res_w, {"k": "error", "error": _fail(e)})
        try:
            args = [arg[name] for name in names]
        except KeyError as e:
            _finish(res_w, {"k": "error", "error": _format_error(e, frames=False)})
    elif kind == "pos":
        args = [arg]
    else:
        args = []
    del arg

    expected = None
    if out_kind == "err":
        _finish(res_w, {"k": "error", "error": out_err if type(out_err) is str else
                        "internal: no output\n"})
    elif out_kind == "expr":
        try:
            expected = eval(out_src, g)
        except BaseException as e:
            _finish(res_w, {"k": "error", "error": _fail(e)})

    try:
        got = func(*args)
    except BaseException as e:
        err = _fail(e)
        if out_kind == "expr":
            _finish(res_w, {"k": "error", "error": err, "expected": _display(expected)})
        _finish(res_w, {"k": "error", "error": err})
    _release()

    if out_kind == "expr":
        # expected came from the code's own namespace: the original's verdict
        try:
            passed = bool(got == expected)
        except BaseException as e:
            _finish(res_w, {"k": "error", "error": _fail(e), "got": _display(got),
                            "expected": _display(expected)})
        _finish(res_w, {"k": "judged", "passed": passed, "got": _display(got),
                        "expected": _display(expected)})
    try:
        if sys.getrecursionlimit() < 1000:
            sys.setrecursionlimit(1000)
        enc = _encode(got, 0)
    except BaseException:
        enc = _NotPlain
    if enc is _NotPlain:
        _finish(res_w, {"k": "got", "plain": False, "repr": _safe_repr(got)})
    _finish(res_w, {"k": "got", "plain": True, "v": enc})


# ----------------------------------------------------------------- runner

_HDR = (b'{"marker":%s,"timeout":%s,"problem":%s,"exit":%s,"signal":%s,'
        b'"payload":%s}')
_JSON_BOOL = (b"false", b"true")


def _parse_setup(setup):
    """(cfg, code object or None) of the runner's setup message."""
    hlen = int.from_bytes(setup[:4], "big")
    cfg = _loads(setup[4:4 + hlen].decode("ascii"))
    code_obj = marshal.loads(setup[4 + hlen:]) if len(setup) > 4 + hlen else None
    return cfg, code_obj


def first_case(spec_r, res_w, mark_w):
    """The first case's process, forked by the job process before its job
    arrived (with the job's descriptors and limits since): read the setup
    and the first case's spec, as the runner forwards them on spec_r, and
    run the case. Never returns."""
    parts = []
    for _ in range(2):
        head = _read_exact(spec_r, 8)
        part = head and _read_exact(spec_r, int.from_bytes(head, "big"))
        if part is None:
            os._exit(0)             # no job: the runner ended first
        parts.append(part)
    os.close(spec_r)
    setup, spec = parts
    del parts
    later_case(setup, spec, res_w, mark_w)


def later_case(setup, spec, res_w, mark_w):
    """A case's process with its setup and spec in hand: a later case's,
    forked by the zygote module's runner (zygote.c) once its spec came, or
    the first case's. Never returns."""
    global _resource
    import resource
    _resource = resource
    cfg, code_obj = _parse_setup(setup)
    del setup
    _case_main(spec, cfg, code_obj, res_w, mark_w)


def _runner_main(ctrl_r, rep_w):
    """Fork one case process per spec from ctrl_r and relay each report,
    framed with how the case ended, on rep_w. This is the runner of a
    harness that runs without the zygote's module (a one-shot sandbox); a
    zygote's job process runs the same loop in C (zygote.c, run_cases).

    After every fork the runner copies each page it writes (a reference
    count is a write), and it works while the judge and the next case wait
    for it. So the loop is one function over locals bound here; the rare
    paths (a failed fork, a partial write) call helpers. (In a 2-case job
    the runner took 244 page faults after its first fork, against 335 for
    the same loop over helper functions and a buffer class.)"""
    global _resource
    import resource
    import gc
    from time import monotonic, sleep
    _resource = resource
    # Objects that exist now are never collected: keeping the collector off
    # them spares every case process from copying their pages.
    gc.freeze()
    read, readv, write, writev, close, pipe, fork = (os.read, os.readv, os.write, os.writev,
                                                     os.close, os.pipe, os.fork)
    pipe2, O_NONBLOCK = os.pipe2, os.O_NONBLOCK
    setpgid, killpg, kill, waitpid, waitid = (os.setpgid, os.killpg, os.kill, os.waitpid,
                                              os.waitid)
    WIFSIGNALED, WTERMSIG, WIFEXITED, WEXITSTATUS = (os.WIFSIGNALED, os.WTERMSIG,
                                                     os.WIFEXITED, os.WEXITSTATUS)
    P_PID, WNOHANG = os.P_PID, os.WNOHANG
    WAIT_FLAGS = os.WEXITED | WNOHANG | os.WNOWAIT
    select_, frombytes, hdr_fmt, json_bool = select.select, int.from_bytes, _HDR, _JSON_BOOL
    buf = bytearray(4096)           # the spec of the case being forked
    # What the case process reports: a page, grown by doubling for a large
    # report.
    rb = bytearray(4096)
    rn = 0
    prev = 0                        # the last case's process, to reap
    setup = _read_exact(ctrl_r, 8)
    if setup is None:
        return
    setup = _read_exact(ctrl_r, int.from_bytes(setup, "big"))
    if setup is None:
        return
    cfg, code_obj = _parse_setup(setup)
    setup = None
    timeout = cfg["timeout"]

    while True:
        head = b""
        while len(head) < 8:
            part = read(ctrl_r, 8 - len(head))
            if not part:
                return
            head += part
        n = frombytes(head, "big")
        if n > len(buf):
            buf[:] = bytes(len(buf))
            buf = bytearray(n)
        if not _readinto_exact(ctrl_r, buf, n):
            return
        r, w = pipe()
        # the marker: read only once the case has ended, so that it
        # wakes nobody while the case runs
        mr, mw = pipe2(O_NONBLOCK)
        # While the last case's process still exits, this one is forked
        # but held on a pipe: it runs none of the code until the last is
        # reaped (its memory freed, its pid gone from every count).
        gr, gw = pipe() if prev else (-1, -1)
        try:
            pid = fork()
        except OSError as e:
            pid = -1
            err = e
        if pid < 0 and prev:
            # The last case's process (or what it left) may be what this
            # fork ran out of (RLIMIT_NPROC): reap it, then fork again.
            close(gr)
            close(gw)
            gr = gw = -1
            _reap(prev)
            prev = 0
            try:
                pid = fork()
            except OSError as e:
                err = e
        if pid < 0:
            buf[:n] = bytes(n)
            close(r)
            close(w)
            close(mr)
            close(mw)
            body = _dumps({"fork_error": str(err)}).encode()
            _write_all(rep_w, _frame(len(body).to_bytes(4, "big") + body))
            continue
        if pid == 0:
            try:
                close(r)
                close(mr)
                close(ctrl_r)
                close(rep_w)
                spec = bytes(buf[:n])
                buf[:] = bytes(len(buf))
                if gr >= 0:
                    close(gw)
                    if not read(gr, 1):
                        os._exit(0)
                    close(gr)
                _case_main(spec, cfg, code_obj, w, mw)
            finally:
                os._exit(EXIT_INTERNAL)
        buf[:n] = bytes(n)          # the next case process must not find this one
        close(w)
        close(mw)
        try:
            setpgid(pid, pid)
        except OSError:
            pass
        if prev:
            close(gr)
            _reap(prev)
            prev = 0
            try:
                write(gw, b"g")
            except OSError:
                pass                # it is gone: how it ended is its verdict
            close(gw)
        start = monotonic()

        # Collect the report: "R", its size (8 bytes) and the JSON, within
        # the case's wall limit.
        deadline = start + timeout
        timed_out = False
        problem = b"null"
        p0 = p1 = -1
        while True:
            left = deadline - monotonic()
            if left <= 0 or not select_([r], [], [], left)[0]:
                timed_out = True
                break
            if rn == len(rb):
                grown = bytearray(2 * len(rb))
                grown[:rn] = rb[:rn]
                rb[:] = bytes(len(rb))
                rb = grown
            with memoryview(rb) as mv:
                k = readv(r, [mv[rn:]])
            if not k:
                break
            rn += k
            if rb[0] != 0x52:               # "R": the report follows
                problem = b'"malformed"'
                break
            if rn >= 9:
                size = frombytes(rb[1:9], "big")
                if size > MAX_FRAME:
                    problem = b'"too_large"'
                    break
                if rn >= 9 + size:
                    p0, p1 = 9, 9 + size
                    break
        if p0 < 0 and problem == b"null" and not timed_out:
            # The pipe closed without a report: wait (within the limit) for
            # the process to end, without reaping it, so its group id stays
            # its own.
            pause = 0.0005
            while True:
                try:
                    if waitid(P_PID, pid, WAIT_FLAGS) is not None:
                        break
                except ChildProcessError:
                    break
                left = deadline - monotonic()
                if left <= 0:
                    timed_out = True
                    break
                sleep(min(pause, left))
                pause = min(pause * 2, 0.02)
        # SIGKILL the case process and whatever is left in its group
        try:
            killpg(pid, 9)
        except OSError:
            pass
        try:
            kill(pid, 9)
        except OSError:
            pass
        close(r)
        code = sig = b"null"
        if p0 < 0:
            # how it ended is the verdict: reap now
            try:
                status = waitpid(pid, 0)[1]
            except ChildProcessError:
                pass
            else:
                if WIFSIGNALED(status):
                    sig = b"%d" % WTERMSIG(status)
                elif WIFEXITED(status):
                    code = b"%d" % WEXITSTATUS(status)
            pid = 0

        # Whether the module ran: "M" on the marker pipe (it was written
        # before the report, or the case is gone by now).
        try:
            marker = read(mr, 1) == b"M"
        except OSError:
            marker = False          # nothing written (or a survivor holds it)
        close(mr)

        # Relay the report; its reaping overlaps the judge's work.
        body = hdr_fmt % (json_bool[marker], json_bool[timed_out], problem, code, sig,
                          json_bool[p0 >= 0])
        size = p1 - p0 if p0 >= 0 else 0
        head = (4 + len(body) + size).to_bytes(8, "big") + len(body).to_bytes(4, "big") + body
        with memoryview(rb) as mv:
            part = mv[p0:p1] if p0 >= 0 else mv[:0]
            try:
                k = writev(rep_w, [head, part])
                if k < len(head) + size:
                    _write_rest(rep_w, head, part, k)
            except OSError:
                k = -1              # the master has stopped reading: done
            part.release()
        if k < 0:
            rb[:rn] = bytes(rn)
            return
        rb[:rn] = bytes(rn)             # nor this report
        rn = 0
        if not marker:
            # The module did not run: every case fails with its error, so
            # the master reads no further report, and a case it sent ahead
            # must not run.
            if pid:
                _reap(pid)
            return
        if pid:
            # reaped now if it is gone; else while the next case is forked
            try:
                if not waitpid(pid, WNOHANG)[0]:
                    prev = pid
            except ChildProcessError:
                pass


def _reap(pid):
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


class _Runner:
    """The master's handle on the runner process."""

    def __init__(self, out_fd):
        ctrl_r, ctrl_w = os.pipe()
        rep_r, rep_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(ctrl_w)
                os.close(rep_r)
                if out_fd == 3:
                    os.close(3)
                try:
                    fd = os.open(os.devnull, os.O_RDONLY)
                    os.dup2(fd, 0)
                    os.close(fd)
                except OSError:
                    os.close(0)
                _runner_main(ctrl_r, rep_w)
            finally:
                os._exit(0)
        os.close(ctrl_r)
        os.close(rep_w)
        self._attach(pid, ctrl_w, rep_r)

    @classmethod
    def attached(cls, ctrl_w, rep_r):
        """A handle on a runner some other process started (the zygote's
        job process), reached through these two pipes."""
        self = cls.__new__(cls)
        self._attach(None, ctrl_w, rep_r)
        return self

    def _attach(self, pid, ctrl_w, rep_r):
        os.set_blocking(ctrl_w, False)
        self.pid, self.ctrl_w, self.rep_r = pid, ctrl_w, rep_r
        self.dead = False

    def _send(self, data, deadline):
        mv = memoryview(data)
        while mv:
            left = deadline - _monotonic()
            if left <= 0 or not select.select([], [self.ctrl_w], [], left)[1]:
                return False
            try:
                mv = mv[os.write(self.ctrl_w, mv):]
            except BlockingIOError:
                continue
            except OSError:
                return False
        return True

    def _recv(self, n, deadline):
        chunks = []
        while n > 0:
            left = deadline - _monotonic()
            if left <= 0 or not select.select([self.rep_r], [], [], left)[0]:
                return None
            b = os.read(self.rep_r, min(n, 1 << 20))
            if not b:
                return None
            chunks.append(b)
            n -= len(b)
        return b"".join(chunks)

    def setup(self, cfg, code_bytes, timeout):
        head = _dumps(cfg).encode("ascii")
        data = _frame(len(head).to_bytes(4, "big") + head + code_bytes)
        if not self._send(data, _monotonic() + timeout + RUNNER_SLACK_S):
            self.dead = True

    def run(self, spec, timeout):
        """(header, payload) of one case, or None when the runner is gone."""
        return self.recv(timeout) if self.send(spec, timeout) else None

    def send(self, spec, timeout):
        """Send one case's spec; False when the runner is gone."""
        if self.dead:
            return False
        if not self._send(_frame(spec), _monotonic() + timeout + RUNNER_SLACK_S):
            self.dead = True
        return not self.dead

    def send_ahead(self, spec):
        """Send the next case's spec now, while the runner runs a case, if
        the pipe takes it at once (a write of at most PIPE_BUF bytes is all
        or nothing): the runner reads it as soon as that case has ended.
        False when it was not sent."""
        data = _frame(spec)
        if self.dead or len(data) > select.PIPE_BUF:
            return False
        try:
            return os.write(self.ctrl_w, data) == len(data)
        except BlockingIOError:
            return False
        except OSError:
            self.dead = True
            return False

    def recv(self, timeout):
        """(header, payload) of the next case's report, or None when the
        runner is gone."""
        if self.dead:
            return None
        deadline = _monotonic() + timeout + RUNNER_SLACK_S
        head = self._recv(8, deadline)
        if head is not None:
            body = self._recv(int.from_bytes(head, "big"), deadline)
            if body is not None:
                hlen = int.from_bytes(body[:4], "big")
                try:
                    hdr = _loads(body[4:4 + hlen].decode("ascii"))
                    if type(hdr) is dict:
                        return hdr, (body[4 + hlen:] if hdr.get("payload") is True
                                     else None)
                except ValueError:
                    pass
        self.dead = True
        return None

    def stop(self):
        """Close the control pipe (the runner ends at its end of file);
        end and reap a runner this process forked."""
        try:
            os.close(self.ctrl_w)
        except OSError:
            pass
        if self.pid is not None:
            try:
                os.kill(self.pid, _SIGKILL)
            except OSError:
                pass
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        os.close(self.rep_r)


# ----------------------------------------------------------------- master

def _make_undumpable():
    """prctl(PR_SET_DUMPABLE, 0): no other process of this uid may open
    /proc/<pid>/fd or /proc/<pid>/mem of the master or its forks."""
    try:
        import _ctypes

        class CInt(_ctypes._SimpleCData):
            _type_ = "i"

        class Fn(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = CInt

        class Lib:
            _handle = _ctypes.dlopen(None)

        Fn(("prctl", Lib()))(4, 0, 0, 0, 0)
    except Exception:
        try:
            import ctypes
            ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
        except Exception:
            pass


def _process_failure(hdr, mem_mb):
    """The error of a case process that reported nothing."""
    sig, code = hdr.get("signal"), hdr.get("exit")
    if hdr.get("timeout") or sig == _SIGXCPU:
        return "Timeout"
    if hdr.get("problem") == "too_large":
        return ("ResultTooLarge: the result is too large to report (the limit is %d bytes)\n"
                % MAX_FRAME)
    if hdr.get("problem") is not None:
        return "internal: malformed case result"
    if type(sig) is int:
        name = _SIGNAMES.get(sig, "signal %d" % sig)
        hint = ""
        if sig == _SIGKILL:
            hint = "; this usually means it ran out of memory"
        return ("ProcessExit: the code's process was killed by signal %d (%s) before "
                "returning%s\n" % (sig, name, hint))
    if code == EXIT_NO_MEMORY:
        return ("MemoryError: the code's process ran out of memory while reporting its "
                "result (the limit is %s MB)\n" % (mem_mb or "no"))
    if code == EXIT_SEND_FAILED:
        return ("ProcessExit: the case could not report its result: the code closed or "
                "replaced the harness's result pipe\n")
    if type(code) is int:
        return ("ProcessExit: the code ended its process with exit status %d before "
                "returning\n" % code)
    return "internal: the case process vanished\n"


def _judge(rep, kind, exp, res, mem_mb):
    """Fill res from one case's report; True when the module itself failed."""
    hdr, payload = rep
    if "fork_error" in hdr:
        res["error"] = "internal: could not start the case process: %s\n" % hdr["fork_error"]
        return False
    if payload is None:
        res["error"] = _process_failure(hdr, mem_mb)
        return not hdr.get("marker")
    module_ran = hdr.get("marker") is True
    try:
        msg = _loads(payload.decode("ascii"))
        if type(msg) is not dict:
            raise ValueError
        k = msg.get("k")
        if not module_ran and k != "module_error":
            # Only a module that failed reports before its marker: this
            # came from the code's own module, and the runner, which saw
            # no marker, runs no further case.
            raise ValueError
        if k in ("module_error", "error"):
            if type(msg.get("error")) is not str:
                raise ValueError
            res["error"] = _cut(msg["error"], MAX_ERROR_CHARS, "error")
            if k == "module_error":
                return True
            if "got" in msg:
                res["got"] = _display(msg["got"])
            if "expected" in msg and kind == "expr":
                res["expected"] = _display(msg["expected"])
        elif k == "got" and kind == "lit":
            if msg.get("plain") is True:
                got = _decode(msg.get("v"), 0)
                res["got"] = _display(got)
                try:
                    res["passed"] = bool(got == exp)
                except Exception:
                    res["passed"] = False
            elif msg.get("plain") is False and type(msg.get("repr")) is str:
                res["got"] = _cut(msg["repr"], MAX_REPR_CHARS, "repr")
            else:
                raise ValueError
        elif k == "judged" and kind == "expr":
            if type(msg.get("passed")) is not bool:
                raise ValueError
            res["passed"] = msg["passed"]
            res["got"] = _display(msg.get("got"))
            res["expected"] = _display(msg.get("expected"))
        elif k == "ok" and kind == "probe":
            pass
        else:
            raise ValueError
    except Exception:
        res["passed"] = False
        res["got"] = None
        res["error"] = "internal: malformed case result"
        return not module_ran
    return False


def _error_doc(why, results=()):
    for r in results:
        r["passed"] = False
        r["error"] = why
    return {"passed": False, "error": why, "case_results": list(results)}


def _parsed_input(raw_in, spec):
    """Parse a case's input here, in the judge, where the parser is warm,
    rather than in a freshly forked case process: the marshalled (kind,
    value), or spec["in_err"] set and b"". A long input (its parse can take
    seconds and a gigabyte: a million-element list does) or a value marshal
    cannot carry goes as text, for the case process to parse within the
    case's own time limit, as before."""
    if type(raw_in) is str and len(raw_in) > PARSE_IN_JUDGE_MAX:
        spec["input"] = raw_in
        return b""
    try:
        parsed = _parse_input(raw_in)
    except Exception as e:
        spec["in_err"] = _format_error(e, frames=False)
        return b""
    try:
        return marshal.dumps(parsed)
    except (ValueError, MemoryError):
        spec["input"] = raw_in
        return b""


def _spec_bytes(spec, parsed=b""):
    """A case's spec as the runner passes it on: the JSON's length, the
    JSON, then the parsed input (marshal) if any."""
    head = _dumps(spec).encode("ascii")
    return len(head).to_bytes(4, "big") + head + parsed


def _evaluate(raw, runner):
    try:
        req = _loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return _error_doc("internal: the request on stdin is not valid JSON")
    if type(req) is not dict:
        return _error_doc("internal: the request on stdin is not a JSON object")
    del raw
    code = req.get("code")
    cases = req.get("io_cases")
    if type(cases) is not list:
        return _error_doc("internal: io_cases is not a list")
    timeout = req.get("case_timeout_s", DEFAULT_TIMEOUT_S)
    if type(timeout) not in (int, float) or not 0 < timeout <= 86400:
        timeout = DEFAULT_TIMEOUT_S
    timeout = float(timeout)
    mem_mb = req.get("case_memory_mb")
    if type(mem_mb) is float and mem_mb == mem_mb and 0 < mem_mb < (1 << 40):
        mem_mb = int(mem_mb)
    if type(mem_mb) is not int or mem_mb <= 0 or mem_mb >= (1 << 40):
        mem_mb = None

    # Everything about the cases that needs no code to run, done here once.
    results, plans = [], []
    for i, case in enumerate(cases):
        res = {"case": i, "input": None, "passed": False, "got": None,
               "expected": None, "error": None}
        spec = {"i": i}
        parsed = b""
        try:
            raw_in = case["input"]
        except Exception as e:
            spec["in_err"] = _format_error(e, frames=False)
        else:
            res["input"] = raw_in
            parsed = _parsed_input(raw_in, spec)
        exp = None
        try:
            raw_out = case["output"]
        except Exception as e:
            kind = "err"
            spec["out_err"] = _format_error(e, frames=False)
        else:
            try:
                exp = _literal_eval(raw_out)
                kind = "lit"
                res["expected"] = _display(exp)
            except Exception:
                kind = "expr"
                spec["output"] = raw_out
                res["expected"] = raw_out
        spec["out"] = kind
        results.append(res)
        plans.append((_spec_bytes(spec, parsed), kind, exp))
    del cases, req["io_cases"]

    try:
        code_obj = compile(code, FILENAME, "exec", dont_inherit=True)
    except Exception as e:
        return _error_doc(_format_error(e, frames=False), results)
    code_bytes = marshal.dumps(code_obj)
    del code_obj

    if runner is None:
        return _error_doc("internal: could not start the case runner\n", results)
    # the time limit first: the zygote's runner (zygote.c) reads it there
    runner.setup({"timeout": timeout, "code": code, "entry_point": req.get("entry_point"),
                  "mem": mem_mb}, code_bytes, timeout)
    del code_bytes

    top_error = None
    if not plans:
        probe = {"case": -1, "passed": False, "got": None, "expected": None, "error": None}
        rep = runner.run(_spec_bytes({"probe": True}), timeout)
        if rep is None:
            top_error = "internal: the case runner stopped responding\n"
        elif _judge(rep, "probe", None, probe, mem_mb):
            top_error = probe["error"]
    ahead = False           # this case's spec went with the last one's
    for i, (spec, kind, exp) in enumerate(plans):
        res = results[i]
        if top_error is not None:
            res["error"] = top_error
            continue
        if not ahead:
            runner.send(spec, timeout)
        # The next case's spec goes while this one runs, so that the
        # runner forks it as soon as it has relayed this one's report. (A
        # case whose module does not run is the runner's last: the case
        # sent ahead never runs, and every case fails with that error.)
        ahead = i < len(plans) - 1 and runner.send_ahead(plans[i + 1][0])
        rep = runner.recv(timeout)
        if rep is None:
            top_error = "internal: the case runner stopped responding (at case %d)\n" % i
            res["error"] = top_error
            continue
        if _judge(rep, kind, exp, res, mem_mb):
            # The module body itself failed: as in the original, which runs
            # it once, every case fails with that error.
            top_error = res["error"]
    passed = top_error is None and all(r["passed"] for r in results)
    return {"passed": passed, "error": top_error, "case_results": results}


def _encode_doc(doc):
    try:
        return _dumps(doc, ascii_only=False).encode("utf-8")
    except UnicodeEncodeError:      # lone surrogates: keep them as \\u escapes
        return _dumps(doc).encode("ascii")


def _emit(out_fd, doc):
    """Write the answer; values too large for the executor's cap on fd 3
    are replaced by a note, so that the answer always stays one document."""
    data = _encode_doc(doc)
    if len(data) > MAX_DOC:
        for res in doc["case_results"]:
            for key in ("got", "expected", "input"):
                size = len(_encode_doc(res[key]))
                if size > (64 << 10):
                    res[key] = "<too large to show: %d bytes of JSON>" % size
        data = _encode_doc(doc)
    try:
        _write_all(out_fd, data)
    except OSError:
        pass


def _fd_is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def warm():
    """Runs, once, the paths every evaluation takes (parsing inputs and
    outputs, JSON both ways, compiling, encoding a result, the modules the
    runner and the case processes import) in a process that forks one job
    after another (the zygote): each job's processes then start with them
    ready instead of redoing the work after every fork. Runs no submitted
    code and keeps no state that a job could see."""
    import gc
    import marshal
    import resource
    import time
    for s in ("a=1, b=2", "[1, 2]", "'x'", "3"):
        try:
            _parse_input(s)
        except Exception:
            pass
    _literal_eval("{'a': (1, 2.5, None, True)}")
    _loads(_dumps({"a": [1, "x", None, 2.5, True]}))
    _encode([1, "a", {"b": 2.5}, (1,), None], 0)
    _safe_repr(object())
    _format_error(ValueError("warm"), frames=False)
    code = marshal.dumps(compile("def f(a, b):\n    return a + b\n", "warm", "exec"))
    cfg = _dumps({"timeout": 1.0, "entry_point": "f"}).encode()
    _parse_setup(len(cfg).to_bytes(4, "big") + cfg + code)
    time.monotonic()
    del gc, marshal, resource, time


def _serve(in_fd, out_fd, runner):
    """Read one request from in_fd, evaluate it with runner's help, write
    the answer to out_fd and close it (unless it is stdout), stop runner."""
    chunks = []
    while True:
        try:
            b = os.read(in_fd, 1 << 20)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    raw = b"".join(chunks)
    del chunks
    try:
        doc = _evaluate(raw, runner)
    except BaseException as e:
        doc = _error_doc("internal: the harness failed: " + _format_error(e, frames=False))
    del raw
    _emit(out_fd, doc)
    del doc
    if out_fd != 1:
        os.close(out_fd)        # the executor sees the end of the answer now
        # ... and was woken on this CPU: let it publish the answer before
        # the runner's end (a Python's exit and its namespaces') takes it
        try:
            os.sched_yield()
        except BaseException:
            pass
    if runner is not None:
        runner.stop()


def judge(in_fd, out_fd, ctrl_w, rep_r):
    """The master's half of one evaluation, in the zygote's judge: a
    long-lived process that never runs submitted code and from which no
    process that does descends. The runner is the job process, forked from
    the clean zygote, at the other end of ctrl_w and rep_r. Closes all four
    descriptors."""
    try:
        runner = _Runner.attached(ctrl_w, rep_r)
    except OSError:
        os.close(ctrl_w)
        os.close(rep_r)
        runner = None
    try:
        _serve(in_fd, out_fd, runner)
    finally:
        os.close(in_fd)


def main():
    out_fd = 3 if _fd_is_open(3) else 1
    _make_undumpable()
    try:
        runner = _Runner(out_fd)
    except OSError:
        runner = None
    _serve(0, out_fd, runner)
    return 0


if __name__ == "__main__":
    sys.exit(main())
