"""llama.cpp called directly, for scenario (i): ChatStream's local model with nothing around it.

The same GGUF, loaded with the same construction and sampling parameters (`load_local_model`,
from the same settings in the environment), and the same messages (the conversational agent's,
for a new conversation of a user of the same name), rendered by the same chat template: only
`Llama.create_chat_completion` is called, in this process's main thread, with no HTTP, auth,
database, LangChain stream, worker-thread hop or SSE between the model and the clock.

It loads once, then reads one JSON request a line on stdin ({"message", "display_name"}) and
writes one JSON line a request on stdout: {"ttft_ms", "tokens", "first_to_last_s", "text"}.
An empty line or end of input stops it.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def main() -> int:
    from app.agents.base import TurnContext
    from app.agents.conversational import ConversationalAgent
    from app.core.config import Settings
    from app.llm.local import load_local_model

    settings = Settings()
    model = load_local_model(
        settings.local_model_path,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
        context_tokens=settings.llm_context_tokens,
        threads=settings.local_model_threads,
    )
    agent = ConversationalAgent(model, settings.chat_history_char_budget)
    llama = model.client
    params: dict[str, Any] = model._get_parameters(None)
    print(json.dumps({"ready": True}), flush=True)  # noqa: T201
    for line in sys.stdin:
        if not line.strip():
            break
        request = json.loads(line)
        context = TurnContext(message=request["message"], display_name=request["display_name"])
        messages = model._create_message_dicts(agent.build_messages(context))
        texts: list[str] = []
        first_at = last_at = 0.0
        started = time.perf_counter()
        for part in llama.create_chat_completion(messages=messages, stream=True, **params):
            text = part["choices"][0]["delta"].get("content") or ""
            if not text:
                continue
            last_at = time.perf_counter()
            if not texts:
                first_at = last_at
            texts.append(text)
        result = {
            "ttft_ms": (first_at - started) * 1000 if texts else None,
            "tokens": len(texts),
            "first_to_last_s": last_at - first_at if texts else None,
            "text": "".join(texts),
        }
        print(json.dumps(result), flush=True)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
