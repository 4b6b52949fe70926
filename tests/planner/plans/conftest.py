"""Shared fixtures for plan tests: a known three-service plan covering every trigger kind."""

from __future__ import annotations

import logging

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from planner.plans.exports.decision import (
    AwsScalingTarget,
    CommitmentPurchase,
    PlanDecision,
    PrometheusMetric,
    QueueMetric,
    ScalingPolicy,
    ScalingRules,
    ScheduleWindow,
)


def make_known_plan() -> list[PlanDecision]:
    """Chat LLM on AWS (Prometheus, spot 50 %, weekday pre-scaling), embeddings on
    GCP behind RabbitMQ on a MIG slice with a warm pool, image generation on Azure fed
    by SQS."""
    chat = PlanDecision(
        service_slug="chat-llm",
        namespace="inference",
        cluster="prod-use1",
        deployment_name="chat-llm-vllm",
        provider="aws",
        instance_types=("p5.48xlarge", "p4d.24xlarge"),
        gpus_per_replica=1,
        min_replicas=2,
        max_replicas=12,
        metric=PrometheusMetric(
            server_address="http://prometheus.monitoring:9090",
            query='sum(vllm:num_requests_waiting{service="chat-llm"})',
            threshold=8,
            activation_threshold=1,
            metric_name="chat_llm_queue",
        ),
        polling_interval_seconds=15,
        cooldown_seconds=600,
        scale_up=ScalingRules(30, (ScalingPolicy("Pods", 2, 60), ScalingPolicy("Percent", 50, 60))),
        scale_down=ScalingRules(600, (ScalingPolicy("Pods", 1, 120),), "Min"),
        spot_share=0.5,
        capacity_types=("spot", "on-demand"),
        fallback_replicas=6,
        schedules=(
            ScheduleWindow("weekday-peak", "America/New_York", "0 8 * * 1-5", "0 20 * * 1-5", 8),
        ),
        commitments=(CommitmentPurchase("savings_plan", "p4d.24xlarge", 2, 12, 41.0, 5200.0),),
        expected_monthly_cost_usd=61250.0,
        slo_attainment=0.995,
        consolidation_policy="WhenEmpty",
        consolidate_after="15m",
        aws_target=AwsScalingTarget(
            resource_kind="sagemaker-variant",
            resource_id="endpoint/chat-llm/variant/AllTraffic",
            predefined_metric="SageMakerVariantInvocationsPerInstance",
            target_value=70.0,
            scale_in_cooldown_seconds=600,
            scale_out_cooldown_seconds=60,
        ),
    )
    embed = PlanDecision(
        service_slug="embeddings",
        namespace="inference",
        cluster="prod-euw4",
        deployment_name="embeddings",
        provider="gcp",
        instance_types=("a2-highgpu-1g",),
        mig_profile="1g.5gb",
        min_replicas=1,
        max_replicas=20,
        warm_pool_replicas=1,
        metric=QueueMetric(
            kind="rabbitmq",
            queue_name="embed-requests",
            target_length_per_replica=50,
            connection_env="AMQP_URL",
        ),
        capacity_types=("on-demand",),
        expected_monthly_cost_usd=8400.0,
        slo_attainment=0.999,
        consolidation_policy="WhenEmptyOrUnderutilized",
        consolidate_after="5m",
    )
    images = PlanDecision(
        service_slug="image-gen",
        namespace="media",
        cluster="prod-use1",
        deployment_name="sdxl-worker",
        provider="aws",
        instance_types=("g6e.2xlarge", "g5.2xlarge"),
        min_replicas=0,
        max_replicas=30,
        metric=QueueMetric(
            kind="aws-sqs",
            queue_name="image-jobs",
            target_length_per_replica=5,
            queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/image-jobs",
            aws_region="us-east-1",
            auth_ref="keda-aws-irsa",
        ),
        spot_share=1.0,
        capacity_types=("spot",),
        fallback_replicas=3,
        expected_monthly_cost_usd=12975.5,
        slo_attainment=0.97,
        aws_target=AwsScalingTarget(
            resource_kind="ecs-service",
            resource_id="service/media/sdxl-worker",
            predefined_metric="ECSServiceAverageCPUUtilization",
            target_value=60.0,
        ),
    )
    return [chat, embed, images]


@pytest.fixture
def known_plan() -> list[PlanDecision]:
    return make_known_plan()


AWS_REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_url():
    """moto in server mode on a random local port; boto3 talks to it over HTTP, unpatched."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_url, monkeypatch):
    """Fresh moto state, fake credentials, AWS_ENDPOINT_URL -> moto, and the ECS service
    the known plan's image-gen decision scales."""
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": AWS_REGION,
        "AWS_ENDPOINT_URL": moto_url,
    }.items():
        monkeypatch.setenv(k, v)
    requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    ecs = boto3.client("ecs", region_name=AWS_REGION, endpoint_url=moto_url)
    ecs.create_cluster(clusterName="media")
    ecs.register_task_definition(
        family="sdxl", containerDefinitions=[{"name": "sdxl", "image": "sdxl:1", "memory": 512}]
    )
    ecs.create_service(
        cluster="media", serviceName="sdxl-worker", taskDefinition="sdxl", desiredCount=1
    )
    return boto3.client("application-autoscaling", region_name=AWS_REGION, endpoint_url=moto_url)


@pytest.fixture
def fleet_services(db):
    """core.Service rows for the known plan's three services (two of the slugs are also demo
    fleet services, which every test database starts with: take those over for the test)."""
    from planner.core.models import Modality, Service

    specs = [
        ("chat-llm", Modality.LLM_CHAT, "1k tokens", 800),
        ("embeddings", Modality.EMBEDDINGS, "1k tokens", 150),
        ("image-gen", Modality.IMAGE_GENERATION, "1k images", 9000),
    ]
    return {
        slug: Service.objects.update_or_create(
            slug=slug,
            defaults={
                "name": slug,
                "modality": mod,
                "unit_of_work": unit,
                "latency_slo_p95_ms": slo,
            },
        )[0]
        for slug, mod, unit, slo in specs
    }
