"""Server-sent event streams of a job, or of a session's jobs: one ``data: {job object}`` per change, ending once the
job (or every job of the session) has finished.

The views are async, served by uvicorn workers (ASGI): a held-open stream is a coroutine waiting on a queue, not a
worker thread. Django gives each request one thread for its synchronous parts (the middleware, which is synchronous,
and the gate below) and keeps it until the response has been sent, so on its own an open stream would park one idle
thread for its whole life; ``RequestThreads`` (the ASGI application, quizmarker/asgi.py) gives the thread back as
soon as an event stream's headers go out. Who may watch is decided by the same code as the rest: the API's job and
session detail views (token or session auth, the contract's envelope, ``jobs.visibility.visible_job`` /
``visible_sessions``) and the pages' own job and session lookups, run once in a thread (``sync_to_async``) before
the stream starts; the database connection is then given back, so an open stream holds none.

Changes come from ``jobs.live`` over Redis pub/sub. Each web process keeps one subscription (a pattern over every
job's channel) and hands each message to the streams watching that channel, so 200 watchers cost one Redis
connection, not 200. If Redis goes away the streams end; pages then poll, and EventSource clients reconnect.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from concurrent.futures import Executor, Future, ThreadPoolExecutor

import redis.asyncio
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connections
from django.http import HttpResponse, StreamingHttpResponse

from jobs import live
from jobs.models import ACTIVE_STATUSES

logger = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15
_END = object()


class Hub:
    """One Redis pub/sub subscription per event loop, fanned out to per-stream queues by channel."""

    def __init__(self) -> None:
        self.queues: dict[str, set[asyncio.Queue]] = defaultdict(set)
        self.task: asyncio.Task | None = None
        self.subscribed: asyncio.Future | None = None

    async def ensure_running(self) -> None:
        if self.task is None or self.task.done():
            self.subscribed = asyncio.get_running_loop().create_future()
            self.task = asyncio.create_task(self._run(self.subscribed))
        await asyncio.shield(self.subscribed)

    def register(self, channel: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self.queues[channel].add(queue)
        return queue

    def unregister(self, channel: str, queue: asyncio.Queue) -> None:
        watchers = self.queues.get(channel)
        if watchers is not None:
            watchers.discard(queue)
            if not watchers:
                del self.queues[channel]

    async def _run(self, subscribed: asyncio.Future) -> None:
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
        pubsub = client.pubsub()
        try:
            await pubsub.psubscribe(f"{live.channel_prefix()}*")
            subscribed.set_result(True)
            async for message in pubsub.listen():
                if message["type"] != "pmessage":
                    continue
                channel = message["channel"].decode()
                for queue in list(self.queues.get(channel, ())):
                    queue.put_nowait(message["data"])
        except Exception as exc:  # noqa: BLE001 - Redis gone: end every stream (pages poll, clients reconnect)
            logger.warning("Live job updates stopped: %s", exc)
            if not subscribed.done():
                subscribed.set_exception(exc)
        finally:
            for watchers in self.queues.values():
                for queue in watchers:
                    queue.put_nowait(_END)
            self.queues.clear()
            try:
                await pubsub.aclose()
                await client.aclose()
            except Exception:  # noqa: BLE001, S110 - closing a connection that already failed
                pass


_hubs: dict[int, Hub] = {}


def hub() -> Hub:
    loop = asyncio.get_running_loop()
    return _hubs.setdefault(id(loop), Hub())


def _sse(job: dict) -> bytes:
    return f"data: {json.dumps(job, separators=(',', ':'))}\n\n".encode()


async def _events(the_hub: Hub, channel: str, queue: asyncio.Queue, initial: list[dict], open_: bool, session: bool):
    try:
        for job in initial:
            yield _sse(job)
        while open_:
            try:
                raw = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if raw is _END:
                return
            message = json.loads(raw)
            yield _sse(message["job"])
            if session:
                open_ = message.get("session_active_jobs", 1) > 0
            else:
                open_ = message["job"]["status"] in ACTIVE_STATUSES
    finally:
        the_hub.unregister(channel, queue)


async def stream(channel: str, gate, *, session: bool = False, unavailable=None):
    """Subscribe first, then run ``gate()`` in a thread: it answers ``(refusal, jobs)``, a response to send instead
    of the stream (401, 404...), or the jobs as they are now. Changes after that arrive on the queue."""
    the_hub = hub()
    try:
        await the_hub.ensure_running()
    except Exception:  # noqa: BLE001 - Redis down: no stream; pages poll instead
        return unavailable() if unavailable else HttpResponse("Live updates are unavailable.", status=503)
    queue = the_hub.register(channel)
    try:
        refusal, jobs = await sync_to_async(_gated)(gate)
    except BaseException:
        the_hub.unregister(channel, queue)
        raise
    if refusal is not None:
        the_hub.unregister(channel, queue)
        return refusal
    open_ = any(job["status"] in ACTIVE_STATUSES for job in jobs)
    response = StreamingHttpResponse(
        _events(the_hub, channel, queue, jobs, open_, session), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _gated(gate):
    try:
        return gate()
    finally:
        for connection in connections.all(initialized_only=True):
            if not connection.in_atomic_block:  # (a test's transaction stays)
                connection.close()  # back to the pool: an open stream holds no database connection


# --- One thread per request, given back when an event stream starts -----------------------------------


class _RequestThread(Executor):
    """A request's thread for its synchronous work, one call at a time, as Django's own per-request thread is; but
    ``release()`` lets it go while the request goes on. Work after that (Django closing the response at the end of
    the stream) runs on a new thread, started only then."""

    def __init__(self) -> None:
        self._thread: ThreadPoolExecutor | None = None

    def submit(self, fn, /, *args, **kwargs) -> Future:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
        return self._thread.submit(fn, *args, **kwargs)

    def release(self) -> None:
        """Close the thread's database connections (back to the pool) after its queued work, and let it end."""
        if self._thread is not None:
            self._thread.submit(connections.close_all)
        self.end()

    def end(self) -> None:
        """Let the thread end after its queued work, at the end of the request."""
        if self._thread is not None:
            self._thread.shutdown(wait=False)
            self._thread = None

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.release()


