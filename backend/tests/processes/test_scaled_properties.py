"""Property, on two real `serve` processes sharing Redis and PostgreSQL: however a client's
connections are cut and reopened on either process, and wherever a Stop goes meanwhile, the
client is told every event of the answer once, in order, and its chunks are the stored answer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fixtures.accounts import Account, new_account, stream_token
from tests.fixtures.database import DbProbe, finished
from tests.fixtures.rate_limits import RedisTarget
from tests.fixtures.serve import ServeProcess
from tests.fixtures.streams import STREAM_PATH, SSEEvent, StreamReader, stream_params

pytestmark = pytest.mark.timeout(180)

TERMINAL = {"complete", "error"}


@dataclass(frozen=True)
class Plan:
    """Connection 0 goes to process `first`; connection i is cut after `cuts[i][0]` events and
    the next opens on process `cuts[i][1]`; past the cuts, the last one reads to the end. The
    Stop, if any, goes to process `stop[1]` after connection `stop[0]`, by answer id or by
    client_message_id."""

    first: int
    cuts: tuple[tuple[int, int], ...]
    stop: tuple[int, int] | None
    stop_by_client_id: bool


process = st.integers(0, 1)


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    cuts = tuple(draw(st.lists(st.tuples(st.integers(1, 15), process), min_size=1, max_size=5)))
    stop = draw(st.none() | st.tuples(st.integers(0, len(cuts) - 1), process))  # mid-answer
    return Plan(draw(process), cuts, stop, draw(st.booleans()))


def test_cuts_reconnects_and_a_stop_anywhere_tell_the_stored_answer_exactly_once(
    server_pair: tuple[ServeProcess, ServeProcess], postgres_url: str, redis: RedisTarget
) -> None:
    with asyncio.Runner() as runner:

        async def new_user() -> Account:
            async with server_pair[0].client() as client:
                return await new_account(client)

        account = runner.run(new_user())
        redis.ids.append(account.id)

        @settings(max_examples=8, deadline=None)
        @given(plan=plans())
        def check(plan: Plan) -> None:
            runner.run(_follow(plan, server_pair, account, postgres_url, redis))

        check()


async def _follow(
    plan: Plan,
    servers: tuple[ServeProcess, ServeProcess],
    account: Account,
    postgres_url: str,
    redis: RedisTarget,
) -> None:
    async with servers[plan.first].client() as client:
        params = stream_params(await stream_token(client, account), "Once, in order")
    targets = [plan.first, *(target for _, target in plan.cuts)]
    events: list[SSEEvent] = []
    acknowledged: dict[str, object] | None = None
    connection = 0
    while not events or events[-1].json["type"] not in TERMINAL:
        assert connection <= len(plan.cuts), "the last connection ended without a terminal event"
        cut_after = plan.cuts[connection][0] if connection < len(plan.cuts) else None
        headers = {"Last-Event-ID": events[-1].id or ""} if events else {}
        async with servers[targets[connection]].client() as client:
            reader = StreamReader(client, STREAM_PATH, params, headers, cut_after)
            await reader.run()
        assert reader.status_code == 200, reader.body
        events += reader.events
        if plan.stop is not None and plan.stop[0] == connection:
            acknowledged = await _stop(servers[plan.stop[1]], account, plan, params, events)
        connection += 1

    message_id = events[0].json["message_id"]
    redis.ids.append(message_id)
    ids = [event.id for event in events]
    assert ids == [f"{message_id}:{seq}" for seq in range(len(events))], ids
    types = [event.json["type"] for event in events]
    assert types == ["start"] + ["chunk"] * (len(events) - 2) + [types[-1]], types
    async with DbProbe(postgres_url) as probe:
        stored = await probe.wait_for_message(message_id, finished)
    assert "".join(event.json["content"] for event in events[1:-1]) == stored.content
    if acknowledged is None:
        assert stored.status == "complete" and types[-1] == "complete"
        return
    assert acknowledged["message_id"] == message_id
    assert acknowledged["status"] == stored.status
    assert acknowledged["content"] == stored.content
    assert acknowledged["last_event_id"] == events[-1].id
    if stored.status == "cancelled":  # else it had ended before the Stop reached it
        assert events[-1].json["code"] == "cancelled"


async def _stop(
    server: ServeProcess,
    account: Account,
    plan: Plan,
    params: dict[str, str],
    events: list[SSEEvent],
) -> dict[str, object]:
    async with server.client() as client:
        if plan.stop_by_client_id:
            response = await client.post(
                "/api/v1/chat/cancel",
                json={"client_message_id": params["client_message_id"]},
                headers=account.auth,
            )
        else:
            message_id = events[0].json["message_id"]
            response = await client.post(
                f"/api/v1/chat/messages/{message_id}/cancel", headers=account.auth
            )
    assert response.status_code == 202, response.text
    body: dict[str, object] = response.json()
    return body
