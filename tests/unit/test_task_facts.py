"""What a worker learns of a task from its fork server: plain values only, so the worker, which
imports no DAG file, can read them whatever the DAG file made them of."""

from __future__ import annotations

import pickle
import subprocess
import sys
from datetime import datetime, timedelta

import pendulum
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from tradewind import DAG, EmptyOperator
from tradewind.decisions.retries import RetryPolicy
from tradewind.metastore.task_instances import TIKey
from tradewind.worker.runner import _retry_when_not_started
from tradewind.worker.task_facts import TaskFacts


class Minutes(timedelta):
    """A timedelta of the DAG file's own making (pendulum's Duration is another)."""


def test_a_time_limit_and_delays_of_the_dag_file_s_own_types_travel_as_plain_values():
    with DAG("facts", start_date=datetime(2026, 1, 1), schedule=None):
        task = EmptyOperator(
            task_id="work",
            execution_timeout=Minutes(minutes=2),
            retry_delay=pendulum.duration(seconds=30),
            max_retry_delay=pendulum.duration(minutes=5),
        )
    facts = TaskFacts.of(task)
    assert type(facts.execution_timeout) is timedelta and facts.execution_timeout == timedelta(minutes=2)
    assert facts.retry == RetryPolicy(retry_delay_s=30.0, retry_exponential_backoff=False, max_retry_delay_s=300.0)
    assert facts.downstream_waits is None  # nothing downstream: a follow-up always plans the run
    # Read back in a process that has never seen this test module (as the worker has never seen the
    # DAG file): nothing in the facts refers to it.
    script = "import pickle, sys; print(pickle.loads(sys.stdin.buffer.read()).execution_timeout)"
    result = subprocess.run([sys.executable, "-c", script], input=pickle.dumps(facts), capture_output=True, check=True)
    assert result.stdout.decode().strip() == "0:02:00"


def test_a_try_that_could_not_be_started_still_ends_when_the_metastore_cannot_say_its_retries():
    """The fork server could not start the try and the metastore does not answer either: the try is
    ended to be retried at once (by its task instance's max tries), not left running."""
    unreachable = sessionmaker(bind=create_engine("postgresql+psycopg2://postgres@127.0.0.1:1/nowhere"))
    assert _retry_when_not_started(unreachable, TIKey("d", "r", "t")) == RetryPolicy()
