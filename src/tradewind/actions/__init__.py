"""A person's actions — clear, mark task instances or a run success or failed, delete a run or a whole
DAG, trigger, backfill, pause, set or delete a pool — with one plan and one apply each, shared by the
web pages, the REST API, the CLI and ``TriggerDagRunOperator``.

- ``clear``, ``plan`` and ``trigger``: what an action changes, decided purely from the DAG's shape
  and the states the metastore holds (no I/O).
- ``apply``: reads what a plan needs, writes it in the caller's transaction with one audit-log row.
- ``wake``: after the caller commits, one best-effort "state changed" to the schedulers.
"""
