"""Slack's requests: a slash command (`/faq how do i ...`), app mentions (the Events API, its URL
verification included) and button clicks (interactivity). Each is verified first (app.api.slack)
and answered as Slack asks: a 200 within 3 s, and anything slower through the request's
response_url or, for a mention, a message in its thread. Each workspace asks its own FAQ
(SLACK_WORKSPACES). Off (404) while SLACK_SIGNING_SECRET is unset."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections import OrderedDict
from urllib.parse import parse_qs

import httpx
from fastapi import APIRouter, BackgroundTasks, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from slack_sdk import WebClient
from starlette.datastructures import State

from app.api import slack
from app.api.deps import TenantsDep
from app.config import ServiceSettings
from app.domain.entry import MAX_QUESTION_CHARS, field_text
from app.search.answers import EntryNotFound
from app.search.faq_search import Question
from app.serving.services import Services
from app.store.base import StoreError
from app.tenancy.registry import FaqNotFound
from app.tenancy.tenants import Tenants

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/slack", include_in_schema=False)

USAGE = "Ask the FAQ a question, e.g. `/faq how do i reset my password?`"
NOT_CONNECTED = "This Slack workspace is not connected to a FAQ of this service."
# Event ids delivered already: Slack delivers an event again when it saw no 200 in time.
MAX_EVENTS = 10_000


class _Delivered:
    def __init__(self) -> None:
        self.ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        if event_id in self.ids:
            return False
        self.ids[event_id] = None
        while len(self.ids) > MAX_EVENTS:
            self.ids.popitem(last=False)
        return True


def set_up(state: State, settings: ServiceSettings) -> None:
    """What the Slack routes keep for the app's life: the verifier of Slack's signatures (None:
    Slack is not set up, the routes answer 404) and the events delivered already."""
    secret = settings.slack_signing_secret
    state.slack_verifier = None if secret is None else slack.SlackVerifier(secret.get_secret_value())
    state.slack_events = _Delivered()


async def _verified(request: Request) -> bytes:
    """The body of a request Slack signed (401 otherwise; 404 when Slack is not set up)."""
    verifier: slack.SlackVerifier | None = request.app.state.slack_verifier
    if verifier is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "Slack is not set up on this service (SLACK_SIGNING_SECRET)"
        )
    body = await request.body()
    try:
        verifier.check(
            body, request.headers.get("x-slack-request-timestamp"), request.headers.get("x-slack-signature")
        )
    except slack.SlackRequestRefused as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    return body


def _form(body: bytes) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(body.decode("utf-8", "replace")).items()}


def _services(request: Request, tenants: Tenants, team: str) -> Services | None:
    """The services of the FAQ the workspace `team` asks (None: not connected, or no such FAQ)."""
    settings: ServiceSettings = request.app.state.settings
    faq = settings.workspace_faqs().get(team) or settings.slack_default_faq
    if faq is None:
        return None
    try:
        return tenants.services(faq)
    except FaqNotFound:
        logger.warning("Slack workspace %s asks the FAQ '%s', which does not exist", team, faq)
        return None


def _question(text: str) -> str:
    """The question in a command's or mention's text, held to /ask's rules (ValueError)."""
    asked = slack.question_of(text)
    return field_text(asked, "a question", required=True, limit=MAX_QUESTION_CHARS, question=True)


def _asker(team: str, user: str) -> tuple[str, str]:
    """The asker, for the budgets and, hashed, for the records."""
    client = f"slack:{team}:{user}"
    return client, hashlib.sha256(client.encode("utf-8")).hexdigest()[:16]


async def _post(url: str, payload: dict) -> None:
    """A message through a response_url (Slack's, from a request it signed)."""
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            (await client.post(url, json=payload)).raise_for_status()
    except httpx.HTTPError as exc:
        logger.warning("could not answer through Slack's response_url: %s", exc)


@router.post("/commands")
async def command(request: Request, background: BackgroundTasks, tenants: TenantsDep) -> Response:
    """A slash command: answered in its response within SLACK_INLINE_SECONDS, else "looking it
    up" at once and the answer through its response_url."""
    form = _form(await _verified(request))
    services = _services(request, tenants, form.get("team_id", ""))
    if services is None:
        return JSONResponse(slack.notice(NOT_CONNECTED))
    try:
        question = _question(form.get("text", ""))
    except ValueError:
        return JSONResponse(slack.notice(USAGE))
    client, label = _asker(form.get("team_id", ""), form.get("user_id", ""))
    asked = asyncio.ensure_future(services.batcher.ask(Question(question, top_k=3)))
    settings: ServiceSettings = request.app.state.settings
    try:
        result = await asyncio.wait_for(asyncio.shield(asked), timeout=settings.slack_inline_seconds)
    except TimeoutError:
        background.add_task(
            _answer_later, asked, question, form.get("response_url", ""), services, client, label
        )
        return JSONResponse(slack.notice("Looking it up…"))
    except Exception as exc:  # noqa: BLE001 - Slack shows what it gets: a sentence, not a 500
        logger.warning("a Slack question could not be answered: %s", exc)
        return JSONResponse(slack.notice("The FAQ cannot answer right now; try again in a moment."))
    background.add_task(services.record_ask, question, result, client, label)
    return JSONResponse(slack.message(question, result))


async def _answer_later(
    asked, question: str, response_url: str, services: Services, client: str, label: str
) -> None:
    try:
        result = await asked
    except Exception as exc:  # noqa: BLE001 - said in Slack, not raised into the void
        logger.warning("a Slack question could not be answered: %s", exc)
        await _post(response_url, slack.notice("The FAQ cannot answer right now; try again in a moment."))
        return
    await _post(response_url, {**slack.message(question, result), "replace_original": True})
    await run_in_threadpool(services.record_ask, question, result, client, label)


