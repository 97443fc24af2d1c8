"""The commands sent on Redis connections of our own (app/core/redis_calls.py) are exactly RESP:
an array of bulk strings, text as UTF-8 and numbers as their decimal text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core.redis_calls import Arg, pack_command

ARGS = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=32),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)


def resp(args: tuple[Arg, ...]) -> bytes:
    """RESP written out by hand, the way Redis's protocol page spells it."""
    out = b"*" + str(len(args)).encode() + b"\r\n"
    for arg in args:
        if isinstance(arg, bytes):
            raw = arg
        elif isinstance(arg, str):
            raw = arg.encode("utf-8")
        elif isinstance(arg, int):
            raw = str(arg).encode()
        else:
            raw = repr(arg).encode()
        out += b"$" + str(len(raw)).encode() + b"\r\n" + raw + b"\r\n"
    return out


@given(st.lists(ARGS, min_size=1, max_size=40).map(tuple))
def test_a_command_is_packed_as_resp_bulk_strings(args: tuple[Arg, ...]) -> None:
    assert pack_command(*args) == resp(args)


def test_a_script_call_with_frames_is_packed_whole() -> None:
    frame = b'id: 3\nevent: chunk\ndata: {"content":"caf\xc3\xa9 \\n"}\n\n'
    args: tuple[Arg, ...] = (b"EVALSHA", b"0" * 40, 1, "chatstream:log:x", "token", 100_000, 2.5)
    packed = pack_command(*args, frame)
    assert packed.startswith(b"*8\r\n$7\r\nEVALSHA\r\n$40\r\n" + b"0" * 40 + b"\r\n$1\r\n1\r\n")
    assert packed.endswith(b"$3\r\n2.5\r\n$%d\r\n%b\r\n" % (len(frame), frame))
