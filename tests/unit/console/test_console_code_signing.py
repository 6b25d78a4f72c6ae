"""Lambda's code signing configurations in the console (decision 0396): one made with its
publisher ticked among the account's profile versions (none ticked: Lambda's refusal shown
with the form as typed), shown, edited to Enforce, set on a function from its code signing
page (the function's unsigned code then refused by Lambda), refused deletion while in use
(Lambda's ResourceConflictException in its words), removed from the function and deleted.
Each checked against what Lambda answers apart from the console; every form needs the CSRF
token."""

from __future__ import annotations

from urllib.parse import quote

from andromede.console.wire import WireError
from andromede.console.wire_lambda_code_signing import (
    attached_config,
    code_signing_configs,
    config_functions,
)
from support.console import WIRE_ORIGIN, ConsoleHarness, csrf_of
from support.lambdaapp import handler_zip
from unit.console.test_console_dynamodb_edits import alert, form_of
from unit.console.test_console_lambda_triggers import _setup
from unit.console.test_console_signer import make_profile


async def test_a_configuration_made_set_on_a_function_enforced_and_deleted(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        wires, principal, arn = await _setup(console, client)
        assert (await make_profile(client, "publisher")).status_code == 303
        [profile] = await wires.signer.profiles(WIRE_ORIGIN, principal)
        page = await client.get("/code-signing-configs")
        assert page.status_code == 200, page.text
        assert 'id="no-configs"' in page.text
        token = csrf_of(page)
        box = f'name="publisher_01" value="{profile.version_arn}"'
        assert box in form_of(page, "create-config-form")

        form = {"csrf": token, "description": "release", "policy": "Warn"}
        assert (
            await client.post("/code-signing-configs", data={**form, "csrf": "x"})
        ).status_code == 403
        refused = await client.post("/code-signing-configs", data=form)
        assert refused.status_code == 400, alert(refused)
        assert "Exception)" in alert(refused)
        assert 'value="release"' in form_of(refused, "create-config-form")
        assert await code_signing_configs(wires.functions, WIRE_ORIGIN, principal) == []

        made = await client.post(
            "/code-signing-configs", data={**form, "publisher_01": profile.version_arn}
        )
        assert made.status_code == 303, alert(made)
        [config] = await code_signing_configs(wires.functions, WIRE_ORIGIN, principal)
        assert (config.policy, config.publishers) == ("Warn", (profile.version_arn,))
        assert made.headers["location"] == f"/console/code-signing-configs/{config.arn}"
        shown = await client.get(f"/code-signing-configs/{quote(config.arn)}")
        assert shown.status_code == 200, alert(shown)
        assert f"{box} checked" in form_of(shown, "edit-config-form")
        assert 'id="config-policy">Warn<' in shown.text

        edited = await client.post(
            f"/code-signing-configs/{quote(config.arn)}/update",
            data={**form, "policy": "Enforce", "publisher_01": profile.version_arn},
        )
        assert edited.status_code == 303, alert(edited)
        [config] = await code_signing_configs(wires.functions, WIRE_ORIGIN, principal)
        assert config.policy == "Enforce"

        function_page = await client.get("/functions/fn")
        assert 'href="/console/functions/fn/code-signing" id="code-signing-link"' in (
            function_page.text
        )
        signing = await client.get("/functions/fn/code-signing")
        assert 'id="no-function-config"' in signing.text
        wrong = await client.post(
            "/functions/fn/code-signing/attach", data={"csrf": token, "config": "csc-nothing"}
        )
        assert wrong.status_code >= 400 and "Exception)" in alert(wrong)
        attached = await client.post(
            "/functions/fn/code-signing/attach", data={"csrf": token, "config": config.arn}
        )
        assert attached.status_code == 303, alert(attached)
        assert await attached_config(wires.functions, WIRE_ORIGIN, principal, "fn") == config.arn
        assert (
            f'id="function-config"><code>{config.arn}</code>'
            in (await client.get("/functions/fn/code-signing")).text
        )
        assert await config_functions(wires.functions, WIRE_ORIGIN, principal, config.arn) == [arn]
        assert (
            f"<code>{arn}</code>"
            in (await client.get(f"/code-signing-configs/{quote(config.arn)}")).text
        )
        # Enforce: the function's unsigned code is refused by Lambda.
        try:
            await wires.functions.update_code(WIRE_ORIGIN, principal, "fn", handler_zip("x = 1\n"))
        except WireError as exc:
            assert exc.code == "CodeVerificationFailedException"
        else:
            raise AssertionError("unsigned code deployed under Enforce")

        # A function created from the list page under the configuration: unsigned code is
        # refused in Lambda's words, the configuration still chosen in the form as typed.
        role = (await wires.functions.function(WIRE_ORIGIN, principal, "fn")).role
        created = {"csrf": token, "name": "checked", "runtime": "python3.11",
                   "handler": "app.handler", "role": role,
                   "code_signing_config": config.arn}  # fmt: skip
        unsigned = await client.post(
            "/functions/upload", data=created,
            files={"code": ("code.zip", handler_zip("x = 1\n"), "application/zip")},
        )  # fmt: skip
        assert unsigned.status_code == 400, alert(unsigned)
        assert "(CodeVerificationFailedException)" in alert(unsigned)
        assert f'<option value="{config.arn}" selected>' in form_of(
            unsigned, "create-function-form"
        )

        in_use = await client.post(
            f"/code-signing-configs/{quote(config.arn)}/delete",
            data={"csrf": token, "confirm": "yes"},
        )
        assert in_use.status_code == 409, alert(in_use)
        assert "(ResourceConflictException)" in alert(in_use)
        detached = await client.post("/functions/fn/code-signing/detach", data={"csrf": token})
        assert detached.status_code == 303, alert(detached)
        assert await attached_config(wires.functions, WIRE_ORIGIN, principal, "fn") == ""
        deleted = await client.post(
            f"/code-signing-configs/{quote(config.arn)}/delete",
            data={"csrf": token, "confirm": "yes"},
        )
        assert deleted.status_code == 303, alert(deleted)
        assert await code_signing_configs(wires.functions, WIRE_ORIGIN, principal) == []
