"""The ``tradewind`` command line: one click group, one module per command family."""
