"""Pages for integrators on an organization's host (<slug>.<BASE_DOMAIN>)."""

from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("account/tokens/", views.token_list, name="tokens"),
    path("account/tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
    path("settings/webhooks/", views.webhook_list, name="webhooks"),
    path("settings/webhooks/callback-secret/", views.callback_secret_rotate, name="callback-secret"),
    path("settings/webhooks/<uuid:endpoint_id>/", views.webhook_detail, name="webhook-detail"),
    path("settings/webhooks/<uuid:endpoint_id>/rotate/", views.webhook_rotate, name="webhook-rotate"),
    path("settings/webhooks/<uuid:endpoint_id>/test/", views.webhook_test, name="webhook-test"),
    path("settings/webhooks/<uuid:endpoint_id>/delete/", views.webhook_delete, name="webhook-delete"),
    path("settings/webhooks/deliveries/<uuid:delivery_id>/redeliver/", views.delivery_redeliver, name="redeliver"),
]
