"""What must hold after the chaos, checked against the database, the clients' records and the
logs; each check counts what it looked at and describes every violation."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.pool import NullPool

from app.db.session import create_engine
from tests.chaos.client import AnswerRun, HttpRecord
from tests.fixtures.environment import REPO_DIR

API_MD = REPO_DIR / "docs" / "api.md"
TERMINAL_STATUS = {"complete": "complete", "error": "interrupted"}
# The `error` event's code for each stored status (docs/api.md, the table of error codes).
ERROR_CODE_OF_STATUS = {"interrupted": "internal", "cancelled": "cancelled"}


@dataclass(frozen=True)
class StoredMessage:
    id: str
    user_id: str
    role: str
    status: str
    content: str
    client_message_id: str | None
    reply_to_id: str | None


@dataclass
class Check:
    name: str
    checked: int | str = 0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


async def stored_messages(database_url: str, user_ids: Sequence[str]) -> list[StoredMessage]:
    """Every message of these users, as committed."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT id, user_id, role, status, content, client_message_id, reply_to_id "
                    "FROM messages WHERE user_id = ANY(:users)"
                ),
                {"users": [uuid.UUID(user) for user in user_ids]},
            )
            return [
                StoredMessage(
                    str(row.id),
                    str(row.user_id),
                    row.role,
                    row.status,
                    row.content,
                    row.client_message_id,
                    str(row.reply_to_id) if row.reply_to_id else None,
                )
                for row in rows
            ]
    finally:
        await engine.dispose()


def answers(messages: Iterable[StoredMessage]) -> list[StoredMessage]:
    """Assistant messages that answer a user message (not the onboarding greetings)."""
    return [m for m in messages if m.role == "assistant" and m.reply_to_id is not None]


@dataclass
class Evidence:
    """What a violation's description draws on: the clients' stories, faults, the API logs."""

    t0: float
    timeline: str
    api_logs: dict[str, Path]
    detailed: Counter[str] = field(default_factory=Counter)
    details_per_check: int = 5

    def describe(self, check: str, what: str, run: AnswerRun | None, message_id: str | None) -> str:
        lines = [what]
        if run is not None:
            lines.append(f"  client {run.client_message_id}: {run.story(self.t0)}")
        self.detailed[check] += 1
        if self.detailed[check] <= self.details_per_check and message_id:
            lines.append(f"  faults: {self.timeline}")
            lines += [f"  {line}" for line in self.log_lines(message_id)]
        return "\n".join(lines)

    def log_lines(self, message_id: str, per_log: int = 8) -> list[str]:
        """The last lines of each API log that name the answer, shortened."""
        found = []
        for name, path in self.api_logs.items():
            if not path.exists():
                continue
            with path.open(errors="replace") as log:
                hits = [line for line in log if message_id in line]
            found += [f"{name}: {_short(line)}" for line in hits[-per_log:]]
        return found


_LOG_FIELDS = ("status", "reason", "error_type", "chunk_count", "stored_status", "save", "path")


