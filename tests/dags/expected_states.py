"""The final states ``tradewind dags test`` must reach for each example DAG in examples/dags/.

``{dag_id: {"run_state": ..., "tasks": {task_id: state}}}``, the same table each example's
docstring gives. A mapped task that was expanded has the list of its task instances' states in
map-index order instead of one state (one that mapped over nothing has the state of its one
unexpanded task instance). ``"tries"``, where present, is the ``try_number`` a task must end with.
``states_by_task`` turns task-instance rows into that form. ``"needs"``, where present, names the
DAGs whose run at the same logical date the example waits for (an ExternalTaskSensor) or looks up
(a TriggerDagRunOperator needs its target DAG known): the tests run those first, at that date.
``"conf"``, where present, is the conf ``dags test`` gets: ``dags test`` runs tasks one after
another, so the fan-out's thirty one-second sleeps are made zero-second ones there.
``"logical_date"``, where present, is the date a test that triggers the example on a cluster must
give it (the `dags test` harness always uses 2024-01-01): its branches follow the run's date.
``"triggered_tasks"``, where present, are the states of a run triggered by hand (on a cluster),
where they differ from a ``dags test`` run's (which, as in Airflow, is not externally triggered).
``"paused": True`` marks an example created paused (``is_paused_upon_creation``): on a cluster a
run triggered by hand waits, queued, until someone unpauses the DAG, as in Airflow.
"""

from collections.abc import Iterable


def states_by_task(rows: Iterable[tuple[str, int, str]]) -> dict:
    """``{task_id: state}`` from (task_id, map_index, state) rows; a list of states for the task
    instances of a mapped task (map index 0, 1, ...)."""
    found: dict = {}
    for task_id, map_index, state in sorted(rows, key=lambda row: (row[0], row[1])):
        if map_index < 0:
            found[task_id] = state
        else:
            found.setdefault(task_id, []).append(state)
    return found


