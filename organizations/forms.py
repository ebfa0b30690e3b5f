from __future__ import annotations

from django import forms

from organizations.services import create_organization


class SignupForm(forms.Form):
    """Extra sign-up fields: a new user starts their own organization on the free plan, as its owner."""

    full_name = forms.CharField(max_length=200, label="Your name")
    organization_name = forms.CharField(
        max_length=200, label="Organization name", help_text="Your training company; you can invite colleagues later."
    )

    field_order = ["full_name", "email", "organization_name", "password1", "password2"]

    def signup(self, request, user) -> None:
        user.full_name = self.cleaned_data["full_name"]
        user.save(update_fields=["full_name"])
        create_organization(name=self.cleaned_data["organization_name"], owner=user, plan="free")
