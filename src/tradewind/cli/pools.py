"""``tradewind pools``: list, get, set, delete, import and export pools (Airflow 2's commands, options
and messages). Setting and deleting go through ``tradewind.actions``, with an audit record each."""

from __future__ import annotations

import json
from typing import Any

import click

from tradewind.cli.arguments import BadArgument
from tradewind.cli.exchange_files import read_json_object, write_export
from tradewind.cli.metastore_access import metastore_session
from tradewind.cli.output import OUTPUT_OPTION, STRUCTURED, emit
from tradewind.settings import Settings

COLUMNS = ("pool", "slots", "description", "include_deferred")
_FIELDS = {"slots", "description", "include_deferred"}


@click.group()
def pools() -> None:
    """Manage pools: named limits on how many task slots run at once (a task's `pool` and `pool_slots`)."""


def _rows(session: Any, name: str | None = None) -> list[dict[str, Any]]:
    from tradewind.metastore import pools as pool_rows

    return [
        {
            "pool": usage.pool.pool,
            "slots": usage.pool.slots,
            "description": usage.pool.description,
            "include_deferred": usage.pool.include_deferred,
            "running_slots": usage.running,
            "queued_slots": usage.queued,
            "open_slots": usage.free,
        }
        for usage in pool_rows.pool_usage(session)
        if name is None or usage.pool.pool == name
    ]


@pools.command("list")
@OUTPUT_OPTION
@click.pass_obj
def list_pools(settings: Settings, output: str) -> None:
    """List the pools (json and yaml add the slots running, queued and open now)."""
    with metastore_session(settings) as session:
        rows = _rows(session)
    emit(rows, COLUMNS, output)


@pools.command("get")
@click.argument("name")
@OUTPUT_OPTION
@click.pass_obj
def get(settings: Settings, name: str, output: str) -> None:
    """Show pool NAME."""
    with metastore_session(settings) as session:
        rows = _rows(session, name)
    if not rows:
        raise BadArgument(f"Pool {name} does not exist")
    emit(rows, COLUMNS, output)


@pools.command("set")
@click.argument("name")
@click.argument("slots", type=int)
@click.argument("description")
@click.option("--include-deferred", is_flag=True, help="Deferred task instances take slots of this pool too.")
@OUTPUT_OPTION
@click.pass_obj
def set_(settings: Settings, name: str, slots: int, description: str, include_deferred: bool, output: str) -> None:
    """Create pool NAME with SLOTS slots, or change its slots and DESCRIPTION."""
    from tradewind.actions.apply import set_pool

    with metastore_session(settings) as session:
        try:
            set_pool(session, name, slots, description, include_deferred=include_deferred, owner="cli", source="cli")
        except ValueError as exc:
            raise BadArgument(str(exc)) from None
        rows = _rows(session, name)
    if output in STRUCTURED:
        emit(rows, COLUMNS, output)
    else:
        click.echo(f"Pool {name} created")


@pools.command("delete")
@click.argument("name")
@OUTPUT_OPTION
@click.pass_obj
def delete(settings: Settings, name: str, output: str) -> None:
    """Delete pool NAME (never default_pool; change its slots instead). Its tasks wait until it exists again."""
    from tradewind.actions.apply import delete_pool

    with metastore_session(settings) as session:
        rows = _rows(session, name)
        try:
            delete_pool(session, name, owner="cli", source="cli")
        except ValueError as exc:
            raise BadArgument(str(exc)) from None
    if output in STRUCTURED:
        emit(rows, COLUMNS, output)
    else:
        click.echo(f"Pool {name} deleted")


@pools.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.pass_obj
def import_(settings: Settings, file: str) -> None:
    """Create or update the pools of FILE (`-` for stdin), a JSON object as `export` writes it:
    {"name": {"slots": 4, "description": "...", "include_deferred": false}}. A file with any bad pool
    changes nothing."""
    from tradewind.actions.apply import set_pool

    wanted = read_json_object(file, '{"name": {"slots": 4, "description": "what it limits"}}')
    problems = {name: problem for name, spec in wanted.items() if (problem := _problem(name, spec)) is not None}
    if problems:
        listed = "; ".join(f"{name}: {problem}" for name, problem in sorted(problems.items()))
        raise BadArgument(f"Failed to update pool(s): {listed} (nothing was imported)")
    with metastore_session(settings) as session:
        for name, spec in wanted.items():
            set_pool(
                session,
                name,
                spec["slots"],
                spec["description"],
                include_deferred=spec.get("include_deferred", False),
                owner="cli",
                source="cli",
            )
    click.echo(f"Uploaded {len(wanted)} pool(s)")


def _problem(name: str, spec: Any) -> str | None:
    """Why one entry of an import file cannot be a pool, or None."""
    if not name.strip():
        return "a pool needs a name"
    if not isinstance(spec, dict):
        return 'must be an object such as {"slots": 4, "description": "..."}'
    unknown = sorted(set(spec) - _FIELDS)
    if unknown:
        return f"unknown field(s) {', '.join(unknown)}"
    missing = sorted({"slots", "description"} - set(spec))
    if missing:
        return f"missing {', '.join(missing)}"
    slots = spec["slots"]
    if isinstance(slots, bool) or not isinstance(slots, int) or slots < 0:
        return f"slots must be a whole number, 0 or more, not {json.dumps(slots)}"
    if spec["description"] is not None and not isinstance(spec["description"], str):
        return "description must be text"
    if not isinstance(spec.get("include_deferred", False), bool):
        return "include_deferred must be true or false"
    return None


@pools.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.pass_obj
def export(settings: Settings, file: str) -> None:
    """Write every pool to FILE (`-` for stdout) as JSON that `pools import` reads."""
    with metastore_session(settings) as session:
        rows = _rows(session)
    exported = {
        row["pool"]: {
            "slots": row["slots"],
            "description": row["description"],
            "include_deferred": row["include_deferred"],
        }
        for row in rows
    }
    write_export(file, json.dumps(exported, indent=4, sort_keys=True) + "\n", f"Exported {len(rows)} pools to {file}")
