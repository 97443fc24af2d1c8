"""The access log shows the values of the API's own query parameters only: anything else a
client puts in a URL (`?pw=secret`) is logged by its length, never verbatim."""

from __future__ import annotations

from typing import Any

from tests.fixtures.accounts import new_account, new_client_id
from tests.fixtures.observability import capture_logs
from tests.fixtures.server import AppFactory
from tests.fixtures.waiting import poll_until

JSON_LOGS: dict[str, Any] = {"log_format": "json", "log_level": "info"}


async def test_unknown_query_parameters_are_logged_by_their_length(
    sqlite_server_factory: AppFactory,
) -> None:
    async with sqlite_server_factory(**JSON_LOGS) as server:
        with capture_logs() as logs:
            async with server.client() as client:
                account = await new_account(client)
                await client.get("/healthz", params={"pw": "hunter2-secret", "x": "private"})
                await client.get(
                    "/api/v1/chat/conversations",
                    params={"kind": "chat", "session": "sess-value-42"},
                    headers=account.auth,
                )
                client_message_id = new_client_id()
                await client.get(
                    "/api/v1/chat/stream",
                    params={
                        "message": "my private question",
                        "client_message_id": client_message_id,
                        "token": account.access_token,
                        "utm_source": "mail-of-ada",
                    },
                )
            await poll_until(lambda: len(logs.events("http_request")) >= 5, 5)

    paths = [record["path"] for record in logs.events("http_request")]
    assert "/healthz?pw=<14+chars>&x=<7+chars>" in paths, paths
    assert "/api/v1/chat/conversations?kind=chat&session=<13+chars>" in paths, paths
    [stream] = [path for path in paths if path.startswith("/api/v1/chat/stream")]
    assert f"client_message_id={client_message_id}" in stream
    assert "token=[REDACTED]" in stream and "message=<19+chars>" in stream
    assert "utm_source=<11+chars>" in stream
    # Everything the server logged (the test's own HTTP client logs its URLs: not the server).
    server_lines = "\n".join(str(r) for r in logs.records() if r.get("logger") != "httpx")
    for secret in ("hunter2-secret", "private", "sess-value-42", "mail-of-ada"):
        assert secret not in server_lines, secret
    assert account.access_token not in server_lines
