"""``tradewind variables``: set, get, list, delete, export and import variables (Airflow 2's options).

The value of a variable whose key looks secret (``password``, ``api_key``, ``token``…) is shown as
``***`` by ``get`` and ``list``; ``export`` writes the real values, since its output is meant to be
imported elsewhere.
"""

from __future__ import annotations

import json
from typing import Any

import click

from tradewind.cli.arguments import BadArgument
from tradewind.cli.exchange_files import read_json_object, write_export
from tradewind.cli.metastore_access import metastore_session
from tradewind.cli.output import OUTPUT_OPTION, STRUCTURED, emit
from tradewind.errors import VariableNotFound
from tradewind.settings import Settings


@click.group()
def variables() -> None:
    """Manage variables (what `Variable.get` and `{{ var.value.<key> }}` find)."""


@variables.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--description", help="What the variable is for.")
@click.option(
    "-j",
    "--serialize-json",
    "--json",
    "serialize_json",
    is_flag=True,
    help="VALUE is JSON: check it and store it as JSON.",
)
@click.pass_obj
def set_(settings: Settings, key: str, value: str, description: str | None, serialize_json: bool) -> None:
    """Create variable KEY or change its value."""
    from tradewind.metastore import variables as rows

    if serialize_json:
        value = json.dumps(_json_value(value, f"the value of {key}"), indent=2)
    with metastore_session(settings) as session:
        try:
            rows.set_variable(session, key, value, description)
        except ValueError as exc:
            raise BadArgument(str(exc)) from None
    click.echo(f"Variable {key} created")


@variables.command("get")
@click.argument("key")
@click.option("-d", "--default", "default", help="Print this when the variable does not exist.")
@click.option(
    "-j",
    "--deserialize-json",
    "--json",
    "deserialize_json",
    is_flag=True,
    help="Decode the value as JSON and print it as indented JSON.",
)
@click.pass_obj
def get(settings: Settings, key: str, default: str | None, deserialize_json: bool) -> None:
    """Print the value of variable KEY as tasks see it: from the secrets backend, TRADEWIND_VAR_<KEY> or
    AIRFLOW_VAR_<KEY>, else from the metastore (`***` when its key looks secret; `export` writes the
    real value)."""
    from tradewind.metastore import variables as rows
    from tradewind.secrets.lookup import variable_outside_metastore
    from tradewind.secrets.masker import redact_value

    value: Any = variable_outside_metastore(key, settings)
    if value is None:
        with metastore_session(settings) as session:
            try:
                value = rows.get_variable(session, key).value
            except VariableNotFound:
                if default is None:
                    raise BadArgument(f"Variable {key} does not exist") from None
                value = default
    if deserialize_json and value is not None:
        value = json.dumps(redact_value(_json_value(value, f"variable {key}"), key), indent=2)
    else:
        value = redact_value(value, key)
    click.echo(value if value is not None else "")


@variables.command("list")
@OUTPUT_OPTION
@click.pass_obj
def list_variables(settings: Settings, output: str) -> None:
    """List the variables (values of secret-looking keys shown as `***`)."""
    from tradewind.metastore import variables as rows
    from tradewind.secrets.masker import redact_value

    with metastore_session(settings) as session:
        found = rows.list_variables(session)
    shown = [
        {
            "key": v.key,
            "value": redact_value(v.value if output in STRUCTURED else _one_line(v.value), v.key),
            "description": v.description,
        }
        for v in found
    ]
    emit(shown, ("key", "value", "description"), output)


@variables.command("delete")
@click.argument("key")
@click.pass_obj
def delete(settings: Settings, key: str) -> None:
    """Delete variable KEY."""
    from tradewind.metastore import variables as rows

    with metastore_session(settings) as session:
        rows.delete_variable(session, key)
    click.echo(f"Variable {key} deleted")


@variables.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.pass_obj
def export(settings: Settings, file: str) -> None:
    """Write every variable to FILE (`-` for stdout) as one JSON object {key: value}, JSON values decoded."""
    from tradewind.metastore import variables as rows

    with metastore_session(settings) as session:
        found = rows.list_variables(session)
    exported = {v.key: _decoded_if_json(v.value) for v in found}
    text = json.dumps(exported, indent=4, sort_keys=True) + "\n"
    write_export(file, text, f"{len(exported)} variables successfully exported to {file}")


@variables.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "-a",
    "--action-on-existing-key",
    type=click.Choice(["overwrite", "fail", "skip"]),
    default="overwrite",
    show_default=True,
    help="What to do with a key that exists already.",
)
@click.pass_obj
def import_(settings: Settings, file: str, action_on_existing_key: str) -> None:
    """Set the variables of FILE (`-` for stdin): a JSON object {key: value}; non-text values are stored as JSON."""
    from tradewind.metastore import variables as rows

    wanted = read_json_object(file, '{"key": "value", "other_key": {"any": "JSON"}}')
    texts = {key: value if isinstance(value, str) else json.dumps(value) for key, value in wanted.items()}
    with metastore_session(settings) as session:
        existing = {v.key for v in rows.list_variables(session)} & set(texts)
        if existing and action_on_existing_key == "fail":
            raise BadArgument(f"variables exist already: {', '.join(sorted(existing))} (nothing was imported)")
        skipped = existing if action_on_existing_key == "skip" else set()
        for key, text in texts.items():
            if key not in skipped:
                try:
                    rows.set_variable(session, key, text)
                except ValueError as exc:
                    raise BadArgument(f"{file}: {exc} (nothing was imported)") from None
    imported = len(texts) - len(skipped)
    click.echo(f"{imported} of {len(texts)} variables successfully updated.")
    if skipped:
        click.echo(f"Skipped existing variables: {', '.join(sorted(skipped))}")


def _json_value(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise BadArgument(f"{what} is not valid JSON: {exc}") from None


def _one_line(text: str | None) -> str | None:
    """A value as one table cell: JSON compacted, other line breaks shown as ``\\n``."""
    value = _decoded_if_json(text)
    if text is None or isinstance(value, str):
        return None if text is None else text.replace("\n", "\\n")
    return json.dumps(value)


def _decoded_if_json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
