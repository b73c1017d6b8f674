#!/usr/bin/env python3
"""Differential fuzzer of the io_cases input parser.

The harness (src/executor/harness/evaluate.py) re-implements, without the re
and ast modules (they are slow to import), what the original service did
with an io_case's "input":

    re.finditer(r'(\\w+)\\s*=\\s*(.+?)(?=,\\s*\\w+\\s*=|$)', input)  -> _keyword_pairs
    ast.literal_eval                                              -> _literal_eval
    both together (docs/api.md, "io_cases, precisely")            -> _parse_input

and json.loads as _loads. This feeds the same random, generated and mutated
strings to each re-implementation and to the standard library original and
asserts identical results (same success or failure, and the same value with
exact types: 1, 1.0 and True differ, and so do -0.0 and 0.0), for a bounded
time. Every mismatch is written to --artifacts and printed; the exit status
is 1 if there was any. Inputs kept in --crashes are replayed first.

    fuzz_io_input.py [--seconds 15] [--seed N] [--corpus DIR] [--crashes DIR]
                     [--artifacts DIR] [--harness PATH] [FILE...]

Given FILEs (a kept mismatch), only those are checked. Prints
"executions: N" and "mismatches: M" last.
"""

import argparse
import ast
import importlib.util
import json
import os
import random
import re
import signal
import sys
import time
import warnings
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_HARNESS = os.path.join(ROOT, "src", "executor", "harness", "evaluate.py")

PATTERN = r'(\w+)\s*=\s*(.+?)(?=,\s*\w+\s*=|$)'
CASE_TIMEOUT_S = 5          # one input, both sides: a hang is a finding too
MAX_LEN = 160               # the original regex backtracks; keep inputs short


