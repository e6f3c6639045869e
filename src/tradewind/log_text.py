"""Cutting log text to a size in UTF-8 bytes, at a line boundary where there is one: the worker's
log cap and the web UI's log pages both cut this way. Pure; works on encoded bytes.

A cut never splits a character. When no line boundary falls inside the allowed size (one line
longer than it), the cut is made mid-line instead of giving up the text.
"""

from __future__ import annotations

NEWLINE = 0x0A


def prefix_end(data: bytes, max_bytes: int) -> int:
    """Where the longest prefix of ``data`` of at most ``max_bytes`` ends: after its last newline,
    or at a character boundary when it holds none (``len(data)`` when everything fits)."""
    if len(data) <= max_bytes:
        return len(data)
    newline = data.rfind(b"\n", 0, max(max_bytes, 0))
    return newline + 1 if newline >= 0 else char_prefix_end(data, max_bytes)


def char_prefix_end(data: bytes, max_bytes: int) -> int:
    """Where the longest prefix of ``data`` of at most ``max_bytes`` ends, wherever lines end."""
    return len(data) if len(data) <= max_bytes else _char_boundary_at_or_before(data, max(max_bytes, 0))


def suffix_start(data: bytes, max_bytes: int) -> int:
    """Where the longest suffix of ``data`` of at most ``max_bytes`` begins: at a line start
    (after a newline), or at a character boundary when no line starts inside it (0 when
    everything fits)."""
    if len(data) <= max_bytes:
        return 0
    earliest = _char_boundary_at_or_after(data, len(data) - max(max_bytes, 0))
    if earliest >= len(data) or data[earliest - 1] == NEWLINE:
        return earliest
    newline = data.find(b"\n", earliest, len(data) - 1)
    return newline + 1 if newline >= 0 else earliest


def pieces(data: bytes, max_bytes: int) -> list[bytes]:
    """``data`` split into consecutive pieces of at most ``max_bytes``, each ending at a line end
    when it can."""
    found = []
    start = 0
    while start < len(data):
        end = start + prefix_end(data[start : start + max_bytes + 1], max_bytes)
        if end == start:  # a character wider than max_bytes: take it whole rather than loop
            end = _char_boundary_at_or_after(data, start + 1)
        found.append(data[start:end])
        start = end
    return found


def char_index(text: str, data: bytes, byte_index: int) -> int:
    """The index in ``text`` of the character that starts at ``byte_index`` of ``data``
    (``text`` encoded)."""
    return len(text) - len(data[byte_index:].decode())


def _is_continuation(byte: int) -> bool:
    return byte & 0xC0 == 0x80


def _char_boundary_at_or_before(data: bytes, index: int) -> int:
    while 0 < index < len(data) and _is_continuation(data[index]):
        index -= 1
    return index


def _char_boundary_at_or_after(data: bytes, index: int) -> int:
    while index < len(data) and _is_continuation(data[index]):
        index += 1
    return index
