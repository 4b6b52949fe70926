"""GitOps bundle: tree layout, reproducible zip, CHANGES.md and a commit on a new branch."""

from __future__ import annotations

import io
import subprocess
import zipfile

import pytest

from planner.plans.exports.bundle import BundleError, build_bundle, commit_to_git
from planner.plans.exports.validate import validate_yaml

EXPECTED_PATHS = [
    "CHANGES.md",
    "clusters/prod-euw4/karpenter/embeddings-on-demand.yaml",
    "clusters/prod-euw4/namespaces/inference/embeddings.scaledobject.yaml",
    "clusters/prod-euw4/namespaces/inference/embeddings.warm-pool.yaml",
    "clusters/prod-euw4/warm-pool-priorityclass.yaml",
    "clusters/prod-use1/karpenter/chat-llm-on-demand.yaml",
    "clusters/prod-use1/karpenter/chat-llm-spot.yaml",
    "clusters/prod-use1/karpenter/image-gen-spot.yaml",
    "clusters/prod-use1/namespaces/inference/chat-llm-vllm.capacity-spread.patch.yaml",
    "clusters/prod-use1/namespaces/inference/chat-llm-vllm.scaledobject.yaml",
    "clusters/prod-use1/namespaces/media/sdxl-worker.scaledobject.yaml",
]


def test_tree_layout_per_cluster_and_namespace(known_plan, tmp_path):
    bundle = build_bundle(known_plan, plan_version=3)
    assert sorted(bundle.files) == EXPECTED_PATHS
    written = bundle.write_tree(tmp_path)
    assert len(written) == len(EXPECTED_PATHS)
    for path in bundle.manifest_paths():
        validate_yaml((tmp_path / path).read_text(), source=path)


def test_hpa_for_clusters_without_keda(known_plan):
    bundle = build_bundle(known_plan, autoscaler={"prod-euw4": "hpa"})
    assert "clusters/prod-euw4/namespaces/inference/embeddings.hpa.yaml" in bundle.files
    assert "clusters/prod-use1/namespaces/media/sdxl-worker.scaledobject.yaml" in bundle.files
    with pytest.raises(BundleError, match="not keda or hpa"):
        build_bundle(known_plan, autoscaler="vpa")


def test_zip_is_reproducible_and_complete(known_plan):
    a = build_bundle(known_plan).to_zip()
    b = build_bundle(known_plan).to_zip()
    assert a == b
    with zipfile.ZipFile(io.BytesIO(a)) as zf:
        assert zf.namelist() == EXPECTED_PATHS
        assert zf.read("CHANGES.md").decode().startswith("# Headroom plan")


def test_changes_summary_against_previous_plan(known_plan):
    chat, embed, images = known_plan
    prev_chat = chat.__class__(
        **{
            **chat.__dict__,
            "max_replicas": 10,
            "spot_share": 0.3,
            "expected_monthly_cost_usd": 70000.0,
        }
    )
    text = build_bundle(known_plan, previous=[prev_chat, embed]).files["CHANGES.md"]
    # totals: old 70000 + 8400 = 78400; new 61250 + 8400 + 12975.5 = 82625.5
    assert "$78,400.00 -> $82,625.50 (+4,225.50 USD/month)" in text
    assert "## chat-llm (prod-use1/inference): changed" in text
    assert "- `max_replicas`: 10 -> 12" in text
    assert "- `spot_share`: 0.3 -> 0.5" in text
    assert "(-8,750.00)" in text
    assert "## image-gen (prod-use1/media): added" in text
    assert "## embeddings (prod-euw4/inference): unchanged" in text
    assert "buy 2 x p4d.24xlarge savings_plan for 12 months" in text


def test_empty_plan_is_refused():
    with pytest.raises(BundleError, match="no decisions"):
        build_bundle([])


def git(repo, *args):
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    r = tmp_path / "gitops"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    (r / "README.md").write_text("fleet config\n")
    git(r, "add", "README.md")
    git(r, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "init")
    (r / "scratch.txt").write_text("uncommitted work\n")  # must survive untouched
    return r


def test_commit_on_new_branch_leaves_checkout_alone(known_plan, repo):
    bundle = build_bundle(known_plan, plan_version=3)
    result = commit_to_git(bundle, repo, "headroom/plan-3", "Apply Headroom plan v3")
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert (repo / "scratch.txt").read_text() == "uncommitted work\n"
    assert not (repo / "headroom").exists()
    files = git(repo, "ls-tree", "-r", "--name-only", result.branch).splitlines()
    assert sorted(f for f in files if f.startswith("headroom/")) == [
        f"headroom/{p}" for p in EXPECTED_PATHS
    ]
    assert (
        git(repo, "log", "-1", "--format=%s|%an", result.branch)
        == "Apply Headroom plan v3|Headroom"
    )
    assert git(repo, "rev-parse", result.branch) == result.sha
    assert git(repo, "worktree", "list").count("\n") == 0  # temporary worktree removed


def test_commit_refuses_existing_branch_and_no_op(known_plan, repo):
    bundle = build_bundle(known_plan)
    commit_to_git(bundle, repo, "plan-a", "a")
    with pytest.raises(BundleError, match="already exists"):
        commit_to_git(bundle, repo, "plan-a", "again")
    with pytest.raises(BundleError, match="nothing to commit"):
        commit_to_git(bundle, repo, "plan-b", "same content", base="plan-a")
    assert "plan-b" not in git(repo, "branch", "--list")


def test_commit_outside_git_is_clear(known_plan, tmp_path):
    with pytest.raises(BundleError, match="git"):
        commit_to_git(build_bundle(known_plan), tmp_path, "x", "m")
