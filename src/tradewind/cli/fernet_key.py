"""``tradewind rotate-fernet-key``: re-encrypt the stored secrets with the first key of TRADEWIND_FERNET_KEY."""

from __future__ import annotations

import click

from tradewind.settings import Settings


@click.command("rotate-fernet-key")
@click.pass_obj
def rotate_fernet_key(settings: Settings) -> None:
    """Re-encrypt every variable value, connection password and extra with the first Fernet key.

    To change keys: set TRADEWIND_FERNET_KEY to "NEW_KEY,OLD_KEY" everywhere, run this command, then
    drop OLD_KEY. Values stored before any key was set get encrypted too.
    """
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.errors import ConfigurationError
    from tradewind.metastore.engine import session_scope
    from tradewind.metastore.fernet_rotation import rotate_fernet_key as rotate

    if not settings.fernet_key.strip():
        raise ConfigurationError("TRADEWIND_FERNET_KEY is not set: there is no key to encrypt with")
    with open_metastore(settings) as factory, session_scope(factory) as session:
        result = rotate(session)
    click.echo(
        f"Re-encrypted {result.variables} variable(s) and {result.connections} connection(s) "
        "with the first key of TRADEWIND_FERNET_KEY."
    )
