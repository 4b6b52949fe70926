from django import forms

from planner.commitments.models import ExpiryAlertRule
from planner.core.models import CloudAccount


class ContractUploadForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=CloudAccount.objects.all(), required=False, help_text="Optional"
    )
    file = forms.FileField(help_text="FOCUS 1.3+ Contract Commitment: .csv, .csv.gz or .parquet")

    def clean_file(self):
        f = self.cleaned_data["file"]
        if not f.name.lower().endswith((".csv", ".csv.gz", ".gz", ".parquet")):
            raise forms.ValidationError("Upload the dataset as .csv, .csv.gz or .parquet.")
        return f


class ExpiryAlertRuleForm(forms.ModelForm):
    class Meta:
        model = ExpiryAlertRule
        fields = ["name", "recipients", "days_before", "active"]
        widgets = {"recipients": forms.Textarea(attrs={"rows": 2})}
