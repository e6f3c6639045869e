"""What applies the decisions: the metastore reads and writes that carry out what
``tradewind.decisions`` decides, shared by the two roles that schedule — the scheduler's duties
(``tradewind.master.scheduler``) and a worker following up on the run of a try it just ended
(``tradewind.worker.follow_up``), under the same locks.

``run_progress`` moves a batch of runs forward (``run_driver`` plans and writes one run,
``previous_run`` reads the previous run when a task depends on it); ``queueing`` queues what
the limits admit; ``dag_cache`` keeps the serialized DAGs read; ``failed_tries`` ends a try that
cannot go on and records why.
"""
