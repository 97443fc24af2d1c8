"""The front end's checked-in OpenAPI schema (the source of its API types) is the server's."""

from __future__ import annotations

import json
from pathlib import Path

from app.main import create_app
from tests.fixtures.server import make_settings

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "frontend" / "src" / "api" / "openapi.json"


def test_checked_in_schema_matches_the_server(tmp_path: Path) -> None:
    live = json.dumps(create_app(make_settings(tmp_path)).openapi(), indent=2, sort_keys=True)
    assert SCHEMA_FILE.read_text() == live + "\n", (
        "The API changed: run `npm run api:schema && npm run api:types` in frontend/."
    )
