"""What text the databases can store: any Unicode but lone surrogates, and no NUL (PostgreSQL)."""

from __future__ import annotations


def has_lone_surrogate(text: str) -> bool:
    """Whether `text` holds half of a UTF-16 surrogate pair, as a JSON string may escape one
    (`"\\ud800"`): no UTF-8 encoder, so no database driver, accepts it."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def is_storable(text: str) -> bool:
    """Whether SQLite and PostgreSQL alike can store `text` (PostgreSQL's text refuses NUL)."""
    return "\x00" not in text and not has_lone_surrogate(text)
