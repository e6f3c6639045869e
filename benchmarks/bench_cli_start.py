"""How long the ``tradewind`` command takes to start: ``--help``, ``version``, ``dags list``,
``dags trigger`` and ``dags pause``.

The DAG commands run on the zero-config SQLite metastore over the example DAGs, in a folder that
does not change between runs (the first, untimed ``dags list`` migrates the metastore and parses
the files; the timed ones only check them). ``dags trigger`` and ``dags pause`` act on the metastore
alone, as Airflow's do. Each command runs 10 times in a fresh process; the median is printed in
milliseconds.

    .venv/bin/python benchmarks/bench_cli_start.py [--runs 10] [--tradewind PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = REPO / "examples" / "dags"
DAG_ID = "example_bash_python"
COMMANDS = [["--help"], ["version"], ["dags", "list"], ["dags", "trigger", DAG_ID], ["dags", "pause", DAG_ID]]


def _time_once(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--tradewind",
        default=str(Path(sys.executable).with_name("tradewind")),
        help="the tradewind console script (default: the one beside this Python)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tradewind-bench-") as tmp:
        home = Path(tmp)
        dags = home / "dags"
        dags.mkdir()
        for path in EXAMPLE_DAGS.glob("*.py"):
            shutil.copy(path, dags)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tmp,
            "LANG": "C.UTF-8",
            "TRADEWIND_HOME": tmp,
            "TRADEWIND_DAGS_FOLDER": str(dags),
        }
        _time_once([args.tradewind, "dags", "list"], env)  # migrate and parse once, untimed

        print(f"tradewind start-up, median of {args.runs} runs ({len(list(dags.glob('*.py')))} example DAGs, SQLite)")
        for command in COMMANDS:
            times = [_time_once([args.tradewind, *command], env) for _ in range(args.runs)]
            print(
                f"  tradewind {' '.join(command):36} {statistics.median(times):7.1f} ms"
                f"   (min {min(times):.1f}, max {max(times):.1f})"
            )


if __name__ == "__main__":
    main()
