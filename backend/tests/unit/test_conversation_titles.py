"""app/db/crud/conversations.title_from_message: a short title from a first message."""

from __future__ import annotations

import pytest

from app.db.crud.conversations import title_from_message


def test_short_message_is_its_own_title() -> None:
    assert title_from_message("How do I sort a list?") == "How do I sort a list?"


def test_whitespace_and_line_breaks_collapse_to_single_spaces() -> None:
    assert title_from_message("  Hello\n\n  there\tfriend  ") == "Hello there friend"


def test_long_message_is_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    text = "Please explain how the garbage collector in CPython decides when to run a collection"
    title = title_from_message(text)
    assert title == "Please explain how the garbage collector in CPython decides…"
    assert len(title) <= 61
    assert text.startswith(title.removesuffix("…"))


def test_message_of_exactly_the_limit_is_kept_whole() -> None:
    text = "x" * 30 + " " + "y" * 29
    assert len(text) == 60
    assert title_from_message(text) == text


def test_one_long_word_is_cut_hard() -> None:
    assert title_from_message("a" * 100, limit=10) == "a" * 10 + "…"


@pytest.mark.parametrize("limit", [5, 20, 60])
def test_title_never_exceeds_the_limit_plus_ellipsis(limit: int) -> None:
    text = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor"
    assert len(title_from_message(text, limit=limit)) <= limit + 1


@pytest.mark.parametrize(
    ("message", "title"),
    [
        ("```python\nprint(1 / 0)\n```\nWhy does this fail?", "Why does this fail?"),
        ("Why does this fail?\n~~~\nx = [1, 2\n~~~", "Why does this fail?"),
        ("# Trip plan\n- Lisbon\n- Porto", "Trip plan Lisbon Porto"),
        ("> quoted text\n1. first step", "quoted text first step"),
        ("Explain `asyncio.gather` **briefly**", "Explain asyncio.gather briefly"),
        ("Do [the docs](https://example.com/a_b) say so?", "Do the docs say so?"),
        ("Is 2*3*4 = 24 and a_b_c a name?", "Is 2*3*4 = 24 and a_b_c a name?"),
        ("```\nx = 1\n```", "x = 1"),
        ("```", "```"),
    ],
)
def test_markdown_and_fenced_code_leave_the_words_of_the_message(message: str, title: str) -> None:
    assert title_from_message(message) == title