EXPECTED_STATES = {
    "example_timezone": {
        "run_state": "success",
        "tasks": {"check_local_window": "success", "check_dst_days": "success"},
    },
    "example_plugin_timetable": {
        "run_state": "success",
        "tasks": {"check_interval": "success", "check_macro": "success"},
    },
    "example_cron_trigger_timetable": {"run_state": "success", "tasks": {"check_hour_before": "success"}},
    "example_events_timetable": {"run_state": "success", "tasks": {"check_on_an_event": "success"}},
    "example_continuous": {"run_state": "success", "tasks": {"check_point_in_time": "success"}, "paused": True},
    "example_connections_variables": {
        "run_state": "success",
        "tasks": {
            "record_run": "success",
            "read_variables": "success",
            "render_templates": "success",
            "call_api": "success",
        },
    },
    "example_sql_checks": {
        "run_state": "failed",
        "tasks": {
            "load_orders": "success",
            "orders_exist": "success",
            "ten_orders_today": "success",
            "week_over_week": "success",
            "total_in_range": "success",
            "table_checks": "success",
            "column_checks": "success",
            "ids_unique_last_week": "failed",
            "big_day": "success",
            "celebrate": "skipped",
            "business_as_usual": "success",
        },
    },
    "example_sql_transfer": {
        "run_state": "success",
        "tasks": {
            "create_orders": "success",
            "fill_orders": "success",
            "wait_for_orders": "success",
            "copy_totals": "success",
            "report": "success",
            "check_report": "success",
        },
    },
    "example_bash_python": {
        "run_state": "success",
        "tasks": {
            "print_date": "success",
            "greet": "success",
            "inspect_context": "success",
        },
    },
    "example_parallel_fanout": {
        "run_state": "success",
        "conf": {"seconds": 0},
        "tasks": {**{f"work_{index:02d}": "success" for index in range(30)}, "all_done": "success"},
    },
    "example_xcom": {
        "run_state": "success",
        "tasks": {
            "push_explicitly": "success",
            "push_by_returning": "success",
            "push_from_bash": "success",
            "check_in_python": "success",
            "check_in_bash": "success",
        },
    },
    "example_taskflow": {
        "run_state": "success",
        "tasks": {
            "extract": "success",
            "transform": "success",
            "load": "success",
        },
    },
    "example_branching": {
        "run_state": "success",
        "tasks": {
            "start": "success",
            "choose_path": "success",
            "small_batch": "success",
            "large_batch": "skipped",
            "large_batch_report": "skipped",
            "join": "success",
        },
    },
    "example_short_circuit": {
        "run_state": "success",
        "tasks": {
            "check_true": "success",
            "after_true": "success",
            "check_false": "success",
            "skipped_step": "skipped",
            "skipped_all_done": "skipped",
            "check_false_keep_rules": "success",
            "skipped_child": "skipped",
            "runs_all_done": "success",
        },
    },
    "example_task_groups": {
        "run_state": "success",
        "tasks": {
            "start": "success",
            "ingest.sources.from_api": "success",
            "ingest.sources.from_files": "success",
            "ingest.merge": "success",
            "publish.to_warehouse": "success",
            "publish.notify": "success",
            "end": "success",
        },
    },
    # This run fails on purpose: a task fails and a leaf ends upstream_failed.
    "example_trigger_rules": {
        "run_state": "failed",
        "tasks": {
            "fails_on_purpose": "failed",
            "succeeds": "success",
            "needs_all_success": "upstream_failed",
            "alert_on_failure": "success",
            "cleanup": "success",
        },
    },
    "example_sensor": {
        "run_state": "success",
        "tasks": {
            "wait_in_poke_mode": "success",
            "wait_in_reschedule_mode": "success",
            "create_file": "success",
            "wait_for_file": "success",
            "cleanup": "success",
        },
    },
    "example_deferrable": {
        "run_state": "success",
        "tasks": {
            "wait_then_report": "success",
            "wait_async": "success",
            "wait_for_second": "success",
            "check": "success",
        },
        "tries": {"wait_then_report": 1, "wait_for_second": 1},
    },
    "example_retries": {
        "run_state": "success",
        "tasks": {
            "flaky": "success",
            "after_flaky": "success",
        },
        "tries": {"flaky": 2},
    },
    "example_dynamic_task_mapping": {
        "run_state": "success",
        "tasks": {
            "make_numbers": "success",
            "add_one": ["success"] * 3,
            "total": "success",
            "echo_each": ["success"] * 2,
            "echo_with_env": ["success"] * 2,
            "multiply": ["success"] * 4,
            "regions": "success",
            "describe_region": ["success"] * 2,
            "make_nothing": "success",
            "handle_nothing": "skipped",
            "per_city.measure": ["success"] * 2,
            "per_city.report": ["success"] * 2,
        },
    },
    "example_airflow_compat": {
        "run_state": "success",
        "tasks": {
            "start": "success",
            "extract_orders": "success",
            "extract_refunds": "success",
            "transform": "success",
            "report.render": "success",
            "report.publish": "success",
            "choose_load": "success",
            "full_reload": "success",
            "incremental_load": "skipped",
            "end": "success",
        },
    },
    "example_external_task_upstream": {
        "run_state": "success",
        "tasks": {
            "extract": "success",
            "load": "success",
            "mark_sensor": "success",
        },
    },
    "example_external_task_sensor": {
        "run_state": "success",
        "tasks": {
            "wait_for_load": "success",
            "wait_for_upstream_run": "success",
            "report": "success",
        },
        "needs": ["example_external_task_upstream"],
    },
    "example_datasets": {
        "run_state": "success",
        "tasks": {"write_orders": "success", "write_customers": "success", "export_report": "success"},
    },
    "example_datasets_consumer": {"run_state": "success", "tasks": {"report_inputs": "success"}},
    "example_datasets_conditions": {"run_state": "success", "tasks": {"summarize": "success"}},
    "example_trigger_target": {
        "run_state": "success",
        "tasks": {
            "show_conf": "success",
        },
    },
    "example_trigger_dagrun": {
        "run_state": "success",
        "tasks": {
            "trigger_target": "success",
            "check_trigger": "success",
        },
        "needs": ["example_trigger_target"],
    },
    "example_latest_only": {
        "run_state": "success",
        "tasks": {
            "latest_only": "success",
            # `dags test` runs are not externally triggered, so an old date is not the latest.
            "notify_dashboard": "skipped",
            "refresh_cache": "skipped",
            "archive_day": "success",
        },
        "triggered_tasks": {
            "latest_only": "success",
            "notify_dashboard": "success",
            "refresh_cache": "success",
            "archive_day": "success",
        },
    },
    "example_depends_on_past": {
        "run_state": "success",
        "tasks": {
            "load_increment": "success",
            "compact_table": "success",
            "publish": "success",
        },
    },
    "example_callbacks": {
        "run_state": "success",
        "tasks": {
            "flaky": "success",
            "summarize": "success",
        },
        "tries": {"flaky": 2},
    },
    # A teardown fails on purpose; teardowns do not count for the run's state, so it succeeds.
    "example_setup_teardown": {
        "run_state": "success",
        "tasks": {
            "create_cluster": "success",
            "run_query": "success",
            "report": "success",
            "delete_cluster": "success",
            "open_tunnel": "success",
            "copy_files": "success",
            "close_tunnel": "failed",
        },
    },
    # This run fails on purpose: a work task fails, and its teardown still runs.
    "example_setup_teardown_taskflow": {
        "run_state": "failed",
        "tasks": {
            "create_bucket": "success",
            "load": "failed",
            "summarize": "upstream_failed",
            "delete_bucket": "success",
            "warm_cache": "skipped",
            "use_cache": "skipped",
            "drop_cache": "skipped",
        },
    },
    "example_date_branching": {
        "run_state": "success",
        "logical_date": "2024-01-01T00:00:00+00:00",
        "tasks": {
            "weekend_or_not": "success",
            "weekend_report": "skipped",
            "weekday_report": "success",
            "night_or_day": "success",
            "night_batch": "success",
            "day_batch": "skipped",
            "wait_for_monday": "success",
            "wait_for_tmp": "success",
            "wait_for_answer": "success",
            "count_files": "success",
            "skip_on_99": "skipped",
        },
    },
    "example_virtualenv": {
        "run_state": "success",
        "tasks": {
            "in_venv": "success",
            "templated_in_venv": "success",
            "pick_in_venv": "success",
            "small_batch": "success",
            "big_batch": "skipped",
            "exit_99_in_venv": "skipped",
            "on_worker_python": "success",
        },
    },
    "example_object_storage": {
        "run_state": "success",
        "tasks": {"write_orders": "success", "archive": "success", "summarise": "success", "clean_up": "success"},
    },
}


#: Examples that need a server the test suite starts (an HTTP service, an SMTP server): left out of
#: the runs of every example above, and run by the integration test of their provider instead, with
#: the connection pointed at that server.
EXPECTED_STATES_WITH_A_SERVER = {
    "example_email": {"run_state": "success", "tasks": {"load": "success", "send_report": "success"}},
    "example_http": {
        "run_state": "success",
        "tasks": {"wait_for_api": "success", "post_report": "success", "read_report": "success"},
    },
}
