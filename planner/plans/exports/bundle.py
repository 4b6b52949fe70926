"""GitOps bundle: every manifest of a plan as files, a zip, or a git commit.

Layout (one directory per cluster and namespace, ready for Argo CD / Flux)::

    CHANGES.md
    clusters/<cluster>/karpenter/<slug>-spot.yaml
    clusters/<cluster>/karpenter/<slug>-on-demand.yaml
    clusters/<cluster>/namespaces/<namespace>/<deployment>.scaledobject.yaml   (KEDA)
    clusters/<cluster>/namespaces/<namespace>/<deployment>.hpa.yaml            (no KEDA)
    clusters/<cluster>/namespaces/<namespace>/<deployment>.capacity-spread.patch.yaml (spot split)
    clusters/<cluster>/namespaces/<namespace>/<deployment>.warm-pool.yaml      (warm pool)
    clusters/<cluster>/warm-pool-priorityclass.yaml

Every file is re-validated (parsed back from its YAML text) before the bundle
is returned, so what is offered is exactly what was checked. The zip is
byte-for-byte reproducible (fixed timestamps, sorted entries).
"""

from __future__ import annotations

import io
import subprocess
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml

from planner.plans.errors import BundleError

from .autoscalers import LiveTargets, render_hpa, render_scaled_object
from .decision import PlanDecision
from .diff import changes_markdown, diff_plans
from .karpenter import render_node_pools, render_spread_patch
from .validate import validate_yaml
from .warm_pool import render_priority_class, render_warm_pool

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
#: The bundle's warm-pool placeholders hold nodes only; the serving image is pulled when a
#: replica takes the node (pass the image to render_warm_pool for a true warm start).
PLACEHOLDER_IMAGE = "registry.k8s.io/pause:3.10"


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # libyaml when available
    """Plain YAML as kubectl writes it: a dict shared by two manifests is written out twice,
    never as an anchor and alias (clusters' drift reports are refused if they carry aliases)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_manifests(manifests: Iterable[dict[str, Any]]) -> str:
    """Multi-document YAML, keys in rendering order."""
    return yaml.dump_all(list(manifests), Dumper=_Dumper, sort_keys=False, explicit_start=True)


@dataclass(frozen=True)
class Bundle:
    """Relative POSIX path -> file text."""

    files: Mapping[str, str] = field(default_factory=dict)

    def manifest_paths(self) -> list[str]:
        return sorted(p for p in self.files if p.endswith(".yaml"))

    def to_zip(self) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(self.files):
                info = zipfile.ZipInfo(path, date_time=ZIP_EPOCH)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, self.files[path])
        return buf.getvalue()

    def write_tree(self, root: Path) -> list[Path]:
        """Write (overwrite) the files under ``root``; return the written paths."""
        written = []
        for rel, text in sorted(self.files.items()):
            target = root.joinpath(*PurePosixPath(rel).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(target)
        return written


def build_bundle(
    decisions: Sequence[PlanDecision],
    previous: Sequence[PlanDecision] = (),
    *,
    plan_version: int | None = None,
    autoscaler: Literal["keda", "hpa"] | Mapping[str, str] = "keda",
    live: LiveTargets | None = None,
    node_class: str = "default",
    title: str = "Headroom plan",
) -> Bundle:
    """Render, validate and lay out every manifest of ``decisions``.

    ``autoscaler`` is ``keda``/``hpa`` for all clusters or a mapping
    cluster -> kind. ``previous`` (the applied plan) feeds CHANGES.md.
    """
    if not decisions:
        raise BundleError("the plan has no decisions; add at least one service")
    files: dict[str, str] = {}
    for d in decisions:
        kind = autoscaler if isinstance(autoscaler, str) else autoscaler.get(d.cluster, "keda")
        base = f"clusters/{d.cluster}"
        ns_dir = f"{base}/namespaces/{d.namespace}"
        if kind == "keda":
            so = render_scaled_object(d, plan_version, live)
            files[f"{ns_dir}/{d.deployment_name}.scaledobject.yaml"] = dump_manifests([so])
        elif kind == "hpa":
            files[f"{ns_dir}/{d.deployment_name}.hpa.yaml"] = dump_manifests(
                [render_hpa(d, plan_version)]
            )
        else:
            raise BundleError(f"cluster {d.cluster}: autoscaler {kind!r} is not keda or hpa")
        for pool in render_node_pools(d, plan_version, node_class):
            path = f"{base}/karpenter/{pool['metadata']['name']}.yaml"
            if path in files:
                raise BundleError(f"two services render the same NodePool {path}")
            files[path] = dump_manifests([pool])
        patch = render_spread_patch(d)
        if patch is not None:
            files[f"{ns_dir}/{d.deployment_name}.capacity-spread.patch.yaml"] = dump_manifests(
                [patch]
            )
        if d.warm_pool_replicas:
            files[f"{base}/warm-pool-priorityclass.yaml"] = dump_manifests(
                [render_priority_class()]
            )
            files[f"{ns_dir}/{d.deployment_name}.warm-pool.yaml"] = dump_manifests(
                [render_warm_pool(d, PLACEHOLDER_IMAGE, plan_version)]
            )
    for path in sorted(files):
        validate_yaml(files[path], source=path)
    files["CHANGES.md"] = changes_markdown(diff_plans(previous, decisions), decisions, title)
    return Bundle(files)


@dataclass(frozen=True)
class CommitResult:
    branch: str
    sha: str
    paths: tuple[str, ...]


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BundleError(f"git {' '.join(args)} failed in {cwd}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def commit_to_git(
    bundle: Bundle,
    repo: Path,
    branch: str,
    message: str,
    *,
    subdir: str = "headroom",
    base: str = "HEAD",
    author: str = "Headroom <headroom@localhost>",
) -> CommitResult:
    """Commit the bundle under ``subdir`` on a new ``branch`` of the work tree ``repo``.

    Uses a temporary ``git worktree`` so the user's checkout, index and
    uncommitted files are untouched. Refuses an existing branch name.
    """
    repo = Path(repo)
    if _git(repo, "rev-parse", "--is-inside-work-tree") != "true":
        raise BundleError(f"{repo} is not a git work tree")
    exists = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
        capture_output=True,
    )
    if exists.returncode == 0:
        raise BundleError(f"branch {branch!r} already exists in {repo}; pick a new name")
    name, _, email = author.partition(" <")
    with tempfile.TemporaryDirectory(prefix="headroom-gitops-") as tmp:
        wt = Path(tmp) / "wt"
        _git(repo, "worktree", "add", "--quiet", "-b", branch, str(wt), base)
        try:
            root = wt / subdir if subdir else wt
            written = bundle.write_tree(root)
            rel = [str(p.relative_to(wt)) for p in written]
            _git(wt, "add", "--", *rel)
            staged = _git(wt, "diff", "--cached", "--name-only")
            if not staged:
                raise BundleError(f"nothing to commit: {subdir or '.'} already matches the plan")
            _git(
                wt,
                "-c",
                f"user.name={name}",
                "-c",
                f"user.email={email.rstrip('>')}",
                "commit",
                "--quiet",
                "-m",
                message,
            )
            sha = _git(wt, "rev-parse", "HEAD")
        except BundleError:
            _git(repo, "worktree", "remove", "--force", str(wt))
            _git(repo, "branch", "-D", branch)
            raise
        _git(repo, "worktree", "remove", "--force", str(wt))
    return CommitResult(branch, sha, tuple(staged.splitlines()))
