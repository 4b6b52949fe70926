from django import forms
from django.conf import settings

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
        name = f.name.lower()
        if not name.endswith((".csv", ".csv.gz", ".parquet", ".gz")):
            raise forms.ValidationError("Upload a FOCUS export as .csv, .csv.gz or .parquet.")
        limit = settings.HEADROOM_MAX_UPLOAD_MB * 1024 * 1024
        if f.size > limit:
            raise forms.ValidationError(
                f"The file is {f.size / 1e6:.0f} MB; the limit is {limit / 1e6:.0f} MB."
            )
        return f
