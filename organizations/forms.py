from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from organizations.models import Organization, Role, User
from organizations.services import create_organization, slug_from_name, validate_slug


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


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class OrganizationSettingsForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name", "pass_mark", "notify_on_grading_complete"]
        labels = {
            "pass_mark": "Pass mark (%)",
            "notify_on_grading_complete": "Email the assessor when grading completes",
        }


class AcceptInvitationForm(forms.Form):
    """A new person (or an owner created without a password) chooses a name and password while accepting."""

    full_name = forms.CharField(max_length=200, label="Your name")
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(
        label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords do not match.")
        elif password1:
            try:
                password_validation.validate_password(
                    password1, User(email=self.email, full_name=cleaned.get("full_name", ""))
                )
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class OrganizationAddForm(forms.ModelForm):
    """The admin console's "add organization": the same as `manage.py create_organization`."""

    slug = forms.CharField(
        max_length=40,
        required=False,
        help_text="Its web address and schema name; leave empty to derive it from the name. Fixed once created.",
    )
    owner_email = forms.EmailField(
        label="Owner's email", help_text="Created if new, made owner, and emailed an invitation link."
    )

    class Meta:
        model = Organization
        fields = ["name", "slug", "plan", "quiz_limit_override", "monthly_budget_usd"]

    def clean_slug(self):
        slug = self.cleaned_data.get("slug", "").strip().lower()
        if not slug:
            return slug_from_name(self.cleaned_data.get("name") or "org")
        return validate_slug(slug)

    def _post_clean(self):
        # The schema does not exist yet, so skip the model's own checks (the service runs them when it creates it).
        pass
