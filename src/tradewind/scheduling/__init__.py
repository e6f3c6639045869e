"""Scheduling decisions and the metastore writes that apply them, shared by the roles that
schedule: the scheduler's loop, and a worker following up on the run of a task it just finished
(under the same locks). Pure planning lives in ``planner`` and ``admission``."""
