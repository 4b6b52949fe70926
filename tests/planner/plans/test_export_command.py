"""manage.py export_plan: tree, zip and git-branch outputs."""

from __future__ import annotations

import subprocess
import zipfile

import pytest
from django.core.management import CommandError, call_command

from planner.plans.services import create_plan_from_decisions

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(fleet_services, known_plan):
    return create_plan_from_decisions(known_plan, name="cmd")


def test_tree_and_zip(plan, tmp_path, capsys):
    call_command("export_plan", str(plan.version), "--out", str(tmp_path / "tree"))
    assert (tmp_path / "tree/clusters/prod-use1/karpenter/chat-llm-spot.yaml").exists()
    call_command(
        "export_plan", str(plan.version), "--zip", str(tmp_path / "p.zip"), "--autoscaler", "hpa"
    )
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        assert "clusters/prod-euw4/namespaces/inference/embeddings.hpa.yaml" in zf.namelist()
    assert "wrote" in capsys.readouterr().out


def test_git_branch(plan, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()

    def run(*a):
        cmd = ["git", "-C", str(repo), *a]
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout

    run("init", "-q", "-b", "main")
    run("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "init")
    call_command("export_plan", str(plan.version), "--git", str(repo))
    log = run("log", "-1", "--format=%B", "headroom/plan-1")
    assert log.startswith("Headroom plan v1: cmd") and "Expected monthly cost" in log
    with pytest.raises(CommandError, match="already exists"):
        call_command("export_plan", str(plan.version), "--git", str(repo))


def test_unknown_version(db):
    with pytest.raises(CommandError, match="no plan v99"):
        call_command("export_plan", "99", "--out", "/tmp/never")