@router.post("/interactivity")
async def interactivity(request: Request, background: BackgroundTasks, tenants: TenantsDep) -> Response:
    """A button clicked: an entry to answer (a follow-up, a "did you mean"), or helpful / not
    helpful. Acknowledged at once; the answer goes through the click's response_url."""
    form = _form(await _verified(request))
    try:
        payload = json.loads(form.get("payload", ""))
        action = payload["actions"][0]
        value = json.loads(action["value"])
        team, user, response_url = payload["team"]["id"], payload["user"]["id"], payload["response_url"]
        # The ids our buttons carry, held to /ask's rule for them (UUIDs): a value that is not
        # one never reaches the store or the ask log.
        entry_id = str(uuid.UUID(str(value["e"])))
        via = str(uuid.UUID(str(value["v"]))) if value.get("v") else ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return Response(status_code=status.HTTP_200_OK)  # not a click of ours: nothing to do
    services = _services(request, tenants, team)
    if services is None:
        background.add_task(_post, response_url, slack.notice(NOT_CONNECTED))
    else:
        client, label = _asker(team, user)
        background.add_task(
            _act,
            services,
            str(action.get("action_id", "")),
            value,
            entry_id,
            via,
            response_url,
            client,
            label,
        )
    return Response(status_code=status.HTTP_200_OK)


async def _act(
    services: Services,
    action: str,
    value: dict,
    entry_id: str,
    via: str,
    response_url: str,
    client: str,
    label: str,
) -> None:
    asked = str(value.get("q", ""))[: slack.QUESTION_IN_VALUE]
    try:
        if action in (slack.HELPFUL_ACTION, slack.NOT_HELPFUL_ACTION):
            if services.feedback_budget.allow(client):
                helpful = action == slack.HELPFUL_ACTION
                await run_in_threadpool(services.feedback.record, asked, entry_id, helpful, "", False, label)
            await _post(response_url, {**slack.notice("Thanks for the feedback."), "replace_original": False})
            return
        if value.get("p") and asked and services.feedback_budget.allow(client):
            # "did you mean" answered by the asker: the review queue offers their wording
            await run_in_threadpool(services.feedback.record, asked, entry_id, True, "", True, label)
        result = await run_in_threadpool(services.search.answer_entry, entry_id)
    except EntryNotFound:
        await _post(response_url, slack.notice("That entry is no longer in the FAQ."))
        return
    except StoreError as exc:
        logger.warning("a Slack click could not be answered: %s", exc)
        await _post(response_url, slack.notice("The FAQ cannot answer right now; try again in a moment."))
        return
    question = result.answers[0].question
    await _post(response_url, {**slack.message(question, result), "replace_original": False})
    await run_in_threadpool(services.record_ask, question, result, client, label, via=via)


@router.post("/events")
async def events(request: Request, background: BackgroundTasks, tenants: TenantsDep) -> Response:
    """The Events API: the URL verification challenge, and app mentions, answered in their
    thread (SLACK_BOT_TOKEN). Acknowledged at once; an event delivered again is not answered
    twice."""
    body = await _verified(request)
    try:
        data = json.loads(body)
    except ValueError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "not JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "not an event")
    if data.get("type") == "url_verification":
        return JSONResponse({"challenge": str(data.get("challenge", ""))})
    event = data.get("event") if data.get("type") == "event_callback" else None
    if (
        isinstance(event, dict)
        and event.get("type") == "app_mention"
        and not event.get("bot_id")
        and request.app.state.slack_events.first_time(str(data.get("event_id", "")))
    ):
        services = _services(request, tenants, str(data.get("team_id", "")))
        token = request.app.state.settings.slack_bot_token
        if services is not None and token is not None:
            background.add_task(
                _reply_in_thread, request.app.state.settings, services, event, str(data.get("team_id", ""))
            )
        elif token is None:
            logger.warning("an app mention came, but SLACK_BOT_TOKEN is not set: it cannot be answered")
    return Response(status_code=status.HTTP_200_OK)


async def _reply_in_thread(settings: ServiceSettings, services: Services, event: dict, team: str) -> None:
    assert settings.slack_bot_token is not None  # checked before the reply was queued
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)
    thread = str(event.get("thread_ts") or event.get("ts", ""))
    channel = str(event.get("channel", ""))
    try:
        question = _question(str(event.get("text", "")))
    except ValueError:
        usage = "Mention me with a question, e.g. @FAQ how do i reset my password?"
        await run_in_threadpool(client.chat_postMessage, channel=channel, thread_ts=thread, text=usage)
        return
    try:
        result = await services.batcher.ask(Question(question, top_k=3))
    except Exception as exc:  # noqa: BLE001 - said in the thread
        logger.warning("a Slack mention could not be answered: %s", exc)
        return
    reply = slack.message(question, result, ephemeral=False)
    try:
        await run_in_threadpool(
            client.chat_postMessage,
            channel=channel,
            thread_ts=thread,
            text=reply["text"],
            blocks=reply["blocks"],
        )
    except Exception as exc:  # noqa: BLE001 - the Slack SDK's errors: logged
        logger.warning("could not post the answer to Slack: %s", exc)
        return
    user_client, label = _asker(team, str(event.get("user", "")))
    await run_in_threadpool(services.record_ask, question, result, user_client, label)
