"""Where Debian's Chromium is and the flags it starts with, headless and quiet (no update checks,
no sync, no background traffic): shared by the browser tests and ``benchmarks/bench_web.py``."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