class RequestThreads:
    """ASGI middleware around Django's application: each HTTP request's thread-sensitive work (Django's middleware
    and signals, ``sync_to_async`` in views) runs on a thread of its own, as under Django alone, until the response
    starts; a ``text/event-stream`` response then gives the thread back, so a held-open stream holds none. Other
    responses keep it to the end (a streamed CSV export still reads the database in the organization's schema)."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.application(scope, receive, send)
        thread = _RequestThread()

        async def send_and_release(message):
            if message["type"] == "http.response.start" and _is_event_stream(message.get("headers", ())):
                thread.release()
            await send(message)

        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.application(scope, receive, send_and_release)
        finally:
            # Django's request_finished has closed the connections (back to the pool) on this thread by now; closing
            # them again on every request cost a quarter of the job-status poll's throughput (bench: 356 against 492
            # requests/s), so the thread is just let go.
            thread.end()


def _is_event_stream(headers) -> bool:
    return any(name.lower() == b"content-type" and value.startswith(b"text/event-stream") for name, value in headers)


# --- API: /api/v1/jobs/<id>/events, /api/v1/sessions/<id>/events ----------------------------------


def _through_api_view(view_class, request, **kwargs):
    """Run the API's own detail view (authentication, permissions, visibility, envelope) and read its answer."""
    accept = request.META.get("HTTP_ACCEPT")
    request.META["HTTP_ACCEPT"] = "application/json"  # the detail view answers JSON; the stream follows
    try:
        response = view_class.as_view()(request, **kwargs)
        response.render()
    finally:
        if accept is None:
            request.META.pop("HTTP_ACCEPT", None)
        else:
            request.META["HTTP_ACCEPT"] = accept
    if response.status_code != 200:
        return response, []
    return None, response.data["data"]


def _api_unavailable():
    from django.http import JsonResponse

    response = JsonResponse(
        {
            "success": False,
            "error": "Live updates are unavailable for a moment; poll GET /api/v1/jobs/<id> instead.",
            "code": "SERVICE_UNAVAILABLE",
            "details": {},
        },
        status=503,
    )
    response["Retry-After"] = "30"
    return response


async def api_job_events(request, job_id):
    from jobs.api import JobDetailView

    def gate():
        refusal, job = _through_api_view(JobDetailView, request, job_id=job_id)
        return refusal, ([job] if job else [])

    return await stream(live.job_channel(job_id), gate, unavailable=_api_unavailable)


async def api_session_events(request, session_id):
    from jobs.api import SessionDetailView

    def gate():
        refusal, session = _through_api_view(SessionDetailView, request, session_id=session_id)
        return refusal, (session["jobs"] if session else [])

    return await stream(live.session_channel(session_id), gate, session=True, unavailable=_api_unavailable)


# --- Pages: /jobs/<id>/events, /sessions/<id>/events ------------------------------------------------


@login_required
async def page_job_events(request, job_id):
    from grading.views.jobs import find_job
    from jobs.serializers import JobSerializer

    def gate():
        return None, [JobSerializer(find_job(request, job_id)).data]

    return await stream(live.job_channel(job_id), gate)


@login_required
async def page_session_events(request, session_id):
    from grading.views.jobs import find_session
    from jobs.serializers import JobSerializer

    def gate():
        session = find_session(request, session_id)
        return None, JobSerializer(session.jobs.order_by("created_at"), many=True).data

    return await stream(live.session_channel(session_id), gate, session=True)
