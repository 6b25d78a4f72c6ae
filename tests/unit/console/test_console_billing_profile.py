"""The tenant's billing profile in the console (decisions 0111 and 0126): an empty form before
any profile, the profile shown and saved whole through the billing service's checks, a bad
field refused naming it in the console's language with the form as typed, both languages,
``andromede:GetBillingProfile`` and ``andromede:PutBillingProfile`` decided as on the API
(a reader who may not save sees the profile without a form to send), the form's CSRF token,
and each change the same event of the tenant's log as the API's."""

from __future__ import annotations

import json
import re

import httpx
from botocore.credentials import Credentials

from andromede.audit.model import AuditEvent, Outcome
from andromede.billing.errors import NoBillingProfile
from andromede.billing.profile import BillingProfile, parse_profile
from andromede.billing.service import BillingService
from support.apiclient import HttpxSigV4
from support.console import ConsoleHarness, csrf, log_in, logged_events

USER = "accountant"
PUT = "andromede:PutBillingProfile"
FORM = {
    "legal_name": 'Société Éléphant & "Fils"',
    "address_line_1": "12 rue de la Paix",
    "address_line_2": "",
    "address_line_3": "Bâtiment B",
    "address_line_4": "",
    "postcode": "75002",
    "city": "Paris",
    "country": "FR",
    "vat_number": "FR 44 732 829 320",
    "siret": "732 829 320 00074",
    "purchase_order": "PO-42",
    "invoice_email": "factures@elephant.example",
    "language": "fr",
}


def _billing(console: ConsoleHarness) -> BillingService:
    running = console.application._running
    assert running is not None
    return running.billing


def _policy(*actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
    )


def _menu(page: str) -> str:
    return page.split("<nav", 1)[1].split("</nav>", 1)[0]


def _input(page: str, name: str) -> str:
    found = re.search(rf'<input name="{name}"[^>]*>', page)
    assert found is not None, name
    return found.group(0)


def _selected(page: str, name: str) -> str:
    select = page.split(f'<select name="{name}"', 1)[1].split("</select>", 1)[0]
    found = re.search(r'<option value="([^"]*)" selected>', select)
    assert found is not None, select
    return found.group(1)


async def _saved(console: ConsoleHarness, tenant: str) -> BillingProfile | None:
    try:
        return await _billing(console).billing_profile(tenant)
    except NoBillingProfile:
        return None


def _puts(events: list[AuditEvent]) -> list[AuditEvent]:
    return [e for e in events if e.action == PUT]


async def test_before_any_profile_the_page_is_an_empty_form(console: ConsoleHarness) -> None:
    await console.user_with_password(console.admin_tenant_id, "root")
    async with console.client() as client:
        await log_in(client, "admin", "root")
        page = await client.get("/billing-profile")
    assert page.status_code == 200, page.text
    assert "<h1>Billing profile</h1>" in page.text
    assert 'href="/console/billing-profile"' in _menu(page.text)
    assert 'id="no-billing-profile"' in page.text
    assert 'value=""' in _input(page.text, "legal_name")
    assert _selected(page.text, "country") == ""
    assert _selected(page.text, "language") == "en"  # the console's language
    assert 'id="save-billing-profile"' in page.text
    # Every ISO code is offered, and the form's bounds are the core's.
    assert page.text.count("<option value=") == 249 + 1 + 2
    assert 'maxlength="200"' in _input(page.text, "legal_name")