def load_harness(path):
    """Imports evaluate.py from its path (it is stdlib-only and does nothing
    at import but define things)."""
    spec = importlib.util.spec_from_file_location("evald_harness_evaluate", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name in ("_keyword_pairs", "_literal_eval", "_parse_input", "_loads"):
        if not callable(getattr(mod, name, None)):
            sys.exit("%s has no function %s: update this fuzzer" % (path, name))
    return mod


# ------------------------------------------------------------ the originals

def ref_keyword_pairs(s):
    return [(m.group(1), m.group(2)) for m in re.finditer(PATTERN, s)]


def ref_parse_input(raw):
    kwargs = {}
    for m in re.finditer(PATTERN, raw):
        try:
            kwargs[m.group(1)] = ast.literal_eval(m.group(2))
        except Exception:
            pass
    if kwargs:
        return "kw", kwargs
    try:
        return "pos", ast.literal_eval(raw)
    except Exception:
        return "none", None


# ----------------------------------------------------------- comparing

def canon(v):
    """A value as a tree of tuples that compares equal only when the types
    are exactly the same and the values too (NaN equal to itself, -0.0
    different from 0.0, dicts in order)."""
    t = type(v)
    if t is float:
        return ("float", v.hex())
    if t is complex:
        return ("complex", v.real.hex(), v.imag.hex())
    if t in (list, tuple):
        return (t.__name__, tuple(canon(x) for x in v))
    if t in (set, frozenset):
        return (t.__name__, tuple(sorted(repr(canon(x)) for x in v)))
    if t is dict:
        return ("dict", tuple((canon(k), canon(x)) for k, x in v.items()))
    if v is None or v is Ellipsis or t in (bool, int, str, bytes):
        return (t.__name__, v)
    return ("?", t.__name__, repr(v))


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def outcome(fn, arg, with_message=False):
    """("ok", canonical value) or ("error", [message]); a hang is its own
    outcome."""
    signal.setitimer(signal.ITIMER_REAL, CASE_TIMEOUT_S)
    try:
        return ("ok", canon(fn(arg)))
    except Hang:
        return ("hang",)
    except RecursionError:
        return ("error", "RecursionError")
    except Exception as e:
        return ("error", "%s: %s" % (type(e).__name__, e)) if with_message else ("error",)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def short(o, n=300):
    r = repr(o)
    return r if len(r) <= n else r[:n] + "..."


class Checker:
    def __init__(self, h, artifacts):
        self.h = h
        self.artifacts = artifacts
        self.execs = 0
        self.mismatches = 0
        self.seen = set()

    def report(self, what, s, mine, theirs):
        key = (what, mine[0], theirs[0])
        self.mismatches += 1
        if key in self.seen and self.mismatches > 20:
            return
        self.seen.add(key)
        print("MISMATCH in %s for input %r\n  harness:  %s\n  original: %s"
              % (what, s, short(mine), short(theirs)))
        if self.artifacts:
            os.makedirs(self.artifacts, exist_ok=True)
            crc = zlib.crc32(s.encode("utf-8", "surrogatepass"))
            name = "mismatch-%s-%08x" % (what.strip("_()").replace("(", "-"), crc)
            with open(os.path.join(self.artifacts, name), "w", encoding="utf-8",
                      errors="surrogatepass") as f:
                f.write(s)

    def check(self, s):
        """One input through every pair; True when they all agree."""
        h = self.h
        self.execs += 1
        ok = True
        for what, mine_fn, ref_fn in (
                ("_keyword_pairs", h._keyword_pairs, ref_keyword_pairs),
                ("_literal_eval", h._literal_eval, ast.literal_eval),
                ("_parse_input", h._parse_input, ref_parse_input)):
            mine, theirs = outcome(mine_fn, s), outcome(ref_fn, s)
            if mine != theirs:
                self.report(what, s, mine, theirs)
                ok = False
        mine, theirs = outcome(h._loads, s), outcome(json.loads, s)
        if mine != theirs:
            self.report("_loads", s, mine, theirs)
            ok = False
        return ok

    def check_not_str(self, v):
        """A JSON input that is not a string: the same TypeError as re's."""
        self.execs += 1
        mine = outcome(self.h._parse_input, v, with_message=True)
        theirs = outcome(ref_parse_input, v, with_message=True)
        if mine != theirs:
            self.report("_parse_input(non-str)", repr(v), mine, theirs)


# ------------------------------------------------------------- generating

SPACES = [" ", " ", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85",
          "\xa0", "\u2028", "\u3000"]
WORD = "abcxyz_ABZ019" + "\u00e9\u00b2\u0660\u4e2d\u2167"   # letters, digits, other numerics
NOT_WORD = "\u0301\u00b7-.$"                              # a combining mark is not \w
SPECIAL = "=,=,'\"[](){}:+-.jJeEbBrRuUfx\\#*/%~!<>|&^@;`?"
NAMES = ["a", "b", "x", "nums", "target", "s", "_", "a1", "\u00e9t\u00e9", "\u0661", "A_b2"]


def rand_space(r):
    n = r.choice((0, 0, 1, 1, 2))
    return "".join(r.choice(SPACES) for _ in range(n))


def rand_literal(r, depth=0):
    k = r.randrange(16 if depth < 3 else 9)
    if k == 0:
        return str(r.choice((0, 1, -1, 7, 42, 10 ** 20, -(2 ** 63), 255)))
    if k == 1:
        return r.choice(("1.5", "-0.0", "0.0", "1e308", "1e999", "-1e999", ".5", "5.", "1_000",
                         "0x1F", "0o17", "0b101", "1E-5", "00", "07", "1__0"))
    if k == 2:
        return r.choice(("1j", "2+3j", "-1-2j", "1.5e3-0j", "+1j", "1+-2j", "--1", "+-1",
                         "-(1)", "1+2", "1-2j+3"))
    if k == 3:
        q = r.choice(("'", '"', "'''", "b'", "r'", "u'", "f'", "rb'"))
        end = q[-1] * (3 if q == "'''" else 1)
        body = "".join(r.choice("ab =,\\'\"\n\u00e9") for _ in range(r.randrange(5)))
        return q + body + end
    if k == 4:
        return r.choice(("None", "True", "False", "...", "Ellipsis", "null", "true", "nan",
                         "inf", "set()", "set( )", "set([])", "frozenset()", "x", "2**3",
                         "print(1)", "[*a]", "{**a}", "lambda: 1"))
    if k in (5, 6, 7, 8):
        return r.choice(("1", "'a'", "-2", "()", "[]", "{}", "b''", "0.1"))
    inner = [rand_literal(r, depth + 1) for _ in range(r.randrange(4))]
    sep = r.choice((",", ", ", " ,", ",\n"))
    if k in (9, 10):
        return "[" + sep.join(inner) + r.choice(("", ",")) + "]"
    if k in (11, 12):
        return "(" + sep.join(inner) + r.choice(("", ",", ",")) + ")"
    if k == 13:
        return "{" + sep.join(inner or ["1"]) + "}"
    pairs = [rand_literal(r, depth + 1) + ":" + rand_space(r) + rand_literal(r, depth + 1)
             for _ in range(r.randrange(3))]
    return "{" + sep.join(pairs) + "}"


def rand_keywords(r):
    parts = []
    for _ in range(r.randrange(1, 5)):
        name = r.choice(NAMES) if r.random() < 0.8 else "".join(
            r.choice(WORD + NOT_WORD) for _ in range(r.randrange(1, 4)))
        parts.append(name + rand_space(r) + r.choice(("=", "=", "==", "= =")) +
                     rand_space(r) + rand_literal(r))
    s = ""
    for i, p in enumerate(parts):
        if i:
            s += r.choice((",", ", ", " , ", ",\n", ";", " ", ",,"))
        s += p
    return rand_space(r) + s + r.choice(("", "", "\n", " ", ",", "\n\n", " \n"))


def rand_noise(r):
    alphabet = WORD + NOT_WORD + SPECIAL + "".join(SPACES)
    return "".join(r.choice(alphabet) for _ in range(r.randrange(1, 40)))


def mutate(r, s, pool):
    s = list(s)
    for _ in range(r.randrange(1, 5)):
        op = r.randrange(7)
        pos = r.randrange(len(s) + 1)
        if op == 0:
            s.insert(pos, r.choice(SPECIAL + WORD + "".join(SPACES) + NOT_WORD))
        elif op == 1 and s:
            del s[min(pos, len(s) - 1)]
        elif op == 2 and s:
            s[min(pos, len(s) - 1)] = r.choice(SPECIAL + WORD + "".join(SPACES))
        elif op == 3 and s:
            a = r.randrange(len(s))
            b = min(len(s), a + r.randrange(1, 8))
            s[pos:pos] = s[a:b]
        elif op == 4:
            s[pos:pos] = list(r.choice(pool))
        elif op == 5:
            s[pos:pos] = list(r.choice((", a=", ", b = ", "\n", "=", ",", " x=1", "=\n",
                                        ", _ =", "'", "[", ")")))
        elif op == 6 and s:
            a = r.randrange(len(s))
            del s[a:a + r.randrange(1, 6)]
    return "".join(s)[:MAX_LEN]


def generate(r, pool):
    k = r.random()
    if k < 0.35:
        s = rand_keywords(r)
    elif k < 0.5:
        s = rand_space(r) + rand_literal(r) + rand_space(r)
    elif k < 0.65:
        s = rand_noise(r)
    else:
        s = mutate(r, r.choice(pool), pool)
    return s[:MAX_LEN]


NON_STR = [0, 1, -5, 1.5, True, False, None, [], ["a=1"], {}, {"a": 1}, 10 ** 30]


def read_inputs(d):
    out = []
    if d and os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), encoding="utf-8", errors="surrogatepass") as f:
                out.append(f.read())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--corpus", default=os.path.join(HERE, "corpus", "io_input"))
    ap.add_argument("--crashes", default=os.path.join(HERE, "crashes", "io_input"))
    ap.add_argument("--artifacts", default=None)
    ap.add_argument("--harness", default=DEFAULT_HARNESS)
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()

    signal.signal(signal.SIGALRM, _alarm)
    # compile() warns about "1_", "\d" and the like: both sides alike, noise here.
    warnings.simplefilter("ignore")
    h = load_harness(args.harness)
    c = Checker(h, args.artifacts)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    r = random.Random(seed)
    print("harness: %s\nseed: %d" % (os.path.relpath(args.harness, ROOT), seed))

    if args.files:
        for path in args.files:
            with open(path, encoding="utf-8", errors="surrogatepass") as f:
                c.check(f.read())
    else:
        seeds = read_inputs(args.corpus)
        for s in read_inputs(args.crashes) + seeds:
            c.check(s)
        for v in NON_STR:
            c.check_not_str(v)
        pool = seeds or ["a=1, b=2"]
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            s = generate(r, pool)
            if c.check(s) and r.random() < 0.02 and len(pool) < 2000:
                pool.append(s)      # grow the pool with agreed inputs, to mutate further

    print("executions: %d" % c.execs)
    print("mismatches: %d" % c.mismatches)
    return 1 if c.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
