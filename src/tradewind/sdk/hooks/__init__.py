"""Hooks: the classes task code uses to talk to other systems through a ``Connection``."""

from tradewind.sdk.hooks.base import BaseHook

__all__ = ["BaseHook"]
