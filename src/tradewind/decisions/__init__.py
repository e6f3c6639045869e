"""What decides: the scheduling rules as pure functions — plain data and ``now`` in, plain data out.

No SQL, no Redis, no clock, no SQLAlchemy (import-linter checks it). ``planner`` says what changes in
one run; ``admission`` which scheduled task instances may be queued; ``trigger_rules`` whether a
task's upstream lets it run; ``retries`` whether and when a failed try goes again;
``past_dependencies`` whether the previous run holds a task back; ``run_schedule`` which scheduled
runs a DAG gets; ``run_ends`` which ends owe a callback; ``task_nodes`` and ``task_graph`` how a
DAG's tasks look to all of these. Outside scheduling, ``login_backoff`` says how long a login attempt
waits after failed ones. What applies the decisions to the metastore is in
``tradewind.scheduling``; what runs it in a loop is ``tradewind.master.scheduler``.
"""
