"""Reporting currency: EUR charges reported in USD at the ECB rate of their day, the daily
refresh from a (here local) ECB mirror re-converting the rollups, an unreachable mirror
leaving the rates in use, and the pages saying which rates were applied."""

from __future__ import annotations

import datetime as dt
import http.server
import io
import threading
import zipfile
from decimal import Decimal

import pytest
from billing_rows import load_rows
from django.db.models import Sum
from django.urls import reverse

from planner.billing.models import CostRollup
from planner.billing.tasks import refresh_fx_rates
from tests.factories import make_account

pytestmark = pytest.mark.django_db
DAY = dt.datetime(2034, 2, 8, 10, tzinfo=dt.UTC)  # a Wednesday


def _rate_zip(rows: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("eurofxref-hist.csv", rows)
    return buf.getvalue()


@pytest.fixture
def mirror():
    """An ECB-format history file served on 127.0.0.1 (EUR 1 = USD 2.0 on 2034-02-07)."""
    body = _rate_zip("Date,USD,GBP,\n2034-02-07,2.0,0.5,\n2034-02-01,1.5,0.4,\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/eurofxref-hist.zip"
    server.shutdown()


@pytest.fixture
def eur_account():
    acct = make_account(provider="azure", account_id="fx-eur", name="EUR account")
    load_rows(acct, [{"ChargePeriodStart": DAY, "EffectiveCost": 1000.0, "BillingCurrency": "EUR"}])
    return acct


def _usd(acct) -> Decimal:
    return CostRollup.objects.filter(account=acct).aggregate(s=Sum("effective_cost"))["s"]


def test_currency_refresh_from_mirror_reconverts_rollups(eur_account, mirror, settings, tmp_path):
    settings.REPORTING_CURRENCY = "USD"
    settings.FX_RATES_FILE = tmp_path / "fx" / "eurofxref-hist.zip"
    settings.FX_RATES_URL = mirror
    before = CostRollup.objects.get(account=eur_account)
    assert before.billing_currency == "EUR" and before.billing_effective_cost == Decimal("1000")
    result = refresh_fx_rates.delay().get()
    assert result["refreshed"] is True
    assert settings.FX_RATES_FILE.exists()
    # 2034-02-08 has no publication: the rate of the last day before it, 2034-02-07, applies
    row = CostRollup.objects.get(account=eur_account)
    assert row.fx_rate == Decimal("2") and row.fx_rate_date == dt.date(2034, 2, 7)
    assert _usd(eur_account) == Decimal("2000")
    assert row.billing_effective_cost == Decimal("1000")  # the original amount is kept
    again = refresh_fx_rates.delay().get()
    assert again == {"refreshed": False, "groups": 0}  # idempotent
    settings.REPORTING_CURRENCY = "GBP"  # a new reporting currency re-converts without re-ingest
    refresh_fx_rates.delay().get()
    row = CostRollup.objects.get(account=eur_account)
    assert (row.currency, row.effective_cost) == ("GBP", Decimal("500"))


def test_currency_refresh_unreachable_keeps_the_rates_in_use(eur_account, settings, tmp_path):
    settings.FX_RATES_FILE = tmp_path / "fx" / "eurofxref-hist.zip"
    settings.FX_RATES_URL = "http://127.0.0.1:1/eurofxref-hist.zip"  # nothing listens there
    before = _usd(eur_account)
    result = refresh_fx_rates.delay().get()
    assert result["refreshed"] is False
    assert result["error"].startswith(("URLError", "ConnectionRefusedError"))
    assert not settings.FX_RATES_FILE.exists()
    assert _usd(eur_account) == before


def test_currency_refresh_refuses_a_file_that_is_not_rates(eur_account, settings, tmp_path):
    settings.FX_RATES_FILE = tmp_path / "fx.zip"
    settings.FX_RATES_FILE.write_bytes(_rate_zip("Date,USD,\n2034-02-07,3.0,\n"))
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"<html>maintenance</html>")
    settings.FX_RATES_URL = bad.as_uri()
    result = refresh_fx_rates.delay().get()
    assert result["refreshed"] is False and "Date" in result["error"]
    assert settings.FX_RATES_FILE.read_bytes() == _rate_zip("Date,USD,\n2034-02-07,3.0,\n")


def test_currency_pages_say_which_rate_was_used(
    eur_account, mirror, settings, tmp_path, admin_client
):
    settings.FX_RATES_FILE = tmp_path / "fx" / "eurofxref-hist.zip"
    settings.FX_RATES_URL = mirror
    refresh_fx_rates.delay().get()
    for url in (
        reverse("dashboard") + f"?start=2034-02-01&end=2034-02-28&account={eur_account.pk}",
        reverse("chargeback") + "?month=2034-02",
        reverse("commitments") + "?start=2034-02-01&end=2034-02-28",
    ):
        page = admin_client.get(url).content.decode()
        assert "EUR converted at the ECB euro reference rate" in page, url
        assert "2034-02-07" in page, url
