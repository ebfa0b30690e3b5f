"""Celery tasks of the integrations app (routed to the low queue): thin wrappers around integrations.delivery."""

from __future__ import annotations

from celery import shared_task

from integrations import delivery


@shared_task(name="integrations.tasks.send_webhook", acks_late=True, soft_time_limit=60, time_limit=90)
def send_webhook(delivery_id: str) -> str:
    return delivery.deliver(delivery_id)


@shared_task(name="integrations.tasks.send_due_webhooks")
def send_due_webhooks() -> int:
    return delivery.send_due()
