"""How long one scan of an unchanged DAG folder of many files takes.

Generates ``--files`` small DAG files (10 tasks each) in a temporary folder, stores them once in a
fresh metastore (imported in this process, untimed), then times what the dag processor does every
``dag_dir_list_interval`` on a folder where nothing changed: ``DagFileParser.scan`` (the
scheduler's), and ``sync_dag_folder`` (what ``tradewind dags list`` does first). Median of
``--runs`` scans, in milliseconds.

    .venv/bin/python benchmarks/bench_dag_scan.py [--files 1000] [--runs 10] [--database-url URL]

Without ``--database-url`` the metastore is SQLite in the temporary folder; with a PostgreSQL URL,
use an empty database (its tables are created and left).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tradewind.master.scheduler.dag_file_parser import DagFileParser
from tradewind.master.scheduler.dag_processor import sync_dag_folder
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory
from tradewind.metastore.schema_version import ensure_migrated
from tradewind.settings import Settings

DAG_FILE = """from datetime import datetime

from tradewind import DAG, BashOperator

with DAG(dag_id="generated_{n:04d}", start_date=datetime(2024, 1, 1), schedule=None):
    previous = None
    for i in range(10):
        task = BashOperator(task_id=f"step_{{i}}", bash_command="true")
        if previous is not None:
            previous >> task
        previous = task
"""


def _median_ms(action: Callable[[], object], runs: int) -> tuple[float, float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tradewind-bench-scan-") as tmp:
        home = Path(tmp)
        folder = home / "dags"
        folder.mkdir()
        for n in range(args.files):
            (folder / f"generated_{n:04d}.py").write_text(DAG_FILE.format(n=n))
        settings = Settings(home=home, dags_folder=folder, database_url=args.database_url)
        engine = create_engine_from_settings(settings)
        try:
            ensure_migrated(engine, settings)
            factory = make_session_factory(engine)
            started = time.perf_counter()
            first = sync_dag_folder(factory, settings)
            print(
                f"first import of {args.files} files (in process, untimed below): "
                f"{time.perf_counter() - started:.1f} s, {len(first.dag_ids)} DAGs, {len(first.errors)} errors"
            )
            # Files written just now are hashed until their stat is old enough to trust.
            time.sleep(2.5)
            sync_dag_folder(factory, settings)
            dag_processor = DagFileParser(settings)

            def scan() -> None:
                report = dag_processor.scan(factory)
                assert not dag_processor.busy, f"an unchanged folder queued {len(report.parsed)} file(s)"

            print(f"one scan of an unchanged folder of {args.files} DAG files, median of {args.runs}")
            for name, action in (
                ("DagFileParser.scan (scheduler)", scan),
                ("sync_dag_folder (dags list)", lambda: sync_dag_folder(factory, settings)),
            ):
                median, low, high = _median_ms(action, args.runs)
                print(f"  {name:32} {median:8.1f} ms   (min {low:.1f}, max {high:.1f})")
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
