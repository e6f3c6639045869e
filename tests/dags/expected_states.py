"""The final states ``tradewind dags test`` must reach for each example DAG in examples/dags/.

``{dag_id: {"run_state": ..., "tasks": {task_id: state}}}``, the same table each example's
docstring gives. ``"tries"``, where present, is the ``try_number`` a task must end with.
"""

EXPECTED_STATES = {
    "example_bash_python": {
        "run_state": "success",
        "tasks": {
            "print_date": "success",
            "greet": "success",
            "inspect_context": "success",
        },
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
    "example_retries": {
        "run_state": "success",
        "tasks": {
            "flaky": "success",
            "after_flaky": "success",
        },
        "tries": {"flaky": 2},
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
            "end": "success",
        },
    },
}
