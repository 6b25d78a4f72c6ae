"""Certificate Manager's daily expiry check (decision 0230): once a day (UTC) each certificate
of the Region is checked by one gateway — the one whose conditional write marks it checked
that day —, which renews a private CA's certificate within :data:`RENEWAL_DAYS` of its
expiry (ACM's managed renewal) and tells the observer its days to expiry
(``AWS/CertificateManager``'s ``DaysToExpiry``) and whether it is within the account's
``DaysBeforeExpiry`` (the "ACM Certificate Approaching Expiration" event, AWS's daily
reminder)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from andromede.acm.model import Certificate
from andromede.acm.service import AcmService

__all__ = ["RENEWAL_DAYS", "ExpiryNotice", "check_expiry", "epoch_day"]

log = logging.getLogger(__name__)
_BATCH: Final = 500
RENEWAL_DAYS: Final = 60  # ACM renews a private certificate up to 60 days before it expires


@dataclass(frozen=True, slots=True)
class ExpiryNotice:
    certificate: Certificate
    days_to_expiry: int
    # Within the account's DaysBeforeExpiry, not yet expired: the day's event is due.
    approaching: bool


def epoch_day(now: datetime) -> int:
    return int(now.timestamp() // 86400)


async def check_expiry(
    acm: AcmService, now: datetime, observe: Callable[[ExpiryNotice], Awaitable[None]]
) -> int:
    """The certificates not yet checked today, each told to ``observe`` by the one gateway
    that marked it; how many this gateway checked. A certificate already expired is marked
    and left (AWS stops its metric and events then)."""
    day = epoch_day(now)
    checked = 0
    while True:
        due = await acm.store.unchecked(acm.region, day, _BATCH)
        for certificate in due:
            if not await acm.store.mark_checked(
                certificate.tenant_id, certificate.certificate_id, day
            ):
                continue  # another gateway's
            left = certificate.facts.not_after - now
            if left <= timedelta(0):
                continue
            days = -(-left // timedelta(days=1))  # a part of a day counts as a day
            if days <= RENEWAL_DAYS and acm.renewable(certificate):
                try:
                    certificate = await acm.renew(certificate.tenant_id, certificate.arn)
                except Exception:  # its reminders go on; tomorrow's check tries again
                    log.exception("the renewal of %s failed", certificate.arn)
                else:
                    days = -(-(certificate.facts.not_after - now) // timedelta(days=1))
            window = await acm.days_before_expiry(certificate.tenant_id)
            try:
                await observe(ExpiryNotice(certificate, days, days <= window))
            except Exception:  # one certificate's notice; the others still go
                log.exception("the expiry notice of %s failed", certificate.arn)
            checked += 1
        if len(due) < _BATCH:
            return checked
