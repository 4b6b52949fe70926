from decimal import Decimal, InvalidOperation

from django import forms

from planner.alerts.models import validate_recipients
from planner.chargeback.models import (
    MatchField,
    ReportSubscription,
    SharedCostPool,
    SplitMethod,
    TagRule,
    Team,
)


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "cost_centre", "owner_email"]


class TagRuleForm(forms.ModelForm):
    class Meta:
        model = TagRule
        fields = ["team", "tag_key", "tag_value", "priority"]


class SharedCostPoolForm(forms.ModelForm):
    fixed_shares = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Fixed split only: one 'team name: percent' per line (at most 100 in total)",
    )

    class Meta:
        model = SharedCostPool
        fields = [
            "name",
            "match_field",
            "match_key",
            "match_value",
            "method",
            "usage_unit",
            "teams",
            "priority",
        ]

    def clean(self):
        data = super().clean()
        shares = []
        text = data.get("fixed_shares") or ""
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, pct = line.rpartition(":")
            try:
                percent = Decimal(pct.strip())
            except InvalidOperation:
                percent = None
            team = Team.objects.filter(name=name.strip()).first() if sep else None
            if team is None or percent is None or not 0 <= percent <= 100:
                raise forms.ValidationError(
                    f"fixed shares, line {n}: write 'team name: percent' with an existing team "
                    f"and 0–100 (got {line.strip()!r})"
                )
            shares.append((team, percent))
        if sum(p for _, p in shares) > 100:
            raise forms.ValidationError("fixed shares add up to more than 100 %")
        if data.get("method") == SplitMethod.FIXED and not shares:
            raise forms.ValidationError("a fixed split needs its percentages")
        if data.get("match_field") == MatchField.TAG and not data.get("match_key"):
            raise forms.ValidationError("a tag pool needs the tag key to match")
        if data.get("match_field") != MatchField.UNTAGGED and not data.get("match_value"):
            raise forms.ValidationError("say which value the pool takes")
        data["parsed_shares"] = shares
        return data


class SubscriptionForm(forms.ModelForm):
    class Meta:
        model = ReportSubscription
        fields = ["name", "recipients", "frequency", "teams", "active"]
        widgets = {"recipients": forms.Textarea(attrs={"rows": 2})}


class EmailReportForm(forms.Form):
    recipients = forms.CharField(validators=[validate_recipients])
