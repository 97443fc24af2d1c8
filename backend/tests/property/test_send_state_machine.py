"""Sends, repeats, retries, cancels, reconnects and Continues at random, against a live server.

A hypothesis state machine (issue 14, item 6) plays one user's clients: new sends (streamed and
read to the end or dropped, non-streaming, or `POST /chat/turns` then read or not), repeats of a
client_message_id, retries (`regenerate=true`), cancels by answer and by client_message_id (also
before the send), watches, reconnects with Last-Event-ID, Continue, reuses that must be refused,
and bursts of these at once. The scripted model answers slowly enough that answers are in flight
while other steps act, and fails some questions the first time they are asked.

After each step, against what is committed: one question per client_message_id, one answer per
question, every answer named by some response (nothing admitted unseen). After each stream read
to its end: the text it told (a start's `prefix`, then its chunks) is the stored answer, and no
event id came twice to one client across its reconnects. At the end, once every answer has
settled: none is left `streaming`, the reads still agree with what is stored, and the hour's
message limit admits exactly the messages not spent: no repeat, watch or refused send counted.

Every choice the machine draws, and every precondition, depends only on earlier draws, never on
how the server's timing went (hypothesis requires it); a step adapts at run time instead (say, a
reconnect with no dropped stream to take up does nothing). Three back-end bugs it found are
reproduced, xfail, in tests/integration/test_empty_answers_and_waiting_repeats.py; until they are
fixed the machine steps around them (`told_with_500`, `runnable`, `same_send_at_once`). Its
requests and the reading of streams are in send_client.py; the module is long because the
machine is one model.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import httpx
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.fixtures.accounts import new_account
from tests.fixtures.database import DbProbe
from tests.fixtures.models import words
from tests.fixtures.server import AppFactory, LiveServer
from tests.property.send_client import (
    CONTINUABLE,
    REGENERABLE,
    ChatClient,
    FailsOnceModel,
    LoopThread,
    Reply,
    Row,
    SendRecord,
    Viewer,
    split_event_id,
    stored_rows,
)

# Each answer takes CHUNKS * CHUNK_DELAY_S, longer than the disconnect grace, so an answer that
# nobody reads ends `interrupted`.
CHUNKS = 10
CHUNK_DELAY_S = 0.02
# What the machine may spend per example (sends, retries, Continues): the hourly limit.
MESSAGES_PER_HOUR = 30
BURST_MAX = 5
EXAMPLES = 12
STEPS = 25
SERVER_SETTINGS: dict[str, Any] = {
    "rate_limit_messages_per_hour": MESSAGES_PER_HOUR,
    "rate_limit_concurrent_streams": 1000,  # the hourly limit is the one under test
    "stream_disconnect_grace_s": 0.1,
    "stream_buffer_ttl_s": 1.0,  # later reads are told again from the database
}

PICK = st.integers(0, 255)  # which of the sends (or streams) a step acts on, modulo their number
SEND_ENDPOINTS = st.sampled_from(["stream", "message", "turns", "turns+watch"])
STOP_AFTER = st.sampled_from([None, None, 1, 2, 4, 8])  # events read before a drop; None: all
FAIL_AFTER = st.sampled_from([None, None, None, 0, 3])
MOSTLY = st.sampled_from([True, True, True, False])

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def step(method: F) -> F:
    """Logs the step; when it fails, marks the machine broken (teardown then only settles, and
    piles no second failure onto the first) and notes the example's steps on the error: a replay
    against a live server does not always fail the same way, so hypothesis may not print them."""

    @functools.wraps(method)
    def logged(self: SendStateMachine, *args: Any, **kwargs: Any) -> Any:
        arguments = ", ".join(f"{name}={value!r}" for name, value in kwargs.items())
        self.steps.append(f"{method.__name__}({arguments})")
        try:
            return method(self, *args, **kwargs)
        except BaseException as error:
            self.broken = True
            error.add_note("The example's steps:\n  " + "\n  ".join(self.steps))
            raise

    return logged  # type: ignore[return-value]


def picked(items: list[T], pick: int) -> T:
    return items[pick % len(items)]


@dataclass
class World:
    """What every example shares: the loop, the server, a client and a probe of the database."""

    loop: LoopThread
    server: LiveServer
    http: httpx.AsyncClient
    probe: DbProbe
    model: FailsOnceModel


@dataclass(frozen=True)
class BurstOp:
    kind: str  # repeat, retry, cancel, cancel_send, watch, continue
    endpoint: str = "stream"
    stop_after: int | None = None


@dataclass
class OpResult:
    op: BurstOp
    status_code: int
    answer_id: str | None = None
    viewer: Viewer | None = None
    body: Any = None


BURST_OPS = st.one_of(
    st.builds(BurstOp, st.sampled_from(["repeat", "retry"]), SEND_ENDPOINTS, STOP_AFTER),
    st.builds(BurstOp, st.sampled_from(["cancel", "cancel_send"])),
    st.builds(BurstOp, st.sampled_from(["watch", "continue"]), st.just("stream"), STOP_AFTER),
)


class SendStateMachine(RuleBasedStateMachine):
    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.broken = False
        self.steps: list[str] = []
        account = self.run(new_account(world.http))
        self.user_id = account.id
        self.client = ChatClient(world.http, account)
        self.sends: dict[str, SendRecord] = {}  # stored: some send of it was accepted
        self.stopped: list[SendRecord] = []  # stopped before they were ever sent
        self.current: dict[str, Row] = {}  # client_message_id -> its answer, at the last look
        self.answer_ids: list[str] = []  # every answer some response named
        self.answers_of: dict[str, list[str]] = {}  # client_message_id -> its answers so far
        self.cmid_of: dict[str, str] = {}  # answer id -> client_message_id
        self.offsets: dict[str, int] = {}  # answer id -> its stream_offset, the highest seen
        self.run_starts: dict[str, int] = {}  # answer id -> the last run's start seq seen
        self.finished: list[Viewer] = []
        self.dropped: list[Viewer] = []
        self.onboarding_sends = 0
        # Where the onboarding starts: after the questions registration answered (the name).
        self.first_onboarding_step = self.run(
            world.http.get("/api/v1/onboarding", headers=account.auth)
        ).json()["current_step"]
        self.counter = 0
        # The most the steps taken may spend, if every send is counted once and nothing else is.
        self.may_spend = 0

    # Plumbing ---------------------------------------------------------------------------------

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.world.loop.run(work)

    def new_send(self, fail_after: int | None = None, kind: str = "chat") -> SendRecord:
        self.counter += 1
        failing = f" [fail@{fail_after}]" if fail_after is not None else ""
        return SendRecord(uuid.uuid4().hex, f"Message {self.counter}{failing}", kind)

    @property
    def spent(self) -> int:
        """Messages counted so far: every answer started, and every Continue run."""
        return len(self.answer_ids) + sum(offset // 2 for offset in self.offsets.values())

    def can_spend(self, count: int) -> bool:
        return self.may_spend + count <= MESSAGES_PER_HOUR

    @property
    def chat_sends(self) -> list[SendRecord]:
        return [send for send in self.sends.values() if send.kind == "chat"]

    def retry_cannot_fail(self, send: SendRecord) -> bool:
        """A retry's answer fails only if it is its question's first generation."""
        return "[fail@" not in send.text or send.text in self.world.model.asked

    def skip(self, why: str) -> None:
        self.steps.append(f"  (skipped: {why})")

    @staticmethod
    def told_with_500(row: Row) -> bool:
        """An answer that ended without a chunk once failed with a 500 when told again from the
        database; fixed (test_empty_answers_and_waiting_repeats.py), so nothing is left out."""
        del row
        return False

    def rows(self) -> dict[str, Row]:
        return {row.id: row for row in self.run(stored_rows(self.world.probe, self.user_id))}

    def chat_sends_whose_answer(self, test: Callable[[Row], bool]) -> list[SendRecord]:
        """The chat sends whose answer, as stored now, passes `test`."""
        rows = self.rows()
        return [s for s in self.chat_sends if test(rows[self.current[s.client_message_id].id])]

    def fresh_answer(self, send: SendRecord) -> Row:
        row = self.rows().get(self.current[send.client_message_id].id)
        assert row is not None, f"the answer to {send.client_message_id} is gone"
        return row

    def note_answer(self, send: SendRecord, answer_id: str) -> None:
        if answer_id not in self.cmid_of:
            self.answer_ids.append(answer_id)
            self.answers_of.setdefault(send.client_message_id, []).append(answer_id)
            self.cmid_of[answer_id] = send.client_message_id

    def learn(self, send: SendRecord, reply: Reply) -> str:
        """The answer a send named; for a 502 (no body to name it), the one stored for it."""
        answer_id = reply.answer_id
        if answer_id is None:
            assert reply.status_code == 502, reply
            rows = self.rows().values()
            question = next(r for r in rows if r.client_message_id == send.client_message_id)
            answer_id = next(r.id for r in rows if r.reply_to_id == question.id)
        self.note_answer(send, answer_id)
        return answer_id

    def expect_sent(self, reply: Reply, endpoint: str, *, may_fail: bool) -> None:
        assert reply.status_code != 429, f"a send was rate limited: {reply.body}"
        if endpoint == "message" and may_fail and reply.status_code == 502:
            assert reply.error_code == "llm_error", reply.body
            return
        expected = {"stream": 200, "message": 200}.get(endpoint, 202)
        assert reply.status_code == expected, f"{endpoint}: {reply.status_code} {reply.body}"

    # Reads --------------------------------------------------------------------------------------

    def after_reads(self, viewers: list[Viewer | None]) -> None:
        """File each read as finished or dropped; a finished one must agree with the database
        (as it is now: a retry in the same step may have replaced the answer read)."""
        read = [v for v in viewers if v is not None and v.message_id is not None]
        rows = self.rows()
        self.look(rows)
        for viewer in read:
            assert viewer.message_id is not None
            if viewer.run_start is not None:
                known = self.run_starts.get(viewer.message_id, -1)
                self.run_starts[viewer.message_id] = max(known, viewer.run_start)
            if not viewer.ended:
                self.dropped.append(viewer)
                continue
            if viewer not in self.finished:
                self.finished.append(viewer)
            self.check_read(viewer, rows.get(viewer.message_id))

    def same_run(self, viewer: Viewer, row: Row) -> bool:
        """Did the viewer read the answer's latest run (no Continue has begun since)?"""
        if viewer.offset is not None:
            return viewer.offset == row.stream_offset
        assert viewer.message_id is not None
        return viewer.run_start == self.run_starts.get(viewer.message_id)

    def check_read(self, viewer: Viewer, row: Row | None) -> None:
        assert viewer.message_id in self.cmid_of, f"a stream of an answer never named: {viewer}"
        if row is None:  # replaced by a retry since
            assert self.current[self.cmid_of[viewer.message_id]].id != viewer.message_id
            return
        if not self.same_run(viewer, row):  # a Continue went on from it since
            assert row.content.startswith(viewer.text), (viewer.text, row)
            return
        assert row.status != "streaming", row
        assert viewer.text == row.content, f"told {viewer.text!r}, stored {row!r}"
        assert viewer.terminal_status == row.status, (viewer.terminal, row)
        assert viewer.last_seq == row.terminal_seq, (viewer.last_id, row)
        # A Continue's `complete` carries the whole answer (not when told again from the database).
        assert viewer.terminal is not None
        assert viewer.terminal.get("content", row.content) == row.content, viewer.terminal

    # What is stored, after every step ---------------------------------------------------------

    @invariant()
    def stored_turns_hold(self) -> None:
        try:
            self.look(self.rows())
        except BaseException as error:
            self.broken = True
            error.add_note("The example's steps:\n  " + "\n  ".join(self.steps))
            raise

    def look(self, rows: dict[str, Row]) -> None:
        questions = [r for r in rows.values() if r.role == "user"]
        per_id = Counter(r.client_message_id for r in questions)
        assert all(n == 1 for n in per_id.values()), f"one question per id: {per_id}"
        assert set(per_id) == set(self.sends), f"questions stored: {set(per_id) ^ set(self.sends)}"
        answers = [r for r in rows.values() if r.role == "assistant" and r.reply_to_id]
        per_question = Counter(r.reply_to_id for r in answers)
        assert set(per_question) <= {q.id for q in questions}, "an answer to no stored question"
        for question in questions:
            assert question.client_message_id is not None
            count = per_question[question.id]
            assert count == 1, f"{question.client_message_id} has {count} answers"
            assert question.kind == self.sends[question.client_message_id].kind, question
        unseen = [a for a in answers if a.id not in self.cmid_of]
        assert not unseen, f"answers no response named: {unseen}"
        cmid_of_question = {q.id: q.client_message_id for q in questions}
        for answer in answers:
            assert answer.reply_to_id is not None
            cmid = cmid_of_question[answer.reply_to_id]
            assert cmid is not None
            self.current[cmid] = answer
            self.offsets[answer.id] = max(self.offsets.get(answer.id, 0), answer.stream_offset)
        assert self.spent <= self.may_spend, f"{self.spent} counted, at most {self.may_spend}"

    # Sends --------------------------------------------------------------------------------------

    @initialize(endpoint=SEND_ENDPOINTS, stop_after=STOP_AFTER, fail_after=FAIL_AFTER)
    def first_send(self, endpoint: str, stop_after: int | None, fail_after: int | None) -> None:
        """Every example has a send to act on from its first step."""
        self.send_new(
            endpoint=endpoint, stop_after=stop_after, fail_after=fail_after, stopped_first=False
        )

    @precondition(lambda self: self.can_spend(1))
    @rule(
        endpoint=SEND_ENDPOINTS,
        stop_after=STOP_AFTER,
        fail_after=FAIL_AFTER,
        stopped_first=st.booleans(),
    )
    @step
    def send_new(
        self, endpoint: str, stop_after: int | None, fail_after: int | None, stopped_first: bool
    ) -> None:
        self.may_spend += 1
        was_stopped = stopped_first and bool(self.stopped)
        send = self.stopped.pop(0) if was_stopped else self.new_send(fail_after)
        reply = self.run(self.client.send(send, endpoint, stop_after=stop_after))
        self.expect_sent(reply, endpoint, may_fail="[fail@" in send.text)
        self.sends[send.client_message_id] = send
        answer_id = self.learn(send, reply)
        if was_stopped:  # its Stop came first: stored cancelled, nothing generated
            stored = self.run(
                self.world.probe.wait_for_message(answer_id, lambda m: m.status != "streaming")
            )
            assert (stored.status, stored.content) == ("cancelled", ""), stored
        self.after_reads([reply.viewer])

    @precondition(lambda self: len(self.stopped) < 2)
    @rule()
    @step
    def stop_before_send(self) -> None:
        send = self.new_send()
        response = self.run(self.client.cancel_send(send.client_message_id))
        assert response.status_code == 202, response.text
        assert response.json() == {
            "message_id": None,
            "status": "cancelled",
            "content": "",
            "last_event_id": None,
        }
        self.stopped.append(send)

    @precondition(lambda self: self.can_spend(1) and self.onboarding_sends < 2)
    # Read as they are sent, so each answer completes and moves onboarding on by one step.
    @rule(endpoint=st.sampled_from(["stream", "message"]))
    @step
    def onboarding_send(self, endpoint: str) -> None:
        self.may_spend += 1
        send = self.new_send(kind="onboarding")
        reply = self.run(self.client.send(send, endpoint))
        self.expect_sent(reply, endpoint, may_fail=False)
        self.sends[send.client_message_id] = send
        self.learn(send, reply)
        self.onboarding_sends += 1
        self.after_reads([reply.viewer])

    @precondition(lambda self: bool(self.sends))
    @rule(pick=PICK, endpoint=SEND_ENDPOINTS, stop_after=STOP_AFTER)
    @step
    def repeat(self, pick: int, endpoint: str, stop_after: int | None) -> None:
        send = picked(list(self.sends.values()), pick)
        original = self.current[send.client_message_id]
        if self.told_with_500(original) and endpoint in {"stream", "turns+watch"}:
            self.skip("an answer without a chunk is repeated by POST /chat/turns")
            endpoint = "turns"
        reply = self.run(self.client.send(send, endpoint, stop_after=stop_after))
        self.expect_sent(reply, endpoint, may_fail=original.status in {"streaming", "error"})
        if reply.answer_id is not None:
            assert reply.answer_id == original.id, "a repeat named another answer"
        self.after_reads([reply.viewer])

    @precondition(lambda self: self.can_spend(1) and bool(self.chat_sends))
    @rule(pick=PICK, a_failed_one=MOSTLY, endpoint=SEND_ENDPOINTS, stop_after=STOP_AFTER)
    @step
    def retry(self, pick: int, a_failed_one: bool, endpoint: str, stop_after: int | None) -> None:
        self.may_spend += 1
        failed = self.chat_sends_whose_answer(lambda row: row.status in REGENERABLE)
        send = picked(failed if failed and a_failed_one else self.chat_sends, pick)
        before = self.fresh_answer(send)
        known = set(self.cmid_of)
        reply = self.run(self.client.send(send, endpoint, regenerate=True, stop_after=stop_after))
        self.expect_sent(reply, endpoint, may_fail=True)
        answer_id = self.learn(send, reply)
        if before.status in REGENERABLE:
            assert answer_id != before.id and answer_id not in known, "no new answer"
        elif before.status == "complete":
            assert answer_id == before.id, "a retry of a complete answer replaced it"
        else:  # in flight: a repeat, unless it failed meanwhile
            assert answer_id == before.id or answer_id not in known
        self.after_reads([reply.viewer])

    # Stops, reads, Continue -----------------------------------------------------------------------

    @precondition(lambda self: bool(self.chat_sends))
    @rule(pick=PICK, by_client_message_id=st.booleans(), a_replaced_one=st.booleans())
    @step
    def cancel(self, pick: int, by_client_message_id: bool, a_replaced_one: bool) -> None:
        cmid = picked(self.chat_sends, pick).client_message_id
        answer_id = self.current[cmid].id
        if self.told_with_500(self.current[cmid]):
            return self.skip("an answer without a chunk")
        replaced = [a for a in self.answers_of[cmid] if a != answer_id]
        if by_client_message_id:
            response = self.run(self.client.cancel_send(cmid))
        elif a_replaced_one and replaced:
            response = self.run(self.client.cancel(replaced[-1]))
            assert response.status_code == 404, response.text
            return
        else:
            response = self.run(self.client.cancel(answer_id))
        assert response.status_code == 202, response.text
        result = response.json()
        assert result["message_id"] == answer_id, result
        stored = self.rows()[answer_id]
        assert result["status"] != "streaming", result
        assert (result["status"], result["content"]) == (stored.status, stored.content)
        assert result["last_event_id"] == f"{answer_id}:{stored.terminal_seq}", (result, stored)

    @precondition(lambda self: bool(self.sends))
    @rule(pick=PICK, stop_after=STOP_AFTER)
    @step
    def watch(self, pick: int, stop_after: int | None) -> None:
        answer_id = picked(self.answer_ids, pick)
        row = self.current[self.cmid_of[answer_id]]
        exists = row.id == answer_id
        if exists and self.told_with_500(row):
            return self.skip("an answer without a chunk")
        viewer = self.client.watcher(answer_id)
        reader = self.run(self.client.read(viewer, stop_after=stop_after))
        assert reader.status_code == (200 if exists else 404), reader.body
        self.after_reads([viewer])

    @precondition(lambda self: bool(self.sends))
    @rule(pick=PICK, stop_after=STOP_AFTER, in_the_query=st.booleans())
    @step
    def reconnect(self, pick: int, stop_after: int | None, in_the_query: bool) -> None:
        """EventSource sends the last id in the Last-Event-ID header; a client reopening a
        stream by hand passes it as `last_event_id`."""
        if not self.dropped:
            return
        viewer = self.dropped.pop(pick % len(self.dropped))
        assert viewer.message_id is not None and viewer.last_id is not None
        row = self.current[self.cmid_of[viewer.message_id]]
        exists = row.id == viewer.message_id
        if self.told_with_500(row) and (exists or viewer.path.endswith("/chat/stream")):
            return self.skip("an answer without a chunk")
        if exists and not self.same_run(viewer, row):
            # Ids of a run that a Continue went on from do not resume it: open it afresh.
            viewer = self.client.watcher(viewer.message_id)
            reader = self.run(self.client.read(viewer, stop_after=stop_after))
        else:
            resumed = self.client.read(
                viewer, stop_after=stop_after, last_event_id=viewer.last_id, in_query=in_the_query
            )
            reader = self.run(resumed)
        if not exists and not viewer.path.endswith("/chat/stream"):
            assert reader.status_code == 404, reader.body  # the answer was replaced by a retry
            return
        # A send's URL whose answer was replaced meanwhile tells the new answer.
        assert reader.status_code == 200, reader.body
        assert viewer.message_id == row.id, (viewer.message_id, row)
        self.after_reads([viewer])

    @precondition(lambda self: self.can_spend(1) and bool(self.chat_sends))
    @rule(pick=PICK, a_stopped_one=MOSTLY, stop_after=STOP_AFTER)
    @step
    def continue_answer(self, pick: int, a_stopped_one: bool, stop_after: int | None) -> None:
        self.may_spend += 1
        stopped = self.chat_sends_whose_answer(
            lambda row: row.status in CONTINUABLE and not self.told_with_500(row)
        )
        send = picked(stopped if stopped and a_stopped_one else self.chat_sends, pick)
        before = self.fresh_answer(send)
        continues = before.status in CONTINUABLE
        if self.told_with_500(before):
            # Also test_continue_of_an_answer_stopped_before_its_first_chunk... (xfail).
            return self.skip("an answer without a chunk")
        viewer = self.client.watcher(before.id, "continue")
        # The client that read the answer to its end presses Continue: its view goes on.
        ends_read = [v for v in self.finished if v.message_id == before.id]
        ends_read = [v for v in ends_read if v.last_seq == before.terminal_seq]
        if continues and ends_read:
            self.finished.remove(ends_read[-1])
            ends_read[-1].path, ends_read[-1].params = viewer.path, viewer.params
            viewer = ends_read[-1]
        reader = self.run(self.client.read(viewer, stop_after=stop_after))
        assert reader.status_code == 200, reader.body
        if continues:
            start = reader.events[0]
            assert start.id is not None and start.json["type"] == "start", reader.types
            assert start.json.get("prefix") == before.content, (start.json, before)
            assert split_event_id(start.id)[1] == before.terminal_seq + 1, (start.id, before)
        self.after_reads([viewer])

    @precondition(lambda self: bool(self.sends))
    @rule(
        pick=PICK,
        endpoint=st.sampled_from(["stream", "message", "turns"]),
        other_kind=st.booleans(),
        regenerate=st.booleans(),
    )
    @step
    def reuse_refused(self, pick: int, endpoint: str, other_kind: bool, regenerate: bool) -> None:
        send = picked(list(self.sends.values()), pick)
        if other_kind:
            reuse = replace(send, kind="onboarding" if send.kind == "chat" else "chat")
        else:
            reuse = replace(send, text=send.text + " (edited)")
        reply = self.run(self.client.send(reuse, endpoint, regenerate=regenerate))
        assert (reply.status_code, reply.error_code) == (409, "conflict"), reply

    # Several at once --------------------------------------------------------------------------

    @precondition(lambda self: self.can_spend(BURST_MAX + 1) and bool(self.chat_sends))
    @rule(pick=PICK, ops=st.lists(BURST_OPS, min_size=2, max_size=BURST_MAX), fresh=st.booleans())
    @step
    def burst(self, pick: int, ops: list[BurstOp], fresh: bool) -> None:
        """Repeats, retries, cancels, watches and Continues of one send at once (and a new send
        of another id alongside)."""
        self.may_spend += sum(op.kind in {"retry", "continue"} for op in ops) + fresh
        send = picked(self.chat_sends, pick)
        before = self.fresh_answer(send)
        ops = self.runnable(ops, send, before)
        known = set(self.cmid_of)
        new_send = self.new_send() if fresh else None
        results, extra = self.run(self.at_once(send, before.id, ops, new_send))
        if new_send is not None:
            assert extra is not None
            self.expect_sent(extra, "stream", may_fail=False)
            self.sends[new_send.client_message_id] = new_send
            self.learn(new_send, extra)
        named = {r.answer_id for r in results if r.op.kind in {"repeat", "retry"} and r.answer_id}
        new = named - known
        for answer_id in sorted(new):
            self.note_answer(send, answer_id)
        self.look(self.rows())
        after = self.current[send.client_message_id].id
        if not any(op.kind == "retry" for op in ops):
            assert named <= {before.id} and not new, f"a repeat named another answer: {named}"
        assert after in new | {before.id}, "the stored answer is none that a response named"
        replaced = after != before.id
        for result in results:
            kind, code, body = result.op.kind, result.status_code, result.body
            assert code != 429, body
            if kind in {"repeat", "retry"}:
                reply = Reply(code, result.answer_id, result.viewer, body or {})
                self.expect_sent(reply, result.op.endpoint, may_fail=True)
            elif kind == "cancel_send":
                assert code == 202 and body["status"] != "streaming", result
                assert body["message_id"] in new | {before.id}, result
            elif kind == "cancel":
                assert code == 202 or (replaced and code == 404), result
                assert code == 404 or body["status"] != "streaming", result
            else:
                assert code == 200 or (replaced and code == 404), result
        self.after_reads([r.viewer for r in results] + [extra.viewer if extra else None])

    def runnable(self, ops: list[BurstOp], send: SendRecord, before: Row) -> list[BurstOp]:
        """The burst's ops, less those that would meet a known back-end bug or hide a count."""
        retries = any(op.kind == "retry" for op in ops)
        continuable = before.status in CONTINUABLE and bool(before.content)
        if self.told_with_500(before):
            self.skip("only retries and repeats by POST /chat/turns of an answer without a chunk")
            ops = [
                op if op.kind == "retry" else replace(op, endpoint="turns")
                for op in ops
                if op.kind in {"repeat", "retry"}
            ]
        runnable = []
        for op in ops:
            if op.kind == "continue" and (retries or not continuable):
                # A retry that deleted the answer a Continue just took up would hide that run
                # from the count; an answer stopped before its first chunk cannot be continued
                # (test_continue_of_an_answer_stopped_before_its_first_chunk, xfail).
                op = replace(op, kind="watch")
            if op.kind in {"repeat", "retry"} and op.endpoint == "message":
                if retries:  # test_a_repeat_waiting_for_an_answer_a_retry_replaces (xfail)
                    op = replace(op, endpoint="stream")
                elif op.kind == "retry" and not self.retry_cannot_fail(send):
                    op = replace(op, endpoint="stream")  # a 502 would name no new answer
            runnable.append(op)
        return runnable

    async def at_once(
        self, send: SendRecord, answer_id: str, ops: list[BurstOp], fresh: SendRecord | None
    ) -> tuple[list[OpResult], Reply | None]:
        async def one(op: BurstOp) -> OpResult:
            if op.kind in {"repeat", "retry"}:
                regenerate = op.kind == "retry"
                reply = await self.client.send(
                    send, op.endpoint, regenerate=regenerate, stop_after=op.stop_after
                )
                return OpResult(op, reply.status_code, reply.answer_id, reply.viewer, reply.body)
            if op.kind in {"cancel", "cancel_send"}:
                response = await (
                    self.client.cancel(answer_id)
                    if op.kind == "cancel"
                    else self.client.cancel_send(send.client_message_id)
                )
                return OpResult(op, response.status_code, body=response.json())
            viewer = self.client.watcher(answer_id, "stream" if op.kind == "watch" else op.kind)
            reader = await self.client.read(viewer, stop_after=op.stop_after)
            assert reader.status_code is not None
            return OpResult(op, reader.status_code, viewer.message_id, viewer, reader.body)

        async def extra() -> Reply | None:
            return None if fresh is None else await self.client.send(fresh, "stream")

        results, extra_reply = await asyncio.gather(
            asyncio.gather(*(one(op) for op in ops)), extra()
        )
        return list(results), extra_reply

    @precondition(lambda self: self.can_spend(1) and bool(self.chat_sends))
    @rule(
        pick=PICK,
        regenerate=st.booleans(),
        endpoints=st.lists(
            st.sampled_from(["stream", "message", "turns"]), min_size=3, max_size=10
        ),
    )
    @step
    def same_send_at_once(self, pick: int, regenerate: bool, endpoints: list[str]) -> None:
        """One send repeated (or retried) several times at once: one answer for them all."""
        self.may_spend += regenerate
        send = picked(self.chat_sends, pick)
        regenerate = regenerate and self.retry_cannot_fail(send)
        before = self.fresh_answer(send)
        if not regenerate and self.told_with_500(before):
            self.skip("an answer without a chunk is repeated by POST /chat/turns")
            endpoints = ["turns" if e == "stream" else e for e in endpoints]
        if regenerate:
            # A retry keeps a reader on its answer, so that answer cannot end before all arrive;
            # and none waits for the answer in flight (test_a_repeat_waiting_for_an_answer...).
            waits = before.status == "streaming"
            endpoints = ["stream" if e == "turns" or waits else e for e in endpoints]
        known = set(self.cmid_of)

        async def all_at_once() -> list[Reply]:
            sends = (self.client.send(send, e, regenerate=regenerate) for e in endpoints)
            return list(await asyncio.gather(*sends))

        replies = self.run(all_at_once())
        may_fail = before.status == "streaming" or (not regenerate and before.status == "error")
        for endpoint, reply in zip(endpoints, replies, strict=True):
            self.expect_sent(reply, endpoint, may_fail=may_fail)
        named = {r.answer_id for r in replies if r.answer_id is not None}
        new = named - known
        for answer_id in sorted(new):
            self.note_answer(send, answer_id)
        count = len(endpoints)
        if regenerate and before.status in REGENERABLE:
            assert len(named) == 1 and len(new) == 1, f"{count} retries made answers {named}"
        elif regenerate and before.status == "streaming":
            assert named - new <= {before.id} and len(new) <= 1, named
        else:
            assert named == {before.id}, f"{count} repeats named {named}, not {before.id}"
        self.after_reads([r.viewer for r in replies])

    # The end ----------------------------------------------------------------------------------

    def teardown(self) -> None:
        rows = self.settle()
        if self.broken:
            return
        streaming = [r for r in rows.values() if r.status == "streaming"]
        assert not streaming, f"answers left streaming: {streaming}"
        self.look(rows)
        for viewer in self.finished:
            self.check_read(viewer, rows.get(viewer.message_id or ""))
        onboarding = self.run(
            self.world.http.get("/api/v1/onboarding", headers=self.client.account.auth)
        ).json()
        assert onboarding["current_step"] == self.first_onboarding_step + self.onboarding_sends, (
            onboarding
        )
        self.rest_of_the_hour_is_admitted()

    def settle(self, timeout_s: float = 20.0) -> dict[str, Row]:
        """The user's rows once no answer is being generated (or after the timeout)."""
        loop = self.world.loop.loop
        deadline = loop.time() + timeout_s
        while True:
            rows = self.rows()
            if all(r.status != "streaming" for r in rows.values()) or loop.time() > deadline:
                return rows
            self.run(asyncio.sleep(0.05))

    def rest_of_the_hour_is_admitted(self) -> None:
        """Exactly the messages not spent are left: nothing else was counted."""
        left = MESSAGES_PER_HOUR - self.spent

        async def post(send: SendRecord) -> httpx.Response:
            body = {"message": send.text, "client_message_id": send.client_message_id}
            return await self.world.http.post(
                "/api/v1/chat/turns", json=body, headers=self.client.account.auth
            )

        async def fill() -> list[httpx.Response]:
            admitted = await asyncio.gather(*(post(self.new_send()) for _ in range(left)))
            return [*admitted, await post(self.new_send())]

        responses = self.run(fill())
        refused = [r.text for r in responses[:-1] if r.status_code != 202]
        assert not refused, f"{self.spent} of {MESSAGES_PER_HOUR} spent, then refused: {refused}"
        over = responses[-1]
        assert over.status_code == 429, f"{self.spent} spent, one more admitted: {over.text}"
        assert over.json()["error"]["code"] == "rate_limited"