async def test_the_profile_is_shown(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    await _billing(console).set_billing_profile(
        tenant,
        {
            "legal_name": "Kunde GmbH",
            "address_lines": ["Hauptstraße 1", "Hinterhaus"],
            "postcode": "10115",
            "city": "Berlin",
            "country": "DE",
            "vat_number": "DE123456789",
            "invoice_email": "rechnung@kunde.example",
        },
    )
    async with console.client() as client:
        await log_in(client, "admin", "root")
        page = await client.get("/billing-profile")
    assert page.status_code == 200, page.text
    assert 'id="no-billing-profile"' not in page.text
    for name, value in (
        ("legal_name", "Kunde GmbH"),
        ("address_line_1", "Hauptstraße 1"),
        ("address_line_2", "Hinterhaus"),
        ("address_line_3", ""),
        ("postcode", "10115"),
        ("city", "Berlin"),
        ("vat_number", "DE123456789"),
        ("siret", ""),
        ("invoice_email", "rechnung@kunde.example"),
    ):
        assert f'value="{value}"' in _input(page.text, name), name
    assert _selected(page.text, "country") == "DE"
    assert _selected(page.text, "language") == "en"


async def test_saving_sets_the_profile_as_the_api_would(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    async with console.client() as client:
        await log_in(client, "admin", "root")
        token = await csrf(client, "/billing-profile")
        saved = await client.post("/billing-profile", data={"csrf": token, **FORM})
        page = await client.get("/billing-profile?saved=1")
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == "/console/billing-profile?saved=1"
    profile = await _saved(console, tenant)
    # The address's empty inputs are no lines; the numbers normalised as the API's are.
    assert profile == parse_profile(
        {
            **{k: v for k, v in FORM.items() if not k.startswith("address_line")},
            "address_lines": ["12 rue de la Paix", "Bâtiment B"],
        }
    )
    assert profile is not None
    assert (profile.vat_number, profile.siret) == ("FR44732829320", "73282932000074")
    assert 'id="billing-profile-saved"' in page.text and "Billing profile saved." in page.text
    # What was saved is shown, escaped.
    assert 'value="Société Éléphant &amp; &#34;Fils&#34;"' in _input(page.text, "legal_name")
    assert 'value="FR44732829320"' in _input(page.text, "vat_number")
    assert 'value="Bâtiment B"' in _input(page.text, "address_line_2")
    assert _selected(page.text, "language") == "fr"


async def test_a_change_is_the_apis_event_of_the_tenants_log(console: ConsoleHarness) -> None:
    """The same event as the management API's PUT of the profile, but for its request id."""
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    async with console.client() as client:
        await log_in(client, "admin", "root")
        token = await csrf(client, "/billing-profile")
        saved = await client.post("/billing-profile", data={"csrf": token, **FORM})
    assert saved.status_code == 303
    bootstrap = console.application.bootstrap
    assert bootstrap is not None
    root_key = Credentials(bootstrap.access_key_id, bootstrap.secret_access_key)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=console.application),
        base_url="http://127.0.0.1:9001",
        auth=HttpxSigV4(root_key),
    ) as api:
        body = parse_profile({**FORM, "address_lines": ["1 rue"]}).to_dict()
        del body["format"]
        put = await api.put("/api/v1/tenants/admin/billing-profile", json=body)
    assert put.status_code == 200, put.text
    ours, theirs = _puts(await logged_events(console, tenant))
    assert ours.request_id == saved.headers["x-request-id"]
    assert theirs.request_id == put.headers["x-request-id"]
    assert (ours.tenant_id, ours.principal, ours.action, ours.resource, ours.outcome) == (
        tenant,
        f"arn:aws:iam::{tenant}:root",
        PUT,
        f"arn:aws:andromede::{tenant}:billing-profile",
        Outcome.SUCCESS,
    )
    for event in (ours, theirs):
        event_fields = (event.tenant_id, event.principal, event.action, event.resource)
        assert event_fields == (ours.tenant_id, ours.principal, ours.action, ours.resource)
        assert (event.outcome, dict(event.details)) == (Outcome.SUCCESS, {})


