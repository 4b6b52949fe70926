"""Export a plan's validated manifests: a directory tree, a zip, or a commit on a new git branch.

python manage.py export_plan 3 --out ./gitops
python manage.py export_plan 3 --zip plan-v3.zip --autoscaler hpa
python manage.py export_plan 3 --git ../fleet-config --branch headroom/plan-3 [--subdir headroom]
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from planner.plans.exports.bundle import BundleError, commit_to_git
from planner.plans.models import Plan
from planner.plans.services import bundle_for


class Command(BaseCommand):
    help = "Write a plan's GitOps bundle to a directory, a zip file or a new branch of a git work tree."

    def add_arguments(self, parser):
        parser.add_argument("version", type=int, help="Plan version (v<N> on the plans page)")
        parser.add_argument("--autoscaler", choices=["keda", "hpa"], default="keda")
        parser.add_argument(
            "--live-url", default="", help="Headroom base URL for the live-target trigger"
        )
        out = parser.add_mutually_exclusive_group(required=True)
        out.add_argument("--out", type=Path, help="Directory to write the tree into")
        out.add_argument("--zip", type=Path, help="Zip file to write")
        out.add_argument("--git", type=Path, help="Existing git work tree to commit into")
        parser.add_argument("--branch", help="New branch name (with --git)")
        parser.add_argument(
            "--subdir", default="headroom", help="Directory inside the repo (with --git)"
        )

    def handle(self, *args, **opts):
        plan = Plan.objects.filter(version=opts["version"]).first()
        if plan is None:
            raise CommandError(f"no plan v{opts['version']}; see the plans page for versions")
        bundle = bundle_for(plan, opts["autoscaler"], opts["live_url"] or None)
        if opts["out"]:
            written = bundle.write_tree(opts["out"])
            self.stdout.write(f"wrote {len(written)} files under {opts['out']}")
        elif opts["zip"]:
            opts["zip"].write_bytes(bundle.to_zip())
            self.stdout.write(f"wrote {opts['zip']} ({len(bundle.files)} files)")
        else:
            branch = opts["branch"] or f"headroom/plan-{plan.version}"
            try:
                result = commit_to_git(
                    bundle,
                    opts["git"],
                    branch,
                    f"Headroom plan v{plan.version}: {plan.name}\n\n{bundle.files['CHANGES.md']}",
                    subdir=opts["subdir"],
                )
            except BundleError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                f"committed {len(result.paths)} files on {result.branch} ({result.sha[:12]})"
            )
