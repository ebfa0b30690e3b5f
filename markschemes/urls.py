"""The mark-scheme pages inside an organization (<slug>.<BASE_DOMAIN>/mark-schemes/)."""

from django.urls import path

from markschemes import import_views, subject_views, views

app_name = "markschemes"

urlpatterns = [
    path("mark-schemes/", views.scheme_list, name="list"),
    path("mark-schemes/new/", views.scheme_create, name="create"),
    path("mark-schemes/subjects/", subject_views.subject_list, name="subjects"),
    path("mark-schemes/import/", import_views.scheme_import, name="import"),
    path("mark-schemes/<int:scheme_id>/", views.scheme_detail, name="detail"),
    path("mark-schemes/<int:scheme_id>/edit/", views.scheme_edit, name="edit"),
    path("mark-schemes/<int:scheme_id>/publish/", views.scheme_publish, name="publish"),
]
