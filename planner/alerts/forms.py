from django import forms

from planner.alerts import webhooks
from planner.alerts.errors import WebhookError
from planner.alerts.models import AnomalyStatus, AnomalySubscription, Budget


def clean_webhook(url: str) -> str:
    """A webhook URL Headroom will post to (https, public host, allow-list), or a form error."""
    if url:
        try:
            webhooks.check_url(url, resolve=False)
        except WebhookError as exc:
            raise forms.ValidationError(str(exc)) from None
    return url


class ThresholdsField(forms.CharField):
    """Whole percentages as text: '50, 80, 100'."""

    def to_python(self, value):
        text = super().to_python(value) or ""
        out = []
        for part in text.replace(";", ",").split(","):
            part = part.strip().rstrip("%").strip()
            if not part:
                continue
            try:
                number = int(part)
            except ValueError:
                raise forms.ValidationError(
                    f"{part!r} is not a whole percentage; write e.g. 50, 80, 100."
                ) from None
            if not 1 <= number <= 1000:
                raise forms.ValidationError(f"{number}% is outside 1–1000 %.")
            out.append(number)
        return sorted(set(out))

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return value


class BudgetForm(forms.ModelForm):
    webhook_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Webhook URL",
        help_text="Optional Slack-compatible incoming webhook (kept out of logs)",
    )
    actual_thresholds = ThresholdsField(
        required=False, initial="50, 80, 100", help_text="Percent of the budget spent so far"
    )
    forecast_thresholds = ThresholdsField(
        required=False, initial="100", help_text="Percent of the budget forecast at period end"
    )

    class Meta:
        model = Budget
        fields = [
            "name",
            "scope",
            "account",
            "service",
            "tag_value",
            "period",
            "amount_usd",
            "actual_thresholds",
            "forecast_thresholds",
            "recipients",
            "webhook_url",
            "active",
        ]
        widgets = {"recipients": forms.Textarea(attrs={"rows": 2})}
        labels = {"amount_usd": "Amount (USD)", "tag_value": "Tag value"}

    def clean_webhook_url(self):
        return clean_webhook(self.cleaned_data["webhook_url"])


class AnomalyStatusForm(forms.Form):
    status = forms.ChoiceField(choices=AnomalyStatus.choices)
    note = forms.CharField(required=False, max_length=2000)


class AnomalySubscriptionForm(forms.ModelForm):
    webhook_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Optional Slack-compatible incoming webhook (kept out of logs)",
    )

    class Meta:
        model = AnomalySubscription
        fields = ["name", "recipients", "mode", "min_impact_usd", "webhook_url", "active"]
        widgets = {"recipients": forms.Textarea(attrs={"rows": 2})}

    def clean_webhook_url(self):
        return clean_webhook(self.cleaned_data["webhook_url"])