async def test_a_bad_vat_number_is_refused_naming_it_with_the_form_kept(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    typed = {**FORM, "vat_number": "FR 45 732 829 320"}  # its key is not its SIREN's
    async with console.client() as client:
        await log_in(client, "admin", "root")
        token = await csrf(client, "/billing-profile")
        refused = await client.post("/billing-profile", data={"csrf": token, **typed})
    assert refused.status_code == 400, refused.text
    assert 'role="alert"' in refused.text
    assert "The field “VAT number” was refused:" in refused.text
    assert "format and key" in refused.text
    # Only that field is marked; every field is as typed, not as it would be normalised.
    assert 'aria-invalid="true"' in _input(refused.text, "vat_number")
    assert refused.text.count('aria-invalid="true"') == 1
    assert 'value="FR 45 732 829 320"' in _input(refused.text, "vat_number")
    assert 'value="Société Éléphant &amp; &#34;Fils&#34;"' in _input(refused.text, "legal_name")
    assert 'value="Bâtiment B"' in _input(refused.text, "address_line_3")
    assert 'value="732 829 320 00074"' in _input(refused.text, "siret")
    assert _selected(refused.text, "country") == "FR"
    assert _selected(refused.text, "language") == "fr"
    assert 'id="billing-profile-saved"' not in refused.text
    assert await _saved(console, tenant) is None
    assert _puts(await logged_events(console, tenant)) == []


async def test_each_field_refused_is_named_never_a_500(console: ConsoleHarness) -> None:
    """What the core refuses is a 400 naming the field, whatever was sent: no country, an
    unknown one, no address, a bad SIRET, a bad e-mail, a language the invoices do not speak,
    a line with a control character."""
    await console.user_with_password(console.admin_tenant_id, "root")
    cases = [
        ({"country": ""}, "Country"),
        ({"country": "ZZ"}, "Country"),
        ({"address_line_1": "", "address_line_3": " "}, "Address"),
        ({"address_line_1": "x" * 101}, "Address"),
        ({"address_line_2": "one\ntwo"}, "Address"),
        ({"siret": "73282932000075"}, "SIREN or SIRET"),
        ({"invoice_email": "factures"}, "Invoice e-mail"),
        ({"language": "de"}, "Invoice language"),
        ({"legal_name": " "}, "Legal name"),
        ({"postcode": "1" * 17}, "Postcode"),
        ({"purchase_order": "P" * 65}, "Purchase order"),
    ]
    async with console.client() as client:
        await log_in(client, "admin", "root")
        token = await csrf(client, "/billing-profile")
        for changes, label in cases:
            answer = await client.post("/billing-profile", data={"csrf": token, **FORM, **changes})
            assert answer.status_code == 400, (changes, answer.text)
            assert f"The field “{label}” was refused:" in answer.text, changes
    assert await _saved(console, console.admin_tenant_id) is None


async def test_the_french_page(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        await log_in(client, "admin", "root")
        empty = await client.get("/billing-profile")
        token = await csrf(client, "/billing-profile")
        refused = await client.post(
            "/billing-profile", data={"csrf": token, **FORM, "vat_number": "DE123456789"}
        )
        saved = await client.post("/billing-profile", data={"csrf": token, **FORM})
        shown = await client.get("/billing-profile?saved=1")
    assert '<html lang="fr">' in empty.text
    assert "<h1>Profil de facturation</h1>" in empty.text
    for label in ("Raison sociale", "Code postal", "Numéro de TVA", "Langue des factures"):
        assert label in empty.text, label
    assert _selected(empty.text, "language") == "fr"  # the console's language
    assert refused.status_code == 400
    assert "Le champ « Numéro de TVA » est refusé : le numéro de TVA du pays" in refused.text
    assert saved.status_code == 303
    assert "Profil de facturation enregistré." in shown.text


async def test_a_reader_sees_the_profile_and_cannot_save_it(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await _billing(console).set_billing_profile(tenant, {**FORM, "address_lines": ["1 rue"]})
    before = await _saved(console, tenant)
    await console.user_with_password(tenant, USER)
    await console.identity.put_user_policy(
        tenant, USER, "read", _policy("andromede:GetBillingProfile")
    )
    async with console.client() as client:
        await log_in(client, "admin", USER)
        page = await client.get("/billing-profile")
        token = await csrf(client, "/billing-profile")
        refused = await client.post("/billing-profile", data={"csrf": token, **FORM})
    assert page.status_code == 200, page.text
    assert 'href="/console/billing-profile"' in _menu(page.text)
    assert 'value="FR44732829320"' in _input(page.text, "vat_number")
    notice = page.text.split('id="billing-profile-read-only">', 1)[1].split("</p>", 1)[0]
    assert PUT in notice and f"arn:aws:andromede::{tenant}:billing-profile" in notice
    assert "<fieldset disabled>" in page.text and 'id="save-billing-profile"' not in page.text
    assert refused.status_code == 403
    assert "Access denied" in refused.text and PUT in refused.text
    assert await _saved(console, tenant) == before
    (denied,) = _puts(await logged_events(console, tenant))
    assert denied.outcome is Outcome.FAILURE
    assert denied.principal == f"arn:aws:iam::{tenant}:user/{USER}"
    assert denied.details["error"] == "access-denied"


async def test_a_user_allowed_both_saves_as_itself(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, USER)
    await console.identity.put_user_policy(
        tenant, USER, "both", _policy("andromede:GetBillingProfile", PUT)
    )
    async with console.client() as client:
        await log_in(client, "admin", USER)
        token = await csrf(client, "/billing-profile")
        saved = await client.post("/billing-profile", data={"csrf": token, **FORM})
    assert saved.status_code == 303, saved.text
    assert await _saved(console, tenant) is not None
    (event,) = _puts(await logged_events(console, tenant))
    assert event.outcome is Outcome.SUCCESS
    assert event.principal == f"arn:aws:iam::{tenant}:user/{USER}"


async def test_a_user_without_policy_is_refused_with_the_action_named(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, USER)
    async with console.client() as client:
        await log_in(client, "admin", USER)
        buckets = await client.get("/buckets")
        page = await client.get("/billing-profile")
        saved = await client.post("/billing-profile", data={"csrf": await csrf(client), **FORM})
    assert 'href="/console/billing-profile"' not in _menu(buckets.text)
    assert page.status_code == 403
    assert "Access denied" in page.text and "andromede:GetBillingProfile" in page.text
    assert f"arn:aws:andromede::{tenant}:billing-profile" in page.text
    assert 'name="legal_name"' not in page.text
    assert saved.status_code == 403 and PUT in saved.text
    assert await _saved(console, tenant) is None


async def test_a_form_without_the_sessions_token_is_refused(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    async with console.client() as client:
        await log_in(client, "admin", "root")
        missing = await client.post("/billing-profile", data=FORM)
        forged = await client.post("/billing-profile", data={"csrf": "forged", **FORM})
    for answer in (missing, forged):
        assert answer.status_code == 403
        assert "Form refused" in answer.text
    assert await _saved(console, tenant) is None
    assert _puts(await logged_events(console, tenant)) == []


async def test_without_a_session_the_page_leads_to_the_login(console: ConsoleHarness) -> None:
    async with console.client() as client:
        shown = await client.get("/billing-profile")
        saved = await client.post("/billing-profile", data=FORM)
    for answer in (shown, saved):
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/login"
