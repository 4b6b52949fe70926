"""The demo fleet's services, accounts and price catalog (what is deployed where)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PROVIDER_NAMES = {"aws": "AWS", "azure": "Microsoft", "gcp": "Google Cloud"}
COMPUTE_SERVICE = {
    "aws": "Amazon Elastic Compute Cloud",
    "azure": "Virtual Machines",
    "gcp": "Compute Engine",
}
STORAGE_SERVICE = {
    "aws": "Amazon Simple Storage Service",
    "azure": "Storage",
    "gcp": "Cloud Storage",
}
REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "eastus": "East US", "us-central1": "Iowa"}
ACCOUNTS = {
    "aws": ("111122223333", "Demo ML Production (AWS)"),
    "azure": ("00000000-0000-0000-0000-00000000d3m0", "Demo AI Subscription (Azure)"),
    "gcp": ("demo-genai-prod", "Demo GenAI Project (Google Cloud)"),
}


@dataclass(frozen=True)
class DemoService:
    slug: str
    name: str
    modality: str
    unit_of_work: str
    units_per_request: float
    slo_p95_ms: int
    provider: str
    instance_type: str
    region: str
    throughput_rps: float  # per replica, within the SLO
    peak_rps: float
    min_replicas: int
    max_replicas: int
    committed_replicas: int
    spot_share: float
    base_latency_ms: float
    model_mem_gib: float
    batch_window: tuple[int, int] | None = None  # UTC hours a batch pipeline runs


SERVICES = (
    DemoService(
        "chat-assistant",
        "Chat assistant",
        "llm_chat",
        "1k tokens",
        1.5,
        6000,  # p95 of a whole completion; the recorded p95 runs ~4 s at peak
        "aws",
        "g5.12xlarge",
        "us-east-1",
        4.0,
        48.0,
        2,
        20,
        4,
        0.0,
        900.0,
        70.0,
    ),
    DemoService(
        "embeddings",
        "Embeddings API",
        "embeddings",
        "1k tokens",
        0.5,
        150,
        "gcp",
        "g2-standard-8",
        "us-central1",
        40.0,
        360.0,
        2,
        14,
        3,
        0.3,
        35.0,
        6.0,
    ),
    DemoService(
        "image-gen",
        "Image generation",
        "image_generation",
        "1k images",
        0.001,
        4000,  # p95 per image incl. queueing at the autoscaler target
        "aws",
        "g5.2xlarge",
        "us-east-1",
        0.6,
        5.0,
        1,
        14,
        2,
        0.5,
        420.0,
        18.0,
    ),
    DemoService(
        "speech-to-text",
        "Speech-to-text",
        "speech_to_text",
        "audio-hour",
        30 / 3600,
        3000,
        "azure",
        "Standard_NC4as_T4_v3",
        "eastus",
        3.0,
        24.0,
        2,
        12,
        4,
        0.0,
        600.0,
        10.0,
    ),
    DemoService(
        "text-to-speech",
        "Text-to-speech",
        "text_to_speech",
        "audio-hour",
        15 / 3600,
        800,
        "gcp",
        "g2-standard-4",
        "us-central1",
        5.0,
        22.0,
        1,
        8,
        1,
        0.4,
        180.0,
        8.0,
    ),
    DemoService(
        "video-understanding",
        "Video understanding",
        "video",
        "video-minute",
        1.0,
        10000,
        "azure",
        "Standard_NC24ads_A100_v4",
        "eastus",
        0.3,
        2.1,
        1,
        10,
        0,
        0.0,
        4000.0,
        60.0,
    ),
    DemoService(
        "batch-summariser",
        "Nightly batch summariser",
        "batch",
        "1k documents",
        0.001,
        600000,  # the batch modality's default objective (10 min a document): a nightly job
        # that starts from zero replicas queues its first documents behind a cold start
        "aws",
        "g6.xlarge",
        "us-east-1",
        2.0,
        14.0,
        0,
        8,
        0,
        1.0,
        8000.0,
        16.0,
        (1, 6),
    ),
)


def load_catalog() -> dict[tuple[str, str, str], dict]:
    with open(FIXTURES / "demo_catalog.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = {}
    for r in rows:
        for k in (
            "ondemand_usd_per_hour",
            "spot_usd_per_hour",
            "commit_1y_usd_per_hour",
            "gpu_memory_gib",
        ):
            r[k] = float(r[k]) if r[k] else None
        r["gpu_count"] = int(r["gpu_count"])
        r["spot_interruption_bucket"] = (
            int(r["spot_interruption_bucket"]) if r["spot_interruption_bucket"] else None
        )
        out[(r["provider"], r["instance_type"], r["region"])] = r
    return out
