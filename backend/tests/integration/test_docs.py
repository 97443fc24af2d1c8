"""The documentation against the running system: docs/api.md's SSE examples and headers against
real streams, its endpoint table against the OpenAPI schema, the README's configuration table
against Settings, and the metric names the rollout guide queries against app.core.metrics."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase

import app.core.metrics as metrics_module
from app.core.config import Settings
from app.main import create_app
from app.streaming.events import ErrorCode
from tests.fixtures.accounts import new_account, stream_token
from tests.fixtures.environment import REPO_DIR
from tests.fixtures.models import directed_model, one_at_a_time_model, words
from tests.fixtures.server import AppFactory, make_settings
from tests.fixtures.streams import (
    ONBOARDING_STREAM_PATH,
    SSEEvent,
    SSEParser,
    read_stream,
    start_stream,
    stream_params,
)
from tests.fixtures.waiting import poll_until

pytestmark = pytest.mark.timeout(60)

API_MD = REPO_DIR / "docs" / "api.md"
README = REPO_DIR / "README.md"
MIGRATION_MD = REPO_DIR / "docs" / "migration.md"
EVENT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:\d+$")


def section(markdown: str, heading: str) -> str:
    """The text under `heading` up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    start = markdown.index(heading + "\n")
    rest = markdown[start + len(heading) + 1 :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def fenced(markdown: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", markdown, re.M | re.S)


def table_rows(markdown: str) -> list[list[str]]:
    rows = []
    for line in markdown.splitlines():
        if line.startswith("|") and not re.match(r"^\|[\s|:-]+\|$", line):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:]  # without the header row


def shape(value: Any) -> Any:
    """Keys and value types, recursively: what a client relies on, not the values themselves."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def documented_events() -> tuple[list[SSEEvent], list[int | None]]:
    blocks = fenced(API_MD.read_text(), "sse")
    events, retries = [], []
    for block in blocks:
        parser = SSEParser()
        parser.feed(block)
        assert parser.events, f"an ```sse block in docs/api.md holds no complete event:\n{block}"
        assert len(parser.events) == block.count("\ndata:") + block.startswith("data:"), block
        events.extend(parser.events)
        retries.append(parser.retry_ms)
    return events, retries


def kind(payload: dict[str, Any]) -> str:
    """The event type, with the onboarding `complete` told apart from the chat one."""
    if payload["type"] == "complete":
        return "complete:onboarding" if payload.get("onboarding") else "complete:chat"
    return str(payload["type"])


async def _a_real_queued_event(sqlite_server_factory: AppFactory) -> SSEEvent:
    """Two answers on a model that writes one at a time: the second hears its place."""
    async with sqlite_server_factory(model=one_at_a_time_model(words(20), delay_s=0.05)) as server:
        async with server.client() as client:
            first, second = await new_account(client), await new_account(client)
            writing, wrote = start_stream(client, stream_params(first.access_token, "One?"))
            await poll_until(lambda: "chunk" in writing.types)
            waiting, waited = start_stream(client, stream_params(second.access_token, "Two?"))
            await asyncio.gather(wrote, waited)
    return next(event for event in waiting.events if event.json["type"] == "queued")


async def test_the_sse_examples_match_what_the_server_sends(
    sqlite_server_factory: AppFactory,
) -> None:
    documented, retries = documented_events()
    async with sqlite_server_factory(model=directed_model("Hello there, friend.")) as server:
        async with server.client() as client:
            account = await new_account(client)
            token = await stream_token(client, account)
            chat = await read_stream(client, stream_params(token))
            onboarding = await read_stream(
                client, stream_params(token, "Call me Ada"), path=ONBOARDING_STREAM_PATH
            )
            failed = await read_stream(client, stream_params(token, "[fail@1]"))
            retry_ms = server.settings.stream_retry_ms
    real: dict[str, SSEEvent] = {}
    for stream in (chat, onboarding, failed):
        for event in stream.events:
            real.setdefault(kind(event.json), event)
    assert {"start", "chunk", "complete:chat", "complete:onboarding", "error"} <= set(real)
    real["queued"] = await _a_real_queued_event(sqlite_server_factory)

    assert {kind(e.json) for e in documented} == set(real), "an example or event type is missing"
    for example in documented:
        payload = example.json
        actual = real[kind(payload)]
        assert shape(payload) == shape(actual.json), (kind(payload), payload, actual.json)
        assert example.event == actual.event == "message"  # unnamed: onmessage receives it
        if payload["type"] == "queued":  # a status of the moment, outside the answer's sequence:
            continue  # no `id:` line (checked below), so it keeps the last event's id
        assert example.id and actual.id and EVENT_ID.match(example.id) and EVENT_ID.match(actual.id)
        if "message_id" in payload:  # the id names the answer the event belongs to
            assert example.id.rsplit(":", 1)[0] == payload["message_id"], example
        if payload["type"] == "error":
            assert payload["code"] in set(ErrorCode)
    assert retries[0] == retry_ms  # the first example starts the way a stream starts
    queued = [f for f in API_MD.read_text().split("\n\n") if '"type":"queued"' in f]
    assert queued and not any(line.startswith("id:") for f in queued for line in f.splitlines())


async def test_the_documented_stream_headers_are_the_real_ones(
    sqlite_server_factory: AppFactory,
) -> None:
    protocol = section(API_MD.read_text(), "## The SSE protocol")
    [block] = fenced(protocol, "http")
    documented = dict(line.split(": ", 1) for line in block.strip().splitlines())
    assert documented, block
    async with sqlite_server_factory() as server:
        async with server.client() as client:
            account = await new_account(client)
            stream = await read_stream(
                client,
                stream_params(account.access_token),
                headers={"Accept-Encoding": "gzip, deflate, br"},
            )
    assert stream.headers is not None
    for name, value in documented.items():
        assert stream.headers.get(name) == value, (name, stream.headers.get(name))
    assert "content-encoding" not in stream.headers


def test_the_error_codes_of_the_sse_table_are_the_protocols() -> None:
    protocol = section(API_MD.read_text(), "## The SSE protocol")
    codes = {
        code
        for row in table_rows(protocol)
        if row[0].startswith("`")
        for code in re.findall(r"`([a-z_]+)`", row[0])
    }
    assert codes == set(ErrorCode)


def test_every_documented_endpoint_exists_and_every_route_is_documented(tmp_path: Path) -> None:
    endpoints = section(API_MD.read_text(), "## Endpoints")
    documented: set[tuple[str, str]] = set()
    for row in table_rows(endpoints):
        found = re.fullmatch(r"`(GET|POST|PUT|PATCH|DELETE) (/\S*)`", row[0])
        assert found, f"not an endpoint row: {row}"
        method, path = found[1].lower(), found[2]
        if path not in {"/healthz", "/readyz", "/metrics"}:
            path = "/api/v1" + path
        documented.add((method, re.sub(r"\{[^}]+\}", "{}", path)))
    assert len(documented) >= 15

    schema = create_app(make_settings(tmp_path)).openapi()
    served = {
        (method, re.sub(r"\{[^}]+\}", "{}", path))
        for path, operations in schema["paths"].items()
        for method in operations
    }
    assert documented - served == {("get", "/metrics")}  # outside the schema on purpose
    assert served <= documented, sorted(served - documented)


def test_the_readme_configuration_table_lists_exactly_the_settings() -> None:
    configuration = section(README.read_text(), "## Configuration")
    documented = {
        name for row in table_rows(configuration) for name in re.findall(r"`([A-Z0-9_]+)`", row[0])
    }
    assert documented, "no configuration table found"
    settings = {name.upper() for name in Settings.model_fields}
    assert documented - settings == set(), "documented but not a setting"
    assert settings - documented == set(), "a setting missing from the README"


def test_the_rollout_guides_queries_use_existing_metrics() -> None:
    exposed: set[str] = set()
    for value in vars(metrics_module).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                suffixes = {
                    "counter": ["_total"],
                    "histogram": ["_bucket", "_sum", "_count"],
                }.get(family.type, [""])
                exposed |= {family.name + suffix for suffix in suffixes}
    used = set(re.findall(r"\bchatstream_\w+", MIGRATION_MD.read_text()))
    assert len(used) >= 6
    assert used <= exposed, sorted(used - exposed)
