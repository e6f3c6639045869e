"""Airflow 2's ``DagRunType`` (``airflow.utils.types``): the run types tradewind records."""

from __future__ import annotations

from tradewind.states import DagRunType

__all__ = ["DagRunType"]
