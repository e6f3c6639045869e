"""The ``macros`` object templates see: Airflow 2's ``airflow.macros`` names and helpers.

``{{ macros.ds_add(ds, 7) }}``, ``{{ macros.datetime.now() }}``, ``{{ macros.random() }}`` … render
as they do in Airflow, and a plugin's macros as ``{{ macros.<plugin name>.<function>() }}``.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta
from random import random
from types import SimpleNamespace
from typing import Any

from tradewind.sdk import plugins

try:
    # Submodules imported so that ``macros.dateutil.relativedelta.relativedelta`` works in templates.
    import dateutil
    import dateutil.parser
    import dateutil.relativedelta
    import dateutil.tz
except ImportError:  # pragma: no cover - dateutil ships with pendulum and croniter
    dateutil = None  # type: ignore[assignment]


def ds_add(ds: str, days: int) -> str:
    """Add (or, with a negative number, subtract) days to a ``YYYY-MM-DD`` date string.

    >>> ds_add("2015-01-01", 5)
    '2015-01-06'
    """
    if not days:
        return str(ds)
    moved = datetime.strptime(str(ds), "%Y-%m-%d") + timedelta(days=days)
    return moved.strftime("%Y-%m-%d")


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """Re-format a date string: ``ds_format("2015-01-01", "%Y-%m-%d", "%m-%d-%y")`` → ``'01-01-15'``."""
    return datetime.strptime(str(ds), input_format).strftime(output_format)


def datetime_diff_for_humans(dt: Any, since: Any = None) -> str:
    """How long ago (or until) ``dt`` is, in words, relative to ``since`` or now."""
    import pendulum

    return pendulum.instance(dt).diff_for_humans(pendulum.instance(since) if since is not None else None)


macros = SimpleNamespace(
    ds_add=ds_add,
    ds_format=ds_format,
    datetime_diff_for_humans=datetime_diff_for_humans,
    datetime=datetime,
    timedelta=timedelta,
    dateutil=dateutil,
    time=time,
    uuid=uuid,
    # Airflow exposes ``random.random`` (the function), not the module: ``{{ macros.random() }}``.
    random=random,
    json=json,
)


def template_macros() -> SimpleNamespace:
    """``macros`` with each loaded plugin's macros under the plugin's name."""
    namespaces = plugins.macro_namespaces()
    if not namespaces:
        return macros
    return SimpleNamespace(**vars(macros), **namespaces)
