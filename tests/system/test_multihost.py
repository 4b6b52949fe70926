"""Three hosts: a web process (gunicorn) and two Celery workers, each in its own network
namespace (``ip netns`` + veth on a bridge) with its own working directory and var dir — no
shared disk. They share only PostgreSQL, Redis and an S3 endpoint (moto's server), reached over
the namespaces' network at the bridge address (PostgreSQL and Redis listen on loopback only, so
a small TCP forwarder on the bridge address carries their traffic; nothing in the system
configuration changes, and everything is removed afterwards).

An upload through the web's API lands in S3, a worker in another namespace loads it, the
dashboard served from the web namespace shows its spend; then a second upload's worker is killed
with SIGKILL mid-load and the other worker finishes it (its lease lapses, beat re-sends it).
Needs root (network namespaces), PostgreSQL and Redis; skipped with the reason otherwise.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.db.models import Sum

from fixtures_gen.focus_files import write_focus_file
from planner.billing.models import BillingPeriodLoad, CostRollup, IngestRun
from planner.core.models import CloudAccount
from tests.conftest import REPO, skip_or_fail
from tests.system.s3 import MotoServer
from tests.system.services import (
    REDIS_HOST,
    REDIS_PORT,
    reachable,
    test_database_url,
    wait_for,
)

pytestmark = [pytest.mark.system, pytest.mark.slow]
BUCKET = "headroom-multihost"
SUBNET = "10.231.{}.{}"  # a private range used only on this machine's own test bridge


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


class Network:
    """A bridge on the host (SUBNET .1) and one namespace per host name, each with a veth."""

    def __init__(self, names: list[str]):
        tag = f"{os.getpid() % 10000}"
        self.octet = 100 + os.getpid() % 100
        self.bridge = f"hrbr{tag}"
        self.host_ip = SUBNET.format(self.octet, 1)
        self.ns = {n: f"hr-{n}-{tag}" for n in names}
        self.addr = {n: SUBNET.format(self.octet, 2 + i) for i, n in enumerate(names)}
        self.veths: list[str] = []

    def up(self) -> None:
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.host_ip}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for i, (name, ns) in enumerate(self.ns.items()):
            host_end, ns_end = f"{self.bridge}h{i}", f"{self.bridge}n{i}"
            _ip("netns", "add", ns)
            _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
            self.veths.append(host_end)
            _ip("link", "set", host_end, "master", self.bridge)
            _ip("link", "set", host_end, "up")
            _ip("link", "set", ns_end, "netns", ns)
            _ip("-n", ns, "addr", "add", f"{self.addr[name]}/24", "dev", ns_end)
            _ip("-n", ns, "link", "set", ns_end, "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def down(self) -> None:
        for ns in self.ns.values():
            _ip("netns", "delete", ns, check=False)
        for veth in self.veths:
            _ip("link", "delete", veth, check=False)
        _ip("link", "delete", self.bridge, check=False)

    def prefix(self, name: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns[name]]


class Forwarder:
    """socat: the bridge address's port → a loopback service."""

    def __init__(self, listen: str, port: int, target_port: int):
        self.proc = subprocess.Popen(
            [
                "socat",
                f"TCP-LISTEN:{port},bind={listen},reuseaddr,fork",
                f"TCP:127.0.0.1:{target_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: reachable(listen, port), 20, f"the forwarder on {listen}:{port}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class HostProc:
    """A process in a namespace, in its own working directory, with its log there."""

    def __init__(self, net: Network, host: str, args: list[str], env: dict, root: Path):
        self.dir = root / host
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "var").mkdir(exist_ok=True)
        self.log = self.dir / "process.log"
        env = {**env, "HEADROOM_VAR_DIR": str(self.dir / "var"), "PYTHONPATH": str(REPO)}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [*net.prefix(host), *args],
                cwd=self.dir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def tail(self, n: int = 200_000) -> str:
        return self.log.read_text(errors="replace")[-n:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def _can_make_namespaces() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"hr-probe-{os.getpid()}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    _ip("netns", "delete", probe, check=False)
    return None


@pytest.fixture
def cluster(transactional_db, tmp_path, django_user_model):
    reason = _can_make_namespaces()
    if reason:
        pytest.skip(f"cannot create network namespaces here: {reason}")
    if not reachable(REDIS_HOST, REDIS_PORT):
        skip_or_fail(f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT}")
    db_url = test_database_url()
    net = Network(["web", "w1", "w2"])
    procs: dict[str, HostProc] = {}
    forwarders: list[Forwarder] = []
    moto = None
    try:
        net.up()
        forwarders += [Forwarder(net.host_ip, 15432, 5432), Forwarder(net.host_ip, 16379, 6379)]
        moto = MotoServer(host=net.host_ip, log=tmp_path / "moto.log").start()
        moto.client().create_bucket(Bucket=BUCKET)
        shared = {
            "PATH": os.environ["PATH"],
            "DATABASE_URL": re.sub(r"@[^/]+/", f"@{net.host_ip}:15432/", db_url),
            "CELERY_BROKER_URL": f"redis://{net.host_ip}:16379/13",
            "CELERY_VISIBILITY_TIMEOUT": "7200",  # the production default: recovery is the lease
            "LINE_ITEM_STORE": f"s3://{BUCKET}/lineitems",
            **moto.env(),
            "DEBUG": "1",
            "ALLOWED_HOSTS": net.addr["web"],
            "INGEST_LEASE_S": "3",
            "INGEST_REQUEUE_INTERVAL_S": "1",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
        }
        import redis

        redis.Redis.from_url(f"redis://{REDIS_HOST}:{REDIS_PORT}/13").flushdb()
        py = sys.executable
        procs["web"] = HostProc(
            net,
            "web",
            [
                py,
                "-m",
                "gunicorn",
                "planner.wsgi",
                "-b",
                f"{net.addr['web']}:8000",
                "-w",
                "2",
                "--timeout",
                "120",
            ],
            shared,
            tmp_path,
        )
        for w in ("w1", "w2"):
            procs[w] = HostProc(
                net,
                w,
                [
                    py,
                    "-m",
                    "celery",
                    "-A",
                    "planner",
                    "worker",
                    "-P",
                    "solo",
                    "-l",
                    "info",
                    "-n",
                    f"{w}@%h",
                    "-Q",
                    "ingest,default,alerts",
                ],
                shared,
                tmp_path,
            )
        procs["beat"] = HostProc(
            net,
            "w2",
            [
                py,
                "-m",
                "celery",
                "-A",
                "planner",
                "beat",
                "-l",
                "info",
                "-s",
                str(tmp_path / "beat-schedule"),
            ],
            shared,
            tmp_path / "beat",
        )
        web = f"http://{net.addr['web']}:8000"
        wait_for(lambda: _get(f"{web}/healthz") == 200, 90, "gunicorn in the web namespace")
        for w in ("w1", "w2"):
            wait_for(
                lambda w=w: "ready." in procs[w].tail(),
                90,
                f"worker {w}",
                alive=lambda w=w: procs[w].alive() or pytest.fail(procs[w].tail()),
            )
        yield net, web, procs, moto
    finally:
        for p in procs.values():
            p.stop()
        for f in forwarders:
            f.stop()
        if moto:
            moto.stop()
        net.down()
        for name, p in procs.items():
            print(f"--- {name}\n{p.tail(3000)}")
        if reachable(REDIS_HOST, REDIS_PORT):
            redis.Redis.from_url(f"redis://{REDIS_HOST}:{REDIS_PORT}/13").flushdb()


def _get(url: str) -> int:
    try:
        return requests.get(url, timeout=2).status_code
    except requests.RequestException:
        return 0


def _upload(web: str, token: str, account: CloudAccount, path: Path) -> int:
    with open(path, "rb") as f:
        resp = requests.post(
            f"{web}/api/v1/ingest-runs/",
            headers={"Authorization": f"Token {token}"},
            data={"account": account.pk},
            files={"file": (path.name, f)},
            timeout=120,
        )
    assert resp.status_code == 202, resp.text[:2000]
    return resp.json()["id"]


def test_multihost_upload_loaded_in_another_namespace_and_worker_killed(
    cluster, tmp_path, django_user_model
):
    net, web, procs, moto = cluster
    from rest_framework.authtoken.models import Token

    from planner.core.roles import assign_role

    user = django_user_model.objects.create_user(username="mh-analyst", password="pw-mh-123!x")
    assign_role(user, "analyst")
    token = Token.objects.create(user=user).key
    acct1 = CloudAccount.objects.create(provider="aws", account_id="mh-1", name="multihost 1")
    acct2 = CloudAccount.objects.create(provider="aws", account_id="mh-2", name="multihost 2")

    # 1. upload via web → S3 → loaded by a worker → on the dashboard
    small = write_focus_file(tmp_path / "small.csv.gz", rows=5_000, seed=31, periods=1)
    run1 = _upload(web, token, acct1, small.path)
    wait_for(
        lambda: IngestRun.objects.get(pk=run1).status in ("succeeded", "failed"),
        120,
        "the first upload to load",
    )
    r1 = IngestRun.objects.get(pk=run1)
    assert r1.status == "succeeded" and r1.rows_stored == 5_000, r1.errors
    assert r1.source_uri.startswith(f"s3://{BUCKET}/lineitems/_uploads/")
    loaded_by = [w for w in ("w1", "w2") if "ingest_focus" in procs[w].tail()]
    assert loaded_by, "no worker log shows the ingest"
    assert not any((procs[h].dir / "var" / "lineitems").exists() for h in ("web", "w1", "w2"))
    keys = moto.keys(BUCKET, f"lineitems/account={acct1.pk}/")
    assert any(k.endswith(".parquet") for k in keys)
    spend = float(CostRollup.objects.filter(account=acct1).aggregate(v=Sum("effective_cost"))["v"])
    assert spend == pytest.approx(small.effective_cost_total, abs=0.01)
    session = requests.Session()
    login = session.get(f"{web}/accounts/login/", timeout=30)
    session.post(
        f"{web}/accounts/login/",
        data={
            "username": "mh-analyst",
            "password": "pw-mh-123!x",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": login.url},
        timeout=30,
    )
    period = BillingPeriodLoad.objects.get(account=acct1).billing_period_start
    last = (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    page = session.get(
        f"{web}/",
        params={"account": acct1.pk, "start": period.isoformat(), "end": last.isoformat()},
        timeout=60,
    )
    assert page.status_code == 200 and "kpi-spend" in page.text, page.text[:500]
    shown = float(re.search(r'id="kpi-spend" data-value="([-0-9.]+)"', page.text).group(1))
    assert shown == pytest.approx(spend, abs=0.01)

    # 2. kill the worker mid-load: the other one finishes it
    big = write_focus_file(tmp_path / "big.csv", rows=150_000, seed=32, periods=2)
    before = {w: procs[w].tail().count("ingest_focus") for w in ("w1", "w2")}
    run2 = _upload(web, token, acct2, big.path)
    wait_for(
        lambda: IngestRun.objects.filter(pk=run2, status="running", rows_read__gt=0).exists(),
        120,
        "the big upload to be mid-load",
    )
    busy = next(w for w in ("w1", "w2") if procs[w].tail().count("ingest_focus") > before[w])
    other = "w2" if busy == "w1" else "w1"
    procs[busy].kill()
    wait_for(
        lambda: IngestRun.objects.get(pk=run2).status in ("succeeded", "failed"),
        180,
        "the other worker to finish the load",
        alive=lambda: procs[other].alive() or pytest.fail(procs[other].tail()),
    )
    r2 = IngestRun.objects.get(pk=run2)
    assert r2.status == "succeeded" and r2.attempts == 2, (r2.status, r2.attempts, r2.errors)
    assert r2.rows_stored == 150_000
    assert procs[other].tail().count("ingest_focus") > before[other]  # it was the other worker
    billed = CostRollup.objects.filter(account=acct2).aggregate(v=Sum("billed_cost"))["v"]
    assert float(billed) == pytest.approx(big.billed_cost_total, abs=0.01)
    assert (
        sorted(
            str(p)
            for p in BillingPeriodLoad.objects.filter(account=acct2).values_list(
                "billing_period_start", flat=True
            )
        )
        == big.billing_periods
    )
