"""Subscriptions: an apprise URL and the filters choosing which events reach it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, col, or_, select

from tracker.alerts import targets
from tracker.alerts.filters import matches
from tracker.config import Settings
from tracker.errors import NotFoundError, UserError
from tracker.eventlog import check_kinds
from tracker.events import SEVERITIES
from tracker.models import Delivery, Source, Subscription, SubscriptionPublic
from tracker.netguard import BlockedAddressError

DIGESTS = ("hourly", "daily")
__all__ = ["matches"]


@dataclass(frozen=True)
class SubscriptionSpec:
    """A subscription as a user describes it."""

    url: str
    kinds: Sequence[str] = field(default_factory=tuple)
    source_ids: Sequence[int] = field(default_factory=tuple)
    min_severity: str = "info"
    match: str | None = None
    digest: str | None = None
    name: str | None = None


def add(session: Session, spec: SubscriptionSpec, settings: Settings) -> Subscription:
    """Check a spec and store it; UserError (nothing stored) when anything is wrong."""
    target = targets.parse(spec.url)
    try:
        targets.check_policy(target, allow_private=settings.allow_private_networks)
        if not settings.allow_private_networks:
            targets.check_guard(target)
    except BlockedAddressError as exc:
        raise UserError(f"refused {target.masked}: {exc}") from None
    if spec.min_severity not in SEVERITIES:
        raise UserError(f"unknown severity {spec.min_severity!r}: use {', '.join(SEVERITIES)}")
    if spec.digest is not None and spec.digest not in DIGESTS:
        raise UserError(f"unknown digest {spec.digest!r}: use hourly or daily")
    unknown = [i for i in spec.source_ids if session.get(Source, i) is None]
    if unknown:
        raise UserError(f"no source with id {unknown[0]}")
    subscription = Subscription(
        name=(spec.name or "").strip() or None,
        url=target.url,
        kinds=check_kinds(list(dict.fromkeys(spec.kinds))),
        source_ids=list(dict.fromkeys(spec.source_ids)),
        min_severity=spec.min_severity,
        match=(spec.match or "").strip() or None,
        digest=spec.digest,
    )
    session.add(subscription)
    session.flush()
    return subscription


def get(session: Session, subscription_id: int) -> Subscription:
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        raise NotFoundError(f"no subscription with id {subscription_id}")
    return subscription


def all_subscriptions(session: Session) -> list[Subscription]:
    return list(session.exec(select(Subscription).order_by(col(Subscription.id))))


def remove(session: Session, subscription_id: int) -> Subscription:
    """Delete a subscription and its pending deliveries."""
    subscription = get(session, subscription_id)
    session.delete(subscription)
    return subscription


def public(session: Session, subscription: Subscription) -> SubscriptionPublic:
    """The subscription as shown anywhere: URL masked, with its latest delivery's status."""
    target = targets.parse(subscription.url)
    # A delivery that failed and waits for its retry is news too: "retrying", not "none yet".
    latest = session.exec(
        select(Delivery.status, Delivery.attempts)
        .where(
            Delivery.subscription_id == subscription.id,
            or_(Delivery.status != "pending", col(Delivery.attempts) > 0),
        )
        .order_by(sa.desc(col(Delivery.id)))
        .limit(1)
    ).first()
    last = None if latest is None else "retrying" if latest[0] == "pending" else latest[0]
    return SubscriptionPublic(
        id=subscription.id or 0,
        name=subscription.name,
        url=target.masked,
        service=target.service,
        kinds=subscription.kinds,
        source_ids=subscription.source_ids,
        min_severity=subscription.min_severity,
        match=subscription.match,
        digest=subscription.digest,
        enabled=subscription.enabled,
        created_at=subscription.created_at,
        last_delivery_status=last,
    )
