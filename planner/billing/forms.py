from django import forms

from planner.billing.errors import UploadRefused
from planner.billing.uploads import check_upload
from planner.core.models import CloudAccount


class FocusUploadForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=CloudAccount.objects.all(), help_text="Account the file belongs to"
    )
    file = forms.FileField(help_text="FOCUS 1.0–1.2 export: .csv, .csv.gz or .parquet")
    allow_mixed_currency = forms.BooleanField(
        required=False, help_text="Accept several billing currencies"
    )

    def clean_file(self):
        f = self.cleaned_data["file"]
        try:
            check_upload(f)
        except UploadRefused as exc:
            raise forms.ValidationError(str(exc)) from None
        return f
