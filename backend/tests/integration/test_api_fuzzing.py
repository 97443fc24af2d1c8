"""Schemathesis against a running `chatstream serve` and its own /openapi.json: every operation,
signed in, with generated valid and invalid input (a bounded number of cases per operation and
mode): no 5xx, and every status, header and body is one the schema documents.

The stream endpoints take their token in the query: each generated case gets a real one (an
access or a stream token), so the streams themselves are exercised, not only their 401.
Schemathesis's own pytest plugin is not used: it does not run on this pytest (it sets
`Node._nodeid`); its Python API is.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import checks
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case

from tests.fixtures.accounts import DEFAULT_PASSWORD, bearer
from tests.fixtures.environment import CHATSTREAM_BIN, clean_env, free_port
from tests.fixtures.processes import stop_process
from tests.fixtures.waiting import wait_for_port

pytestmark = pytest.mark.timeout(300)

MAX_EXAMPLES = 60  # per operation and mode: about a minute for the whole schema
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,  # invalid input is refused with a 4xx
    checks.positive_data_acceptance,  # input the schema allows is accepted
    checks.missing_required_header,
    checks.unsupported_method,  # a wrong method is a 405 ...
    checks.allow_header_conformance,  # ... whose Allow lists the right ones
    checks.ignored_auth,  # without the token: 401
]

# Not a gap: `format: email` allows any RFC address, and registration refuses the ones that
# cannot receive mail (special-use domains such as .test); the field's description says so.
REFUSED_EMAILS = "email: value is not a valid email address"
# Not a gap either: the onboarding questions are the deployment's own (ONBOARDING_STEPS), listed
# by GET /onboarding/answers; the field's description says another key is refused.
UNKNOWN_QUESTION = "no onboarding question has this key"


def _excused(label: str, response: Any) -> list[Any]:
    """The checks an allowed refusal excuses for this response."""
    if (
        label == "POST /api/v1/auth/register"
        and response.status_code == 422
        and str(response.json().get("error", {}).get("message", "")).startswith(REFUSED_EMAILS)
    ):
        return [checks.positive_data_acceptance]
    if (
        label == "PUT /api/v1/onboarding/answers"
        and response.status_code == 422
        and UNKNOWN_QUESTION in str(response.json().get("error", {}).get("message", ""))
    ):
        return [checks.positive_data_acceptance]
    return []


@dataclass
class RunningAPI:
    base_url: str
    access_token: str
    stream_token: str


@pytest.fixture(scope="module")
def running_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPI]:
    """`chatstream serve` on a new SQLite database (migrated at start), scripted model, limits
    out of the way, and one signed-in user."""
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    data_dir.mkdir()
    port = free_port()
    env = clean_env(
        CHATSTREAM_ENV="test",
        DATA_DIR=str(data_dir),
        LLM_MODEL="scripted",
        SCRIPTED_CHUNK_DELAY_S="0",
        SCRIPTED_CHUNKS="3",
        ENABLE_STREAMING="true",
        RATE_LIMIT_MESSAGES_PER_HOUR="1000000",
        RATE_LIMIT_CONCURRENT_STREAMS="1000",
        LOG_LEVEL="warning",
    )
    with (data_dir.parent / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [str(CHATSTREAM_BIN), "serve", "--port", str(port)],
            cwd=data_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port, process, 90)
            base_url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base_url, timeout=30) as client:
                email = "fuzzer@example.com"
                client.post(
                    "/api/v1/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}
                ).raise_for_status()
                token = client.post(
                    "/api/v1/auth/token", data={"username": email, "password": DEFAULT_PASSWORD}
                ).json()["access_token"]
                stream = client.post("/api/v1/chat/stream-token", headers=bearer(token))
            yield RunningAPI(base_url, token, stream.json()["token"])
        finally:
            stop_process(process)


def _failures_of(operation: Any, mode: GenerationMode, api: RunningAPI) -> set[str]:
    """Generated cases of one operation in one mode, sent and checked: what failed, once each."""
    label = f"{operation.method.upper()} {operation.path}"
    found: set[str] = set()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases every run: a failure here is reproducible
        phases=[Phase.explicit, Phase.generate],  # no shrinking: every failure is reported
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        if case.query is not None and "token" in case.query:
            # Both kinds of token open a stream: half the cases use each.
            odd = len(str(case.query["token"])) % 2
            case.query["token"] = api.stream_token if odd else api.access_token
        response = case.call(base_url=api.base_url, headers=bearer(api.access_token), timeout=30)
        try:
            case.validate_response(
                response,
                checks=CHECKS,
                excluded_checks=_excused(label, response),
                headers=bearer(api.access_token),
                transport_kwargs={"base_url": api.base_url},
            )
        except (Failure, FailureGroup) as exc:
            failures = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
            for failure in failures:
                found.add(
                    f"{label} ({mode.value}): {failure.code} {failure.title} -> "
                    f"{response.status_code} {response.text[:160]!r}"
                    f"\n    {case.as_curl_command(headers=bearer('<token>'))[:400]}"
                )

    try:
        run()
    except Unsatisfiable:
        pass  # no invalid input exists for an operation without parameters or body
    return found


def test_every_operation_answers_as_its_schema_says(running_api: RunningAPI) -> None:
    schema = schemathesis.openapi.from_url(f"{running_api.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 19
    failures: set[str] = set()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures |= _failures_of(operation, mode, running_api)
    assert not failures, "\n".join(sorted(failures))