def _short(line: str) -> str:
    """A JSON log line as `time event key=value...`, with the fields that tell the story."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line.strip()[:300]
    fields = " ".join(f"{key}={entry[key]}" for key in _LOG_FIELDS if key in entry)
    return f"{str(entry.get('timestamp', ''))[11:23]} {entry.get('event')} {fields}"[:300]


def check_all(
    runs: Sequence[AnswerRun],
    messages: Sequence[StoredMessage],
    server_errors: Sequence[HttpRecord],
    responses: int,
    logs: dict[str, Path],
    tokens: Sequence[str],
    evidence: Evidence,
) -> list[Check]:
    by_id = {m.id: m for m in messages}
    questions = {(m.user_id, m.client_message_id): m for m in messages if m.role == "user"}
    replies: dict[str, list[StoredMessage]] = defaultdict(list)
    for answer in answers(messages):
        assert answer.reply_to_id is not None
        replies[answer.reply_to_id].append(answer)
    return [
        _terminal_status(runs, messages, by_id, evidence),
        _complete_equals_received(runs, by_id, evidence),
        _unfinished_holds_received(runs, by_id, evidence),
        _told_the_end(runs, evidence),
        _terminal_tells_the_stored_answer(runs, by_id, evidence),
        _one_answer_per_send(runs, questions, replies, evidence),
        _no_undocumented_5xx(server_errors, responses),
        _no_token_in_logs(logs, tokens),
    ]


def _terminal_status(
    runs: Sequence[AnswerRun],
    messages: Sequence[StoredMessage],
    by_id: dict[str, StoredMessage],
    evidence: Evidence,
) -> Check:
    check = Check("every started answer has a terminal status (none left `streaming`)")
    run_of = {run.message_id: run for run in runs if run.message_id}
    started = answers(messages)
    check.checked = len(started)
    name = "terminal status"
    for answer in started:
        if answer.status == "streaming":
            what = f"answer {answer.id} is still `streaming` ({len(answer.content)} characters)"
            check.violations.append(evidence.describe(name, what, run_of.get(answer.id), answer.id))
    for run in runs:
        if run.message_id and run.message_id not in by_id:
            what = f"answer {run.message_id} was started (its client got events) but is not stored"
            check.violations.append(evidence.describe(name, what, run, run.message_id))
    return check


def _first_difference(a: str, b: str, client: str = "received") -> str:
    at = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    return f"stored {len(a)} characters, client {client} {len(b)}; they differ from offset {at}"


def _complete_equals_received(
    runs: Sequence[AnswerRun], by_id: dict[str, StoredMessage], evidence: Evidence
) -> Check:
    check = Check("every `complete` answer equals what its client received, byte for byte")
    for run in runs:
        stored = by_id.get(run.message_id or "")
        if stored is None or stored.status != "complete":
            continue
        check.checked = int(check.checked) + 1
        if stored.content.encode() != run.received.encode():
            what = f"answer {stored.id}: {_first_difference(stored.content, run.received)}"
            check.violations.append(evidence.describe("complete", what, run, stored.id))
    return check


def _unfinished_holds_received(
    runs: Sequence[AnswerRun], by_id: dict[str, StoredMessage], evidence: Evidence
) -> Check:
    check = Check("every `interrupted` answer holds at least what its client shows")
    for run in runs:
        stored = by_id.get(run.message_id or "")
        if stored is None or stored.status in ("complete", "streaming"):
            continue
        check.checked = int(check.checked) + 1
        if not stored.content.startswith(run.shown):
            what = (
                f"answer {stored.id} stored `{stored.status}`: "
                f"{_first_difference(stored.content, run.shown, 'shows')}"
            )
            check.violations.append(evidence.describe("interrupted", what, run, stored.id))
    return check


def _told_the_end(runs: Sequence[AnswerRun], evidence: Evidence) -> Check:
    check = Check("every client got its answer's terminal event, every event once, in order")
    check.checked = len(runs)
    for run in runs:
        seqs = [event.seq for event in run.events]
        indexes = [e.payload.get("index") for e in run.events if e.type == "chunk"]
        problems = []
        if len(run.terminals) != 1:
            problems.append(f"{len(run.terminals)} terminal events")
        # A terminal event written by a survivor comes past the ids the dead writer's clients
        # may have had (docs/api.md), with the text kept.
        skips = bool(run.terminals) and "content" in run.terminals[-1].payload
        if not _numbered_in_order(seqs, end_may_skip=skips):
            problems.append(f"event seqs {_runs_of(seqs)}, not 0..{len(seqs) - 1}")
        if indexes != list(range(len(indexes))):
            problems.append(f"chunk indexes {_runs_of(indexes)}")
        if problems:
            what = f"answer {run.message_id}: " + ", ".join(problems)
            check.violations.append(evidence.describe("told", what, run, run.message_id))
    return check


def _numbered_in_order(seqs: Sequence[int], *, end_may_skip: bool) -> bool:
    """0, 1, 2, ...; the last one may come later when `end_may_skip`."""
    if list(seqs[:-1]) != list(range(len(seqs) - 1)):
        return False
    if not seqs or seqs[-1] == len(seqs) - 1:
        return True
    return end_may_skip and seqs[-1] > len(seqs) - 1


def _runs_of(values: Sequence[object]) -> str:
    """0..17, 17..40: consecutive integers shortened, to show gaps and repeats."""
    parts: list[str] = []
    start = prev = None
    for value in values:
        if isinstance(value, int) and isinstance(prev, int) and value == prev + 1:
            prev = value
            continue
        if start is not None:
            parts.append(f"{start}..{prev}" if start != prev else f"{start}")
        start = prev = value
    if start is not None:
        parts.append(f"{start}..{prev}" if start != prev else f"{start}")
    return ", ".join(parts)


def _terminal_tells_the_stored_answer(
    runs: Sequence[AnswerRun], by_id: dict[str, StoredMessage], evidence: Evidence
) -> Check:
    check = Check("every terminal event tells the stored status and text (docs/api.md)")
    for run in runs:
        stored = by_id.get(run.message_id or "")
        if stored is None or len(run.terminals) != 1:
            continue
        check.checked = int(check.checked) + 1
        terminal = run.terminals[0].payload
        problems = []
        if terminal["type"] == "complete":
            if stored.status != "complete":
                problems.append(f"told `complete`, stored `{stored.status}`")
            if terminal.get("chunks") != len(run.chunks):
                problems.append(
                    f"`complete` counts {terminal.get('chunks')} chunks, "
                    f"the client received {len(run.chunks)}"
                )
        elif ERROR_CODE_OF_STATUS.get(stored.status) != terminal.get("code"):
            problems.append(f"told `error` {terminal.get('code')}, stored `{stored.status}`")
        if stored.content != run.shown:
            problems.append(_first_difference(stored.content, run.shown, "shows"))
        if problems:
            what = f"answer {stored.id}: " + "; ".join(problems)
            check.violations.append(evidence.describe("terminal", what, run, stored.id))
    return check


def _one_answer_per_send(
    runs: Sequence[AnswerRun],
    questions: dict[tuple[str, str | None], StoredMessage],
    replies: dict[str, list[StoredMessage]],
    evidence: Evidence,
) -> Check:
    check = Check("no `client_message_id` produced two answers")
    check.checked = len(runs)
    for run in runs:
        problems = []
        if run.other_message_ids:
            problems.append(f"its client was sent events of {sorted(run.other_message_ids)} too")
        question = questions.get((run.user_id, run.client_message_id))
        if question is not None and len(replies[question.id]) > 1:
            problems.append(f"answers {[a.id for a in replies[question.id]]} in the database")
        if problems:
            what = f"send {run.client_message_id} (answer {run.message_id}): " + "; ".join(problems)
            check.violations.append(evidence.describe("two answers", what, run, run.message_id))
    return check


def documented_5xx() -> dict[int, set[str]]:
    """The 5xx statuses of docs/api.md's table of errors, with their codes."""
    documented: dict[int, set[str]] = {}
    for line in API_MD.read_text().splitlines():
        match = re.match(r"^\|\s*(5\d\d)\s*\|(.*)\|\s*$", line)
        if match:
            documented[int(match[1])] = set(re.findall(r"`([a-z_]+)`", match[2]))
    return documented


