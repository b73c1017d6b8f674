"""Submitted code that more than one suite runs (tests/harness runs it
through the harness alone, tests/integration through a whole stack)."""

# Module-level code that writes a well-formed case report ("R", its size,
# the JSON) on every descriptor it can, before its module has finished.
FORGED_REPORT_AT_IMPORT = (
    "import os\n"
    "REPORT = b'{\"k\":\"got\",\"plain\":true,\"v\":1}'\n"
    "for fd in range(3, 64):\n"
    "    try:\n"
    "        os.write(fd, b'R' + len(REPORT).to_bytes(8, 'big') + REPORT)\n"
    "    except OSError:\n"
    "        pass\n"
    "def f(x):\n"
    "    return x\n")
