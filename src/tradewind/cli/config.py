"""``tradewind config``: Airflow's ``config get-value`` and ``config list`` over tradewind's settings,
grouped in sections as ``tradewind.settings_sections`` places them, secrets masked."""

from __future__ import annotations

import os

import click

from tradewind.cli.arguments import BadArgument
from tradewind.settings import Settings


@click.group()
def config() -> None:
    """View the configuration: every TRADEWIND_* setting, in sections as Airflow shows its own."""


@config.command("get-value")
@click.argument("section")
@click.argument("option")
@click.pass_obj
def get_value(settings: Settings, section: str, option: str) -> None:
    """Print the value of OPTION of SECTION in force (secrets as ***), e.g. `config get-value core dags_folder`."""
    from tradewind.settings_sections import config_options

    options = config_options(settings, os.environ)
    found = next((o for o in options if o.section == section.lower() and o.name == option.lower()), None)
    if found is None:
        elsewhere = [o.section for o in options if o.name == option.lower()]
        hint = f"; it is in [{elsewhere[0]}]" if elsewhere else ""
        raise BadArgument(f"The option [{section}/{option}] is not found in config{hint}.")
    click.echo(found.value)


@config.command("list")
@click.option("--section", help="Only this section.")
@click.option("-d", "--include-descriptions", is_flag=True, help="Show each option's description.")
@click.option("-V", "--include-env-vars", is_flag=True, help="Show the environment variable that sets each option.")
@click.option("-s", "--include-sources", is_flag=True, help="Show where each value comes from (env var or default).")
@click.option(
    "-a",
    "--defaults",
    is_flag=True,
    help="Show only the defaults, commented out, with descriptions and variables: a starting point for a new install.",
)
@click.option("-c", "--comment-out-everything", is_flag=True, help="Comment out every option.")
@click.option("-e", "--include-examples", is_flag=True, help="Accepted for Airflow scripts; tradewind has no examples.")
@click.option("-p", "--exclude-providers", is_flag=True, help="Accepted for Airflow scripts; no provider adds options.")
@click.option(
    "--color", type=click.Choice(["off", "auto", "on"]), default="auto", help="Accepted for Airflow scripts; plain."
)
@click.pass_obj
def list_options(
    settings: Settings,
    section: str | None,
    include_descriptions: bool,
    include_env_vars: bool,
    include_sources: bool,
    defaults: bool,
    comment_out_everything: bool,
    include_examples: bool,
    exclude_providers: bool,
    color: str,
) -> None:
    """Print the configuration in force, section by section, as an ini file (secrets as ***)."""
    from tradewind.settings_sections import SECTIONS, config_options

    if section is not None and section.lower() not in SECTIONS:
        raise BadArgument(f"There is no section [{section}]; the sections are {', '.join(SECTIONS)}")
    comment = "# " if comment_out_everything or defaults else ""
    current = None
    for option in config_options(settings, os.environ):
        if section is not None and option.section != section.lower():
            continue
        if option.section != current:
            click.echo(("\n" if current is not None else "") + f"[{option.section}]")
            current = option.section
        if include_descriptions or defaults:
            click.echo(f"# {option.description}")
        if include_env_vars or defaults:
            click.echo(f"# Variable: {option.variable}")
        if include_sources and not defaults:
            click.echo(f"# Source: {option.source}")
        click.echo(f"{comment}{option.name} = {option.default if defaults else option.value}")
