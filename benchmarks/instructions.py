"""Instructions per request in-process, counted by valgrind's callgrind: a figure that does not drift.

CPU time per request on a shared virtual machine moves by a fifth from one run to the next, so a
change worth a few per cent cannot be seen in it. Callgrind counts the instructions the process
executes (user space only: system calls and the kernel are not in the figure), the same count for
the same code and inputs whatever else the machine is doing. This runs ``benchmarks/inprocess.py``
under callgrind with a small helper library (built here with gcc against valgrind's
``callgrind.h``) that counts only one extra round of each scenario after the warm rounds, and prints
instructions per request for each. It needs valgrind and gcc (Debian: ``apt-get install valgrind
gcc``); a run takes about a minute per scenario. It asserts nothing.

Run: ``.venv/bin/python benchmarks/instructions.py [--only macro] [--requests 200] [--pages 50]
[--keep DIR]``; with ``--keep``, ``callgrind_annotate --inclusive=yes DIR/callgrind.out.*`` shows
where a scenario's instructions go, function by function.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
HELPER = """
#include <valgrind/callgrind.h>
void start_counting(void) { CALLGRIND_ZERO_STATS; CALLGRIND_TOGGLE_COLLECT; }
void stop_counting(const char *label) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS_AT(label); }
"""


def build_helper(directory: Path) -> Path:
    source, library = directory / "counting.c", directory / "libcounting.so"
    source.write_text(HELPER)
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="one scenario of benchmarks/inprocess.py (default: all)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--pages",
        type=int,
        default=50,
        help="pages in the emulator's space (the scan runs under valgrind too)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="copy callgrind's dumps into this folder (read them with callgrind_annotate --inclusive=yes)",
    )
    args = parser.parse_args()
    for tool in ("valgrind", "gcc"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed (Debian: apt-get install valgrind gcc)")
    if not Path("/usr/include/valgrind/callgrind.h").exists():
        parser.error("valgrind's headers are missing (/usr/include/valgrind/callgrind.h)")
    with tempfile.TemporaryDirectory(prefix="instructions-") as tmp_name:
        tmp = Path(tmp_name)
        library = build_helper(tmp)
        argv = [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--callgrind-out-file={tmp}/callgrind.out.%p",
            sys.executable,
            str(HERE / "inprocess.py"),
            "--rounds",
            "1",
            "--requests",
            str(args.requests),
            "--pages",
            str(args.pages),
        ]
        if args.only:
            argv += ["--only", args.only]
        env = {**os.environ, "INPROCESS_CALLGRIND_LIB": str(library)}
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=3600, check=False)
        if result.returncode != 0:
            print(result.stderr[-3000:], file=sys.stderr)
            return 1
        print(f"instructions per request, in-process (WSGI call), one round of {args.requests} (callgrind):")
        for dump in sorted(tmp.glob("callgrind.out.*.*"), key=lambda p: int(p.name.rsplit(".", 1)[1])):
            text = dump.read_text(errors="replace")
            label = re.search(r"^desc: Trigger: Client Request: (.*)$", text, re.M)
            total = re.search(r"^summary: (\d+)", text, re.M)
            if label and total:
                name, count = label.group(1).rsplit(" ", 1)
                print(f"  {name:16}{int(total.group(1)) / int(count):12,.0f}")
            if args.keep is not None:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(dump, args.keep / dump.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
