"""Hypothesis strategies for model output and user messages that try to break SSE framing."""

from __future__ import annotations

from hypothesis import strategies as st

# Pieces that look like SSE syntax or line breaks, or that are multi-byte in UTF-8.
TRICKY_PIECES = [
    "\n",
    "\r",
    "\r\n",
    "\n\n",
    "data: ",
    "data:{}",
    "id: 1",
    "id:x:2",
    "event: error",
    "retry: 0",
    ": ping",
    ":",
    "\u2028",
    "\u2029",
    "\x85",
    "\x00",
    "\t",
    '"',
    "\\",
    "🎉",
    "👩\u200d💻",
    "ü",
    "中文",
    "العربية",
    " ",
]

chunk_text = st.one_of(
    st.sampled_from(TRICKY_PIECES),
    st.text(max_size=12),
    st.lists(st.sampled_from(TRICKY_PIECES), max_size=4).map("".join),
    st.just(""),
)

# At least one chunk: a model that yields nothing at all is an error in LangChain's `astream`.
chunk_lists = st.lists(chunk_text, min_size=1, max_size=25)

user_messages = st.text(min_size=1, max_size=60).filter(lambda s: s.strip() and "\x00" not in s)


def stored_form(chunks: list[str]) -> str:
    """What the app streams and stores for these model chunks: all of it, NUL dropped."""
    return "".join(chunks).replace("\x00", "")
