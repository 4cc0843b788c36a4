"""``POST /api/webhooks/sms/inbound`` and ``/api/webhooks/sms/delivery``: the SMS provider's webhooks.

Thin on purpose: the body is verified, parsed and acted on by
:class:`ennakoiva.platform.messaging.SmsWebhooks` (dedup by provider message id; a reply's
transitions and confirmation commit together and the confirmation is sent before the response).
The messaging side is built on first use from the app's settings and kept on ``app.state``.
A bad signature or body is a 400; the provider retries anything else that fails, which the dedup
makes harmless.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from ennakoiva.adapters.channels.http_gateway import WebhookError
from ennakoiva.platform.campaigns import build_messaging
from ennakoiva.platform.messaging import SmsWebhooks

__all__ = ["router", "webhooks_for"]

router = APIRouter(prefix="/api/webhooks/sms", tags=["sms"])
_lock = threading.Lock()


def webhooks_for(state: Any) -> SmsWebhooks:
    """The app's :class:`SmsWebhooks`, built once from ``state.platform.settings`` (or ``state.settings``)."""
    hooks = getattr(state, "sms_webhooks", None)
    if hooks is not None:
        return hooks
    with _lock:
        hooks = getattr(state, "sms_webhooks", None)
        if hooks is None:
            platform = getattr(state, "platform", None)
            settings = platform.settings if platform is not None else state.settings
            messaging = build_messaging(settings)
            secret = settings.sms_webhook_secret.get_secret_value() if settings.sms_webhook_secret else None
            hooks = SmsWebhooks(messaging.outbox, messaging.desk, messaging.gateway.name, secret)
            state.sms_messaging = messaging
            state.sms_webhooks = hooks
    return hooks


@router.post("/inbound", summary="An inbound SMS from the provider")
async def inbound(request: Request) -> dict[str, Any]:
    body = await request.body()
    hooks = webhooks_for(request.app.state)
    try:
        return await run_in_threadpool(hooks.inbound, body, dict(request.headers))
    except WebhookError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


@router.post("/delivery", summary="A delivery report from the provider")
async def delivery(request: Request) -> dict[str, Any]:
    body = await request.body()
    hooks = webhooks_for(request.app.state)
    try:
        return await run_in_threadpool(hooks.delivery_report, body, dict(request.headers))
    except WebhookError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
