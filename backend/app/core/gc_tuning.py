"""Garbage-collector settings for a long-running server process.

Every streamed chunk allocates a few short-lived objects (LangChain message chunks, frames).
With CPython's default first-generation threshold (700 allocations) the collector runs every
few chunks, and each full collection walks every object alive in the process: the imported
libraries (LangChain, SQLAlchemy, FastAPI) are hundreds of thousands of them. Moving what
start-up created into the permanent generation and collecting the young generation less often
halves the CPU cost of a chunk without holding garbage long: reference counting frees almost
everything at once, the collector only handles cycles.

The pauses matter as much as their total. Every collection stops the event loop, and a paced
stream is late by any pause longer than its interval between chunks, for every stream at once.
LangChain's run keeps each chunk of an answer until the answer ends (for `on_llm_end`; our own
models skip that run, app/llm/model_stream.py), so a thousand streams keep hundreds of
thousands of young objects alive. A middle generation collected only every twentieth young
collection then holds them all, and walking it paused the loop for up to 175 ms. With a middle
threshold of 0, every other collection is a middle one, and the survivors move on to the old
generation, which is collected rarely: CPython also waits there until a quarter more objects
have survived since the last full collection.

What a young collection walks is mostly each open stream's current wait (its sleep, future and
timer, the `asend` of each async generator on the way), remade every chunk, so each collection
finds all of them young whatever the threshold: a lower one gives more pauses, hardly shorter
ones. At 950 paced streams the pauses are 4-20 ms (bench/README.md, "What a young collection
walks", with the thresholds tried there).
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 20_000
MIDDLE_GENERATION_THRESHOLD = 0
OLD_GENERATION_THRESHOLD = 1_000


def tune_for_serving() -> None:
    """Call once start-up is complete (modules imported, app built), before serving."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(
        YOUNG_GENERATION_THRESHOLD, MIDDLE_GENERATION_THRESHOLD, OLD_GENERATION_THRESHOLD
    )
