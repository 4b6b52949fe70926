"""Schemathesis against the served OpenAPI schema: every operation, generated inputs, an admin
token; no 5xx and every documented response matches its schema. Bounded (max_examples) so it
stays well under two minutes. Runs against pytest-django's live server (real HTTP, real DB)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

pytestmark = [pytest.mark.system, pytest.mark.slow]
MAX_EXAMPLES = 6


@pytest.fixture
def api_token(transactional_db, django_user_model, tmp_path):
    """An admin token, and a small fleet so that ids in generated requests can hit real rows."""
    from rest_framework.authtoken.models import Token

    from fixtures_gen.focus_files import write_focus_file
    from planner.core.models import CloudAccount, Deployment, Service
    from planner.core.roles import assign_role

    user = django_user_model.objects.create_user("schemathesis", password="pw-schemathesis-123!")
    assign_role(user, "admin")
    svc = Service.objects.create(
        slug="chat",
        name="Chat",
        modality="llm_chat",
        unit_of_work="1k tokens",
        latency_slo_p95_ms=800,
    )
    src = write_focus_file(tmp_path / "src.csv", rows=50, seed=2).path
    acct = CloudAccount.objects.create(
        provider="aws", account_id="1", name="Prod", source_uri=str(src)
    )
    Deployment.objects.create(
        service=svc,
        account=acct,
        name="chat-use1",
        provider="aws",
        region="us-east-1",
        instance_type="g5.xlarge",
        gpu_model="A10G",
        throughput_rps_per_replica=3.0,
    )
    return Token.objects.create(user=user).key


def test_api_matches_its_schema_and_never_fails(live_server, api_token):
    """Each operation gets MAX_EXAMPLES generated requests (deterministic); all failures are
    collected and reported together with the operation that produced them."""
    from hypothesis import given

    headers = {"Authorization": f"Token {api_token}"}
    api = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/", headers=headers)
    failures, operations = [], 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case):
            case.call_and_validate(
                headers=headers, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            exercise()
        except Exception as exc:  # noqa: BLE001 - collect, report all operations at once
            failures.append(f"{operation.label}: {exc}")
    assert operations >= 30  # the whole API was exercised
    assert not failures, "\n\n".join(failures)
