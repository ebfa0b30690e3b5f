"""Mark-scheme pages inside an organization: every member reads them; owners and admins create, edit and publish.

The versioning rules (a draft is edited in place, editing a published version starts the next one, publishing
archives the previous) are :mod:`markschemes.services`'; these views call them and show their errors.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from markschemes.forms import SchemeEditor
from markschemes.models import MarkScheme, SchemeState, Subject
from markschemes.services import SchemeError, create_draft, publish, scheme_data, update_draft
from organizations import permissions


def can_manage(request) -> bool:
    """Owners and admins of the organization (Membership.can_manage), and super admins."""
    return permissions.manages(request.user, request.membership)


def _require_manager(request) -> None:
    if not can_manage(request):
        raise PermissionDenied("Only the organization's owners and admins change mark schemes.")


def _scheme(scheme_id: int) -> MarkScheme:
    scheme = MarkScheme.objects.prefetch_related("questions__points").filter(pk=scheme_id).first()
    if scheme is None:
        raise Http404("No mark scheme with that id in this organization.")
    return scheme


def _open_draft(scheme: MarkScheme) -> MarkScheme | None:
    if scheme.state == SchemeState.DRAFT:
        return scheme
    return MarkScheme.objects.filter(key=scheme.key, state=SchemeState.DRAFT).first()


@login_required
def scheme_list(request):
    show_archived = request.GET.get("archived") == "1"
    schemes = MarkScheme.objects.annotate(question_count=Count("questions"), marks=Sum("questions__max_marks"))
    if not show_archived:
        schemes = schemes.exclude(state=SchemeState.ARCHIVED)
    groups: dict[tuple, list[MarkScheme]] = {}
    for scheme in schemes.select_related("subject").order_by("standard", "subject__name", "title", "-version"):
        key = (0, scheme.standard, "") if scheme.standard else (1, 0, scheme.subject.name)
        groups.setdefault(key, []).append(scheme)
    return render(
        request,
        "markschemes/scheme_list.html",
        {
            "groups": [
                (
                    schemes[0].subject_label,
                    f"standard-{key[1]}" if key[1] else f"subject-{schemes[0].subject_id}",
                    schemes,
                )
                for key, schemes in sorted(groups.items())
            ],
            "subjects": Subject.objects.defer("reference_text"),
            "show_archived": show_archived,
            "archived_count": MarkScheme.objects.filter(state=SchemeState.ARCHIVED).count(),
            "can_manage": can_manage(request),
        },
    )


@login_required
def scheme_detail(request, scheme_id: int):
    scheme = _scheme(scheme_id)
    return render(
        request,
        "markschemes/scheme_detail.html",
        {
            "scheme": scheme,
            "questions": list(scheme.questions.all()),
            "versions": MarkScheme.objects.filter(key=scheme.key).order_by("-version"),
            "open_draft": _open_draft(scheme),
            "can_manage": can_manage(request),
        },
    )


def _editor_page(request, editor: SchemeEditor, scheme: MarkScheme | None, status: int = 200):
    return render(
        request,
        "markschemes/scheme_form.html",
        {"editor": editor, "scheme": scheme, "next_version": scheme is not None and scheme.state != SchemeState.DRAFT},
        status=status,
    )


@login_required
def scheme_create(request):
    _require_manager(request)
    if request.method != "POST":
        standard, subject = request.GET.get("standard", ""), request.GET.get("subject", "")
        initial = {"standard": int(standard)} if standard.isdigit() else {}
        initial = {"subject": int(subject)} if subject.isdigit() else initial
        return _editor_page(request, SchemeEditor(initial=initial), None)
    editor = SchemeEditor(request.POST)
    scheme = editor.save(lambda data: create_draft(data, created_by=request.user.email))
    if scheme is None:
        return _editor_page(request, editor, None, status=400)
    messages.success(request, f"“{scheme.title}” is saved as a draft. Publish it when it is ready to mark with.")
    return redirect("markschemes:detail", scheme.pk)


@login_required
def scheme_edit(request, scheme_id: int):
    _require_manager(request)
    scheme = _scheme(scheme_id)
    draft = _open_draft(scheme)
    if draft is not None and draft.pk != scheme.pk:
        messages.info(request, f"Version {draft.version} of this scheme is already a draft: edit it here.")
        return redirect("markschemes:edit", draft.pk)
    fixed_standard = scheme.version > 1 or scheme.state != SchemeState.DRAFT
    if request.method != "POST":
        return _editor_page(request, SchemeEditor(initial=scheme_data(scheme), fixed_standard=fixed_standard), scheme)
    editor = SchemeEditor(request.POST, initial=scheme_data(scheme), fixed_standard=fixed_standard)
    saved = editor.save(lambda data: update_draft(scheme, data, by=request.user.email))
    if saved is None:
        return _editor_page(request, editor, scheme, status=400)
    if saved.pk == scheme.pk:
        messages.success(request, "The draft is saved.")
    else:
        messages.success(
            request,
            f"Saved as version {saved.version}, a draft. Version {scheme.version} is unchanged and still "
            "marks until you publish this one.",
        )
    return redirect("markschemes:detail", saved.pk)


@login_required
def scheme_publish(request, scheme_id: int):
    _require_manager(request)
    scheme = _scheme(scheme_id)
    current = MarkScheme.objects.filter(key=scheme.key, state=SchemeState.PUBLISHED).first()
    if request.method == "POST":
        try:
            publish(scheme, by=request.user.email)
        except SchemeError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                f"Version {scheme.version} of “{scheme.title}” is published: new grading uses it."
                + (f" Version {current.version} is archived." if current else ""),
            )
        return redirect("markschemes:detail", scheme.pk)
    if scheme.state != SchemeState.DRAFT:
        messages.error(request, f"Only a draft can be published; version {scheme.version} is {scheme.state}.")
        return redirect("markschemes:detail", scheme.pk)
    return render(
        request,
        "markschemes/scheme_publish.html",
        {"scheme": scheme, "current": current, "cancel_url": reverse("markschemes:detail", args=[scheme.pk])},
    )
