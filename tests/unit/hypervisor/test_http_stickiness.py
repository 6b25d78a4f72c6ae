"""Application Load Balancers' sticky sessions, algorithms and HTTPS targets on the HTTP proxy
(decision 0231), over real sockets on 127.0.0.1: ``AWSALB``/``AWSALBCORS`` keep a client on
its target while the group serves it, forged, tampered, stale or another group's cookies are
not followed; ``AWSALBAPP-0`` once the target sets its application cookie; a weighted
forward's ``AWSALBTG``; least outstanding requests; HTTPS targets spoken to over TLS, their
certificates not verified."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from andromede.hypervisor.http_proxies import HttpListenerProxy, HttpRouting
from andromede.hypervisor.http_stickiness import seal_cookie
from andromede.loadbalancing.application import GroupPolicy
from andromede.loadbalancing.group_routing import new_sticky_key
from andromede.loadbalancing.http_rules import Condition, Forward, Rule
from support.tls_certificates import TestCa
from unit.hypervisor.test_http_proxies import Target

Address = tuple[str, int]


@contextlib.asynccontextmanager
async def targets(*made: Target) -> AsyncIterator[tuple[Target, ...]]:
    for target in made:
        await target.start()
    try:
        yield made
    finally:
        for target in made:
            await target.close()


@contextlib.asynccontextmanager
async def serving(routing: HttpRouting) -> AsyncIterator[tuple[HttpListenerProxy, str]]:
    running = HttpListenerProxy(routing)
    port = await running.start("127.0.0.1", 0)
    try:
        yield running, f"http://127.0.0.1:{port}"
    finally:
        await running.close()


def _routing(
    action: Forward,
    groups: dict[str, tuple[Address, ...]],
    policies: dict[str, GroupPolicy],
    rules: tuple[Rule, ...] = (),
) -> HttpRouting:
    return HttpRouting("l1", 80, (*rules, Rule("d", None, (), action)), groups, policies=policies)


def _cookies(answer: httpx.Response) -> dict[str, str]:
    return {v.split("=", 1)[0]: v for v in answer.headers.get_list("set-cookie")}


async def test_lb_cookie_keeps_a_client_on_its_target_while_the_group_serves_it() -> None:
    key, other_key = new_sticky_key(), new_sticky_key()
    policy = GroupPolicy(stickiness="lb_cookie", duration=120, key=key)
    async with targets(Target("a"), Target("b"), Target("api")) as (a, b, api):
        routing = _routing(
            Forward((("web", 1),)),
            {"web": (a.address, b.address), "api": (api.address,)},
            {"web": policy, "api": GroupPolicy(stickiness="lb_cookie", key=other_key)},
            (Rule("r", 1, (Condition("path-pattern", ("/api",)),), Forward((("api", 1),))),),
        )
        async with serving(routing) as (running, url), httpx.AsyncClient(base_url=url) as client:
            first = await client.get("/")
            issued = _cookies(first)
            assert set(issued) == {"AWSALB", "AWSALBCORS"}
            value = issued["AWSALB"].split(";")[0].split("=", 1)[1]
            assert issued["AWSALBCORS"].startswith(f"AWSALBCORS={value}; Expires=")
            assert "SameSite=None" in issued["AWSALBCORS"] and "Path=/" in issued["AWSALB"]
            assert "Secure" not in issued["AWSALB"]  # an HTTP listener's
            expires = parsedate_to_datetime(issued["AWSALB"].split("Expires=")[1].split(";")[0])
            assert abs(expires.timestamp() - (time.time() + 120)) < 5
            assert "127.0.0.1" not in value and str(a.address[1]) not in value  # opaque
            stuck = first.headers["x-target"]
            names = [(await client.get("/")).headers["x-target"] for _ in range(4)]
            assert names == [stuck] * 4

            async def names_with(cookie: str) -> set[str]:
                found = set()
                for _ in range(4):
                    client.cookies.clear()  # only the cookie given
                    answer = await client.get("/", headers={"Cookie": f"AWSALB={cookie}"})
                    found.add(answer.headers["x-target"])
                return found

            subject = f"{b.address[0]}:{b.address[1]}"
            assert await names_with(seal_cookie(key, "AWSALB", time.time() + 60, subject)) == {"b"}
            # Another group's key, a stale one, a tampered one, another kind: balanced anew.
            for forged in (
                seal_cookie(other_key, "AWSALB", time.time() + 60, subject),
                seal_cookie(key, "AWSALB", time.time() - 1, subject),
                seal_cookie(key, "AWSALBTG", time.time() + 60, subject),
                seal_cookie(key, "AWSALB", time.time() + 60, subject)[:-2] + "AA",
                "bm90LWEtY29va2ll",
            ):
                assert await names_with(forged) == {"a", "b"}
            # The web group's cookie is no cookie of the api group.
            client.cookies.clear()
            api_answer = await client.get(
                "/api", headers={"Cookie": f"AWSALB={seal_cookie(key, 'AWSALB', 9e9, subject)}"}
            )
            assert api_answer.headers["x-target"] == "api"
            # Its target no longer served (unhealthy, deregistered): balanced anew, reissued.
            running.update(_routing(Forward((("web", 1),)), {"web": (a.address,)}, {"web": policy}))
            client.cookies.clear()
            moved = await client.get(
                "/", headers={"Cookie": f"AWSALB={seal_cookie(key, 'AWSALB', 9e9, subject)}"}
            )
            assert moved.headers["x-target"] == "a" and "AWSALB" in _cookies(moved)
            # Behind an HTTPS listener (its TLS aside here), the cookies are Secure.
            running.update(replace(running.routing, protocol="HTTPS"))
            secure = _cookies(await client.get("/"))
            assert secure["AWSALB"].endswith("; Secure")
            assert secure["AWSALBCORS"].endswith("; SameSite=None; Secure")


async def test_app_cookie_follows_the_application_cookie() -> None:
    policy = GroupPolicy(
        stickiness="app_cookie", duration=300, cookie_name="SESSION", key=new_sticky_key()
    )
    async with targets(Target("a"), Target("b")) as (a, b):
        routing = _routing(Forward((("web", 1),)), {"web": (a.address, b.address)}, {"web": policy})
        async with serving(routing) as (_, url), httpx.AsyncClient(base_url=url) as client:
            plain = await client.get("/")
            assert "AWSALBAPP-0" not in _cookies(plain)  # the target set no SESSION
            login = await client.get("/login")
            issued = _cookies(login)
            assert set(issued) == {"SESSION", "AWSALBAPP-0"}
            expires = issued["AWSALBAPP-0"].split("Expires=")[1].split(";")[0]
            lifetime = parsedate_to_datetime(expires).timestamp() - time.time()
            assert abs(lifetime - 604800) < 5  # AWS's seven days; the 300 s are inside
            names = [(await client.get("/")).headers["x-target"] for _ in range(4)]
            assert names == [login.headers["x-target"]] * 4


async def test_weighted_forward_keeps_a_client_group() -> None:
    blue_key, green_key = new_sticky_key(), new_sticky_key()
    async with targets(Target("blue"), Target("green")) as (blue, green):
        groups = {"blue": (blue.address,), "green": (green.address,)}
        policies = {"blue": GroupPolicy(key=blue_key), "green": GroupPolicy(key=green_key)}
        action = Forward((("blue", 1), ("green", 1)), stickiness=60)
        async with serving(_routing(action, groups, policies)) as (running, url):
            async with httpx.AsyncClient(base_url=url) as client:
                first = await client.get("/")
                assert {"AWSALBTG", "AWSALBTGCORS"} <= set(_cookies(first))
                chosen = first.headers["x-target"]
                names = [(await client.get("/")).headers["x-target"] for _ in range(6)]
                assert names == [chosen] * 6
                # The group weighted 0 now: the client is moved to the other one.
                other = "green" if chosen == "blue" else "blue"
                weights = ((chosen, 0), (other, 1))
                running.update(_routing(Forward(weights, stickiness=60), groups, policies))
                assert (await client.get("/")).headers["x-target"] == other
        # Without group stickiness, no AWSALBTG and the weights decide each request.
        plain = Forward((("blue", 1), ("green", 1)))
        async with serving(_routing(plain, groups, policies)) as (_, url):
            async with httpx.AsyncClient(base_url=url) as client:
                answers = [await client.get("/") for _ in range(30)]
                assert not any("AWSALBTG" in _cookies(a) for a in answers)
                assert {a.headers["x-target"] for a in answers} == {"blue", "green"}


async def test_least_outstanding_requests_avoids_a_busy_target() -> None:
    policy = GroupPolicy(algorithm="least_outstanding_requests")
    async with targets(Target("a"), Target("b")) as (a, b):
        a.slow = b.slow = 0.5
        routing = _routing(Forward((("web", 1),)), {"web": (a.address, b.address)}, {"web": policy})
        async with serving(routing) as (_, url), httpx.AsyncClient(base_url=url) as client:
            busy = asyncio.create_task(client.get("/slow"))
            await asyncio.sleep(0.2)  # in flight to the first target
            names = [(await client.get("/")).headers["x-target"] for _ in range(3)]
            slow = (await busy).headers["x-target"]
            assert names == ["b" if slow == "a" else "a"] * 3
            # Nothing in flight: every target in turn again.
            assert {(await client.get("/")).headers["x-target"] for _ in range(2)} == {"a", "b"}
    # Round robin, the default, takes the busy one in its turn.
    async with targets(Target("a"), Target("b")) as (a, b):
        a.slow = b.slow = 0.5
        round_robin = _routing(Forward((("web", 1),)), {"web": (a.address, b.address)}, {})
        async with serving(round_robin) as (_, url), httpx.AsyncClient(base_url=url) as client:
            busy = asyncio.create_task(client.get("/slow"))
            await asyncio.sleep(0.2)
            names = [(await client.get("/")).headers["x-target"] for _ in range(2)]
            await busy
            assert sorted(names) == ["a", "b"]


async def test_https_targets_are_reencrypted_without_verifying_them(tmp_path: Path) -> None:
    issued = TestCa().issue("target.internal")  # a CA the proxy does not know
    (tmp_path / "target.pem").write_text(issued.body + issued.key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "target.pem")
    https = GroupPolicy(protocol="HTTPS")
    async with targets(Target("secure", context=context), Target("plain")) as (secure, plain):
        rules = (
            Rule("p", 1, (Condition("path-pattern", ("/plain",)),), Forward((("plain", 1),))),
            Rule("m", 2, (Condition("path-pattern", ("/mixed",)),), Forward((("mixed", 1),))),
        )
        routing = _routing(
            Forward((("secure", 1),)),
            {
                "secure": (secure.address,),
                "plain": (plain.address,),
                "mixed": (secure.address,),
            },
            {"secure": https, "plain": https},  # "mixed": an HTTP group to a TLS server
            rules,
        )
        async with serving(routing) as (_, url), httpx.AsyncClient(base_url=url) as client:
            answer = await client.get("/")
            assert (answer.status_code, answer.headers["x-target"]) == (200, "secure")
            assert secure.tls_seen == 1
            # A target that speaks no TLS behind an HTTPS group, and the converse: 502.
            for path in ("/plain", "/mixed"):
                failed = await client.get(path)
                assert failed.status_code == 502, path
                assert failed.headers["server"] == "awselb/2.0"
