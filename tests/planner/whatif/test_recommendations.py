"""Recommendations: figures consistent with an independent what-if run, decisions by analysts only."""

from decimal import Decimal

import pytest
from django.urls import reverse

from planner.core.models import Service
from planner.whatif import services
from planner.whatif.models import Recommendation, RecommendationStatus, Scenario


@pytest.fixture
def embeddings_recs(db, demo_fleet):
    return services.generate_recommendations(Service.objects.get(slug="embeddings"), window_days=3)


@pytest.mark.django_db
def test_each_recommendation_is_reproduced_by_a_what_if_of_its_proposal(embeddings_recs, analyst):
    kinds = {r.kind for r in embeddings_recs}
    assert "plan" in kinds and kinds - {"plan"}  # the joint optimum and named single-lever slices
    for rec in embeddings_recs:
        cur, prop = rec.evidence["current"], rec.evidence["proposed"]
        assert rec.monthly_savings_usd == Decimal(
            str(round(cur["monthly_cost_usd"] - prop["monthly_cost_usd"], 2))
        )
        assert rec.monthly_savings_usd >= Decimal("10")
        assert prop["slo_attainment"] >= cur["slo_attainment"] - services.SLO_TOLERANCE
        assert 0 <= rec.confidence <= 1 and rec.evidence_end > rec.evidence_start
        cal = rec.evidence["calibration"]
        assert {"billed_compute_monthly", "simulated_compute_monthly", "cost_error_pct"} <= set(cal)
        if not rec.evidence["calibrated"]:
            assert rec.confidence == 0.0  # uncalibrated: no confident savings
        bt = rec.evidence["backtest"]
        if bt is None:
            assert rec.confidence == 0.0
        else:
            assert bt["train"][1] == bt["held_out"][0]  # chosen before, replayed after
        if rec.kind == "plan":
            parts = sum(x["monthly_savings_usd"] for x in prop["attribution"])
            assert parts == pytest.approx(float(rec.monthly_savings_usd), rel=0.02, abs=1.0)
        assert any("730-hour month" in a for a in rec.assumptions)
        s = Scenario.objects.create(name="check", parameters=rec.proposal, created_by=analyst)
        s = services.run_scenario_steps(s.pk)
        r = s.result["services"]["embeddings"]
        assert r["scenario"]["monthly_cost_usd"] == pytest.approx(prop["monthly_cost_usd"])
        assert s.result["totals"]["monthly_savings_usd"] == pytest.approx(
            float(rec.monthly_savings_usd), abs=0.011
        )


@pytest.mark.django_db
def test_regenerating_replaces_open_advice_and_keeps_decisions(embeddings_recs, analyst):
    decided = embeddings_recs[0]
    decided.decide(RecommendationStatus.DISMISSED, analyst, "we keep capacity for a launch")
    again = services.generate_recommendations(Service.objects.get(slug="embeddings"), window_days=3)
    assert len(again) == len(embeddings_recs)
    assert Recommendation.objects.filter(status="open").count() == len(again)
    assert Recommendation.objects.get(pk=decided.pk).status == "dismissed"


@pytest.mark.django_db
def test_viewer_sees_disabled_controls_and_gets_403_on_post(client, viewer, embeddings_recs):
    client.force_login(viewer)
    html = client.get(reverse("recommendations")).content.decode()
    assert 'value="accepted" class="primary" disabled' in html
    rec = embeddings_recs[0]
    resp = client.post(
        reverse("recommendation-decide", args=[rec.pk]),
        {"status": "accepted", "reason": "looks good"},
    )
    assert resp.status_code == 403
    assert Recommendation.objects.get(pk=rec.pk).status == "open"
    assert client.post(reverse("recommendations-refresh")).status_code == 403


@pytest.mark.django_db
def test_analyst_accepts_with_a_reason(client, analyst, embeddings_recs):
    client.force_login(analyst)
    rec = embeddings_recs[0]
    url = reverse("recommendation-decide", args=[rec.pk])
    client.post(url, {"status": "accepted", "reason": ""})
    assert Recommendation.objects.get(pk=rec.pk).status == "open"  # no reason, no decision
    client.post(url, {"status": "accepted", "reason": "approved in FinOps review"})
    rec.refresh_from_db()
    assert (rec.status, rec.reason, rec.decided_by) == (
        "accepted",
        "approved in FinOps review",
        analyst,
    )
    assert rec.decided_at is not None


@pytest.mark.django_db
def test_list_totals_filters_and_simulate_link(viewer_client, embeddings_recs):
    resp = viewer_client.get(reverse("recommendations"))
    expected = sum(r.monthly_savings_usd for r in embeddings_recs)
    assert resp.context["summary"]["savings"] == expected
    assert f'data-value="{expected}"' in resp.content.decode()
    spot = viewer_client.get(reverse("recommendations") + "?kind=spot-share")
    assert spot.context["summary"]["n"] == 1
    rec = embeddings_recs[0]
    form = viewer_client.get(reverse("whatif") + f"?recommendation={rec.pk}").context["form"]
    assert [s.slug for s in form.initial["services"]] == ["embeddings"]
    for k, v in rec.proposal.items():
        if k != "services":
            assert form.initial[k] == v


@pytest.mark.django_db
def test_empty_state_explains_where_recommendations_come_from(viewer_client):
    html = viewer_client.get(reverse("recommendations")).content.decode()
    assert "No recommendations" in html and "recorded demand" in html


@pytest.mark.django_db
def test_management_command_refreshes_the_named_services(demo_fleet):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(
        "refresh_recommendations", "--days", "3", "--service", "text-to-speech", stdout=out
    )
    n = Recommendation.objects.filter(service__slug="text-to-speech", status="open").count()
    assert n > 0 and f"text-to-speech: {n} recommendation(s)" in out.getvalue()
    assert not Recommendation.objects.exclude(service__slug="text-to-speech").exists()


def test_confidence_is_realised_over_predicted_savings_halved_when_the_slo_slips():
    from planner.whatif.recommend import confidence_from

    bt = {
        "predicted_savings_usd": 200.0,
        "realised_savings_usd": 150.0,
        "realised_slo_attainment": 0.99,
        "current_slo_attainment_held_out": 0.99,
    }
    assert confidence_from(bt, 1.0, True) == 0.75
    assert confidence_from(bt, 0.5, True) == 0.38  # 0.375 at half the evidence, rounded
    assert confidence_from({**bt, "realised_slo_attainment": 0.95}, 1.0, True) == 0.38
    assert confidence_from({**bt, "realised_savings_usd": -10.0}, 1.0, True) == 0.0
    assert confidence_from({**bt, "realised_savings_usd": 400.0}, 1.0, True) == 1.0
    assert confidence_from(bt, 1.0, False) == 0.0  # uncalibrated
    assert confidence_from(None, 1.0, True) == 0.0  # no backtest
