"""The worker role: claims a task instance, runs it in a child process, reports what happened.

Where the worker meets the metastore, each in one place: ``reporting.py`` writes everything about
a try (claim, heartbeat, logs, XCom, rendered fields, its end); ``follow_up.py`` moves the try's run
on with the scheduler's own code (``tradewind.scheduling``); ``registry.py`` keeps the worker's own
row; ``service.py`` reads the serialized DAG a message names. The task's child process reaches the
metastore only through the runtime services: asked of the worker (``try_services.py``) when it
was forked from the worker's fork server, ``tradewind.task_services`` otherwise (``tasks test``).
"""
