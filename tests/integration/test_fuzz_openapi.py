"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis).

For every documented operation, schemathesis generates valid and invalid requests from the served
`/openapi.json` (fixed: derandomized Hypothesis, no example database), sends them to a backend of their
own (so thousands of fuzzed products never meet the other tests' data) with the admin token, and checks:
no 5xx, the status code is documented, the content type is documented, the body matches the documented
schema, invalid input is refused with a 4xx and valid input is not refused as malformed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis import GenerationMode, checks

from infra.wiring import ROUTES
from tests.integration.conftest import ADMIN_TOKEN, RunningBackend, start_backend

EXAMPLES_PER_OPERATION = 60
MIN_TOTAL_REQUESTS = 1000
SENT: Counter[str] = Counter()


@pytest.fixture(scope="module")
def fuzz_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBackend]:
    with start_backend(tmp_path_factory.mktemp("fuzz")) as running:
        yield running


@pytest.fixture(scope="module")
def api_schema(fuzz_backend: RunningBackend) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzz_backend.base_url}/openapi.json")


FUZZ_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
# One test per wiring route and generation mode: the document must cover exactly these operations.
OPERATIONS = [(r.method, r.path) for r in ROUTES]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
# The contract checks. Not used: `positive_data_acceptance` (schema-valid input may still break a
# business rule: a country we do not ship to, a cursor we never issued, an unsigned webhook: 4xx is
# right) and `negative_data_rejection` (we always send the admin token, so its "missing Authorization"
# mutations are not missing, and unknown query parameters are tolerated by design, as API Gateway does).
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


def test_the_document_covers_every_route_of_the_wiring(api_schema: schemathesis.BaseSchema) -> None:
    documented = {
        (method.upper(), path)
        for path, operations in api_schema.raw_schema["paths"].items()
        for method in operations
    }
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_conforms_to_its_documented_contract(
    api_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @FUZZ_SETTINGS
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case) -> None:
        SENT[f"{method} {path}"] += 1
        case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, checks=CHECKS, timeout=60)

    try:
        fuzz()
    except hypothesis.errors.Unsatisfiable:
        # Nothing in the operation's documented input can be made invalid (the webhook takes a raw,
        # signed body): there is no negative case to send. Positive generation must always work.
        if mode is not GenerationMode.NEGATIVE:
            raise
        pytest.skip(f"no schema-violating request exists for {method} {path}")


def test_the_fuzzer_sent_enough_requests() -> None:
    # Runs after the parametrized operations (same module, defined later): the bound is real work.
    if not SENT:
        pytest.skip("the fuzzing test did not run (deselected)")
    assert sum(SENT.values()) >= MIN_TOTAL_REQUESTS, dict(SENT)