def _no_undocumented_5xx(server_errors: Sequence[HttpRecord], responses: int) -> Check:
    check = Check("no 5xx other than a documented 503 (docs/api.md)", responses)
    allowed = documented_5xx().get(503, set())
    seen: Counter[tuple[int, str | None, str | None]] = Counter()
    for error in server_errors:
        if error.status != 503 or error.error_code not in allowed:
            seen[(error.status, error.error_code, error.upstream)] += 1
    for (status, code, upstream), count in sorted(seen.items(), key=str):
        source = f"from {upstream}" if upstream else "from nginx (no upstream answered)"
        check.violations.append(f"{count} x {status} {code or '(no JSON error body)'} {source}")
    return check


_SEGMENT = re.compile(rb"[A-Za-z0-9_-]{16,}")


def _no_token_in_logs(logs: dict[str, Path], tokens: Sequence[str]) -> Check:
    """A token's payload or signature anywhere in a log (its header is the same for all)."""
    secrets: dict[bytes, str] = {}
    for token in tokens:
        _, payload, signature = token.split(".")
        secrets[payload.encode()] = secrets[signature.encode()] = token
    check = Check("no token (access or stream) in any log", f"{len(tokens)} in {len(logs)} logs")
    for name, path in logs.items():
        if not path.exists():
            continue
        found = {secrets[m] for m in _SEGMENT.findall(path.read_bytes()) if m in secrets}
        if found:
            line = _first_line_with(path, next(iter(found)))
            check.violations.append(f"{len(found)} tokens in the {name} ({path}), e.g.: {line}")
    return check


def _first_line_with(path: Path, token: str) -> str:
    _, payload, signature = token.split(".")
    for line in path.read_text(errors="replace").splitlines():
        if payload in line or signature in line:
            return line.replace(payload, "<payload>").replace(signature, "<signature>")[:400]
    return ""


def table(checks: Sequence[Check]) -> str:
    """The invariants as a table: invariant, checked, violations."""
    rows = [("invariant", "checked", "violations")]
    rows += [(c.name, str(c.checked), str(len(c.violations))) for c in checks]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        f"| {row[0]:<{widths[0]}} | {row[1]:>{widths[1]}} | {row[2]:>{widths[2]}} |" for row in rows
    ]
    lines.insert(1, f"|{'-' * (widths[0] + 2)}|{'-' * (widths[1] + 1)}:|{'-' * (widths[2] + 1)}:|")
    return "\n".join(lines)