def test_sends_repeats_retries_cancels_and_reconnects_keep_one_answer_per_message(
    live_server_factory: AppFactory, database_url: str
) -> None:
    model = FailsOnceModel.from_text(words(CHUNKS), delay_s=CHUNK_DELAY_S)
    assert isinstance(model, FailsOnceModel)
    with LoopThread() as loop:
        server_context = live_server_factory(model=model, **SERVER_SETTINGS)
        server: LiveServer = loop.run(server_context.__aenter__())
        # Idle connections let go well before uvicorn's keep-alive timeout (5 s): one reused as
        # the server closes it would fail a request for a reason that is no bug of the app.
        http = server.client(limits=httpx.Limits(keepalive_expiry=1.0))
        probe = DbProbe(database_url)
        try:
            world = World(loop, server, http, probe, model)
            run_state_machine_as_test(
                lambda: SendStateMachine(world),  # type: ignore[arg-type]  # any factory will do
                settings=settings(
                    max_examples=EXAMPLES,
                    stateful_step_count=STEPS,
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow],
                    # Shrinking replays examples against a server whose timing differs each
                    # time: slow, and seldom the same failure. The step log says what ran.
                    phases=[Phase.explicit, Phase.reuse, Phase.generate],
                ),
            )
        finally:
            loop.run(http.aclose())
            loop.run(probe.dispose())
            loop.run(server_context.__aexit__(None, None, None))
