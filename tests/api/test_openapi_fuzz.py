"""schemathesis against the OpenAPI document of a running paper node's API (a real socket): with the
trade token no operation answers 5xx or breaks its own schema; without a token every operation is
refused and nothing changes (RELIABILITY.md §5, S9; issue #13's acceptance)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_node import TRADE, NodeThread, node_config, tape
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

pytestmark = pytest.mark.real_data
EXAMPLES = 15  # per operation; make soak runs more (SPREADHAWK_SOAK_FUZZ)


@pytest.fixture(scope="module")
def node(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeThread]:
    tmp = tmp_path_factory.mktemp("fuzz")
    config = node_config(shared_data, tmp)
    with NodeThread(config, tape(config, 6_000), tmp) as running:
        yield running


def test_no_operation_fails_with_the_trade_token(node: NodeThread) -> None:
    schema = schemathesis.openapi.from_url(f"{node.url}/openapi.json")
    checked = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document itself is valid
        operation = result.ok()

        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(headers=TRADE)  # every check: no 5xx, responses match the schema, ...

        call()
        checked.append(operation.label)
    assert len(checked) >= 20, checked


def test_nothing_changes_without_a_token(node: NodeThread) -> None:
    import httpx

    document = httpx.get(f"{node.url}/openapi.json").json()
    audit = node.journal.with_name(node.journal.name + ".audit.jsonl")
    before = audit.read_text() if audit.exists() else ""
    for path, operations in document["paths"].items():
        for method in operations:
            response = httpx.request(method.upper(), node.url + path.replace("{run_id}", "x"), json={"reason": "x"})
            expected = 200 if path == "/health" else 401
            assert response.status_code == expected, (method, path, response.status_code)
    assert (audit.read_text() if audit.exists() else "") == before  # no command reached the node
