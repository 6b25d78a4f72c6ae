"""Static websites in process (decision 0081): Get/Put/DeleteBucketWebsite and their checks,
objects' ``x-amz-website-redirect-location``, and the website endpoint on the S3 port —
index and error documents, routing rules, redirects, HTML errors, and only what the bucket
lets anyone read."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.storage.website import Redirect, RedirectAll, RoutingRule, WebsiteConfiguration
from support.s3app import Client, Reply, in_process_client

B = "/site"
SITE = "site.s3-website.localhost:9000"
NO_BLOCK = (
    b"<PublicAccessBlockConfiguration><BlockPublicAcls>false</BlockPublicAcls>"
    b"<IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy>"
    b"<RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>"
)
INDEX = "<IndexDocument><Suffix>index.html</Suffix></IndexDocument>"
ERROR = "<ErrorDocument><Key>error.html</Key></ErrorDocument>"


def md5_header(body: bytes) -> dict[str, str]:
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    return {"Content-MD5": base64.b64encode(digest).decode()}


async def put_website(client: Client, inner: str, *, md5: bool = True) -> Reply:
    body = f"<WebsiteConfiguration>{inner}</WebsiteConfiguration>".encode()
    return await client.request("PUT", f"{B}?website", body, md5_header(body) if md5 else None)


async def make_public(client: Client, *actions: str) -> None:
    reply = await client.request("PUT", f"{B}?publicAccessBlock", NO_BLOCK, md5_header(NO_BLOCK))
    assert reply.status == 200, reply.body
    statements = [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": action,
            "Resource": "arn:aws:s3:::site" + ("" if action == "s3:ListBucket" else "/*"),
        }
        for action in actions or ("s3:GetObject",)
    ]
    document = json.dumps({"Version": "2012-10-17", "Statement": statements}).encode()
    assert (await client.request("PUT", f"{B}?policy", document)).status == 204


async def visit(client: Client, path: str, method: str = "GET", **headers: str) -> Reply:
    """A browser's request to the bucket's website endpoint: anonymous, unsigned."""
    return await client.request(method, path, headers=headers, sign=False, host=SITE)


def html_code(reply: Reply) -> str:
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    text = reply.body.decode()
    assert f"<li>RequestId: {reply.headers['x-amz-request-id']}</li>" in text
    return text.split("<li>Code: ", 1)[1].split("</li>", 1)[0]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        assert (await made.request("PUT", B)).status == 200
        for key, body in (
            ("index.html", b"<h1>home</h1>"),
            ("docs/index.html", b"<h1>docs</h1>"),
            ("docs/page.html", b"<p>page</p>"),
            ("error.html", b"<h1>oops</h1>"),
        ):
            reply = await made.request("PUT", f"{B}/{key}", body, {"Content-Type": "text/html"})
            assert reply.status == 200
        yield made


# -- the configuration ------------------------------------------------------------------------


async def test_a_configuration_is_put_read_back_and_deleted(client: Client) -> None:
    missing = await client.request("GET", f"{B}?website")
    assert (missing.status, missing.error_code()) == (404, "NoSuchWebsiteConfiguration")
    rules = (
        "<RoutingRules><RoutingRule><Condition><KeyPrefixEquals>old/</KeyPrefixEquals>"
        "</Condition><Redirect><ReplaceKeyPrefixWith>new/</ReplaceKeyPrefixWith></Redirect>"
        "</RoutingRule><RoutingRule><Condition><HttpErrorCodeReturnedEquals>404"
        "</HttpErrorCodeReturnedEquals></Condition><Redirect><HostName>other.example"
        "</HostName><Protocol>https</Protocol><HttpRedirectCode>302</HttpRedirectCode>"
        "</Redirect></RoutingRule></RoutingRules>"
    )
    assert (await put_website(client, INDEX + ERROR + rules)).status == 200
    got = await client.request("GET", f"{B}?website")
    assert got.status == 200
    body = got.body.decode()
    for part in (
        "<IndexDocument><Suffix>index.html</Suffix></IndexDocument>",
        "<ErrorDocument><Key>error.html</Key></ErrorDocument>",
        "<Condition><KeyPrefixEquals>old/</KeyPrefixEquals></Condition>",
        "<Redirect><ReplaceKeyPrefixWith>new/</ReplaceKeyPrefixWith></Redirect>",
        "<HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals>",
        "<HostName>other.example</HostName><HttpRedirectCode>302</HttpRedirectCode>"
        "<Protocol>https</Protocol>",
    ):
        assert part in body, body
    all_to = "<RedirectAllRequestsTo><HostName>www.example.org</HostName></RedirectAllRequestsTo>"
    assert (await put_website(client, all_to)).status == 200
    assert (await client.request("GET", f"{B}?website")).body.endswith(
        b"<RedirectAllRequestsTo><HostName>www.example.org</HostName></RedirectAllRequestsTo>"
        b"</WebsiteConfiguration>"
    )
    assert (await client.request("DELETE", f"{B}?website")).status == 204
    assert (await client.request("GET", f"{B}?website")).status == 404
    assert (await client.request("DELETE", f"{B}?website")).status == 204  # idempotent


def redirect_rule(condition: str, redirect: str) -> str:
    return (
        f"<RoutingRules><RoutingRule>{condition}<Redirect>{redirect}</Redirect>"
        "</RoutingRule></RoutingRules>"
    )


@pytest.mark.parametrize(
    ("inner", "code", "words"),
    [
        ("", "InvalidArgument", "IndexDocument Suffix must be provided"),
        (ERROR, "InvalidArgument", "IndexDocument Suffix must be provided"),
        ("<IndexDocument><Suffix></Suffix></IndexDocument>", "InvalidArgument", "not well"),
        ("<IndexDocument><Suffix>a/b.html</Suffix></IndexDocument>", "InvalidArgument", "not"),
        (INDEX + "<ErrorDocument><Key></Key></ErrorDocument>", "InvalidArgument", "not well"),
        (
            "<RedirectAllRequestsTo><HostName>x.example</HostName></RedirectAllRequestsTo>" + INDEX,
            "InvalidArgument",
            "in conjunction",
        ),
        ("<RedirectAllRequestsTo></RedirectAllRequestsTo>", "MalformedXML", ""),
        (
            "<RedirectAllRequestsTo><HostName>x</HostName><Protocol>ftp</Protocol>"
            "</RedirectAllRequestsTo>",
            "InvalidArgument",
            "Invalid protocol",
        ),
        (INDEX + "<RoutingRules></RoutingRules>", "MalformedXML", ""),
        (
            INDEX + redirect_rule("<Condition></Condition>", "<HostName>x</HostName>"),
            "InvalidArgument",
            "Condition cannot be empty",
        ),
        (INDEX + redirect_rule("", ""), "InvalidArgument", "Redirect cannot be empty"),
        (
            INDEX
            + redirect_rule(
                "",
                "<ReplaceKeyWith>a</ReplaceKeyWith><ReplaceKeyPrefixWith>b</ReplaceKeyPrefixWith>",
            ),
            "InvalidArgument",
            "not both",
        ),
        (
            INDEX + redirect_rule("", "<HttpRedirectCode>300</HttpRedirectCode>"),
            "InvalidArgument",
            "3XX except 300",
        ),
        (
            INDEX + redirect_rule("", "<HttpRedirectCode>200</HttpRedirectCode>"),
            "InvalidArgument",
            "3XX except 300",
        ),
        (
            INDEX
            + redirect_rule(
                "<Condition><HttpErrorCodeReturnedEquals>302</HttpErrorCodeReturnedEquals>"
                "</Condition>",
                "<HostName>x</HostName>",
            ),
            "InvalidArgument",
            "4XX or 5XX",
        ),
        (
            INDEX
            + redirect_rule(
                "<Condition><HttpErrorCodeReturnedEquals>four</HttpErrorCodeReturnedEquals>"
                "</Condition>",
                "<HostName>x</HostName>",
            ),
            "MalformedXML",
            "",
        ),
        (INDEX + INDEX, "MalformedXML", ""),
    ],
)
async def test_bad_configurations_are_refused_and_change_nothing(
    client: Client, inner: str, code: str, words: str
) -> None:
    assert (await put_website(client, INDEX + ERROR)).status == 200
    reply = await put_website(client, inner)
    assert (reply.status, reply.error_code()) == (400, code)
    assert words.encode() in reply.body
    assert b"error.html" in (await client.request("GET", f"{B}?website")).body


async def test_the_number_of_routing_rules_is_a_setting(tmp_path: Path) -> None:
    one = "<RoutingRule><Redirect><HostName>x.example</HostName></Redirect></RoutingRule>"
    async with in_process_client(tmp_path, max_website_routing_rules=2) as small:
        assert (await small.request("PUT", B)).status == 200
        assert (
            await put_website(small, INDEX + f"<RoutingRules>{one * 2}</RoutingRules>")
        ).status == 200
        three = await put_website(small, INDEX + f"<RoutingRules>{one * 3}</RoutingRules>")
        assert (three.status, three.error_code()) == (400, "InvalidRequest")
        assert b"at most 2 routing rules" in three.body


async def test_a_configuration_needs_its_integrity_header(client: Client) -> None:
    reply = await put_website(client, INDEX, md5=False)
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")


def test_the_stored_form_reads_back_as_it_was_put() -> None:
    config = WebsiteConfiguration(
        index_suffix="index.html",
        error_key="404.html",
        routing_rules=(
            RoutingRule(Redirect(replace_key_prefix_with="b/"), key_prefix_equals="a/"),
            RoutingRule(
                Redirect("h.example", "https", None, "gone.html", 307),
                http_error_code_returned_equals=404,
            ),
        ),
    )
    assert WebsiteConfiguration.from_text(config.to_text()) == config
    everything = WebsiteConfiguration(redirect_all=RedirectAll("w.example", "https"))
    assert WebsiteConfiguration.from_text(everything.to_text()) == everything


# -- objects' redirects on the S3 API -------------------------------------------------------------


async def test_an_objects_website_redirect_is_kept_and_shown(client: Client) -> None:
    to = {"x-amz-website-redirect-location": "/docs/page.html"}
    assert (await client.request("PUT", f"{B}/moved.html", b"", to)).status == 200
    for method in ("GET", "HEAD"):
        reply = await client.request(method, f"{B}/moved.html")
        assert reply.headers["x-amz-website-redirect-location"] == "/docs/page.html"
    plain = await client.request("HEAD", f"{B}/index.html")
    assert "x-amz-website-redirect-location" not in plain.headers
    for bad in ("docs/page.html", "ftp://x.example/", "/" + "a" * 2048):
        reply = await client.request(
            "PUT", f"{B}/bad.html", b"", {"x-amz-website-redirect-location": bad}
        )
        assert (reply.status, reply.error_code()) == (400, "InvalidRedirectLocation")


async def test_a_copy_takes_the_requests_redirect_never_the_sources(client: Client) -> None:
    to = {"x-amz-website-redirect-location": "https://elsewhere.example/"}
    assert (await client.request("PUT", f"{B}/moved.html", b"x", to)).status == 200
    source = {"x-amz-copy-source": "/site/moved.html"}
    assert (await client.request("PUT", f"{B}/copy.html", b"", source)).status == 200
    copied = await client.request("HEAD", f"{B}/copy.html")
    assert "x-amz-website-redirect-location" not in copied.headers
    replace = {**source, "x-amz-metadata-directive": "REPLACE"}
    assert (await client.request("PUT", f"{B}/copy.html", b"", replace)).status == 200
    assert (
        "x-amz-website-redirect-location"
        not in (await client.request("HEAD", f"{B}/copy.html")).headers
    )
    # A new redirect is a change: an object may be copied onto itself to set one.
    onto_itself = {
        "x-amz-copy-source": "/site/index.html",
        "x-amz-website-redirect-location": "/docs/",
    }
    assert (await client.request("PUT", f"{B}/index.html", b"", onto_itself)).status == 200
    reply = await client.request("GET", f"{B}/index.html")
    assert reply.headers["x-amz-website-redirect-location"] == "/docs/"
    assert reply.body == b"<h1>home</h1>"


async def test_a_multipart_upload_carries_its_redirect(client: Client) -> None:
    to = {"x-amz-website-redirect-location": "/index.html"}
    created = await client.request("POST", f"{B}/big.html?uploads", b"", to)
    upload_id = created.body.decode().split("<UploadId>")[1].split("</UploadId>")[0]
    part = await client.request("PUT", f"{B}/big.html?partNumber=1&uploadId={upload_id}", b"x")
    etag = part.headers["etag"]
    done = (
        f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>"
        "</CompleteMultipartUpload>"
    ).encode()
    assert (await client.request("POST", f"{B}/big.html?uploadId={upload_id}", done)).status == 200
    reply = await client.request("HEAD", f"{B}/big.html")
    assert reply.headers["x-amz-website-redirect-location"] == "/index.html"


# -- the website endpoint ----------------------------------------------------------------------


async def test_a_public_website_serves_its_index_documents(client: Client) -> None:
    await make_public(client)
    await put_website(client, INDEX + ERROR)
    home = await visit(client, "/")
    assert (home.status, home.body) == (200, b"<h1>home</h1>")
    assert home.headers["content-type"] == "text/html"
    docs = await visit(client, "/docs/")
    assert (docs.status, docs.body) == (200, b"<h1>docs</h1>")
    page = await visit(client, "/docs/page.html")
    assert (page.status, page.body) == (200, b"<p>page</p>")
    head = await visit(client, "/docs/page.html", "HEAD")
    assert (head.status, head.body, head.headers["content-length"]) == (200, b"", "11")
    # A "directory" without its slash: sent to it.
    slashless = await visit(client, "/docs")
    assert (slashless.status, slashless.headers["location"]) == (302, "/docs/")
    # What a browser and a cache send: ranges and conditions.
    part = await visit(client, "/docs/page.html", Range="bytes=3-6")
    assert (part.status, part.body) == (206, b"page")
    same = await visit(client, "/docs/page.html", **{"If-None-Match": page.headers["etag"]})
    assert same.status == 304


async def test_missing_pages_are_403_unless_anyone_may_list(client: Client) -> None:
    await make_public(client)
    await put_website(client, INDEX)
    hidden = await visit(client, "/nowhere.html")
    assert (hidden.status, html_code(hidden)) == (403, "AccessDenied")
    await make_public(client, "s3:GetObject", "s3:ListBucket")
    told = await visit(client, "/nowhere.html")
    assert (told.status, html_code(told)) == (404, "NoSuchKey")
    assert "<li>Key: nowhere.html</li>" in told.body.decode()
    assert (await visit(client, "/empty-dir/")).status == 404


async def test_the_error_document_answers_4xx_errors_with_their_status(client: Client) -> None:
    await make_public(client, "s3:GetObject", "s3:ListBucket")
    await put_website(client, INDEX + ERROR)
    reply = await visit(client, "/nowhere.html")
    assert (reply.status, reply.body) == (404, b"<h1>oops</h1>")
    assert reply.headers["content-type"] == "text/html"
    # An error document that cannot be read: S3's page says so.
    await put_website(client, INDEX + "<ErrorDocument><Key>missing.html</Key></ErrorDocument>")
    reply = await visit(client, "/nowhere.html")
    assert (reply.status, html_code(reply)) == (404, "NoSuchKey")
    text = reply.body.decode()
    assert "Attempting to Retrieve a Custom Error Document" in text
    assert text.count("<li>Code: NoSuchKey</li>") == 2


async def test_routing_rules_redirect_before_and_after_the_lookup(client: Client) -> None:
    await make_public(client, "s3:GetObject", "s3:ListBucket")
    rules = (
        "<RoutingRules>"
        "<RoutingRule><Condition><KeyPrefixEquals>old/</KeyPrefixEquals></Condition>"
        "<Redirect><ReplaceKeyPrefixWith>docs/</ReplaceKeyPrefixWith></Redirect></RoutingRule>"
        "<RoutingRule><Condition><KeyPrefixEquals>gone</KeyPrefixEquals></Condition>"
        "<Redirect><ReplaceKeyWith>index.html</ReplaceKeyWith><HttpRedirectCode>307"
        "</HttpRedirectCode></Redirect></RoutingRule>"
        "<RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals>"
        "</Condition><Redirect><HostName>archive.example</HostName><Protocol>https</Protocol>"
        "</Redirect></RoutingRule>"
        "</RoutingRules>"
    )
    await put_website(client, INDEX + ERROR + rules)
    moved = await visit(client, "/old/page.html")
    assert (moved.status, moved.headers["location"]) == (301, f"http://{SITE}/docs/page.html")
    gone = await visit(client, "/gone/a b.html")
    assert (gone.status, gone.headers["location"]) == (307, f"http://{SITE}/index.html")
    missing = await visit(client, "/2019/a%20b.html")
    assert (missing.status, missing.headers["location"]) == (
        301,
        "https://archive.example/2019/a%20b.html",
    )
    # Found objects are served: an error-code rule holds only for the error.
    assert (await visit(client, "/docs/page.html")).body == b"<p>page</p>"


async def test_every_request_may_be_redirected_to_another_host(client: Client) -> None:
    await make_public(client)
    all_to = (
        "<RedirectAllRequestsTo><HostName>www.example.org</HostName><Protocol>https</Protocol>"
        "</RedirectAllRequestsTo>"
    )
    await put_website(client, all_to)
    reply = await visit(client, "/docs/a%20b.html")
    assert (reply.status, reply.headers["location"]) == (
        301,
        "https://www.example.org/docs/a%20b.html",
    )


async def test_an_objects_redirect_sends_the_reader_on(client: Client) -> None:
    await make_public(client)
    await put_website(client, INDEX)
    to = {"x-amz-website-redirect-location": "https://new.example/page"}
    assert (await client.request("PUT", f"{B}/moved.html", b"old body", to)).status == 200
    reply = await visit(client, "/moved.html")
    assert (reply.status, reply.headers["location"], reply.body) == (
        301,
        "https://new.example/page",
        b"",
    )


async def test_a_website_shows_only_what_anyone_may_read(client: Client) -> None:
    await put_website(client, INDEX + ERROR)
    # No public policy (and Block Public Access on, as for every new bucket): nothing.
    for path in ("/", "/docs/page.html", "/nowhere.html"):
        reply = await visit(client, path)
        assert (reply.status, html_code(reply)) == (403, "AccessDenied")
        # The error document is no more readable than the rest.
        assert "Attempting to Retrieve a Custom Error Document" in reply.body.decode()
    # The owner's credentials do not count on a website endpoint: it reads anonymously.
    signed = await client.request("GET", "/index.html", host=SITE)
    assert signed.status == 403
    # Writes are not a website's.
    for method in ("PUT", "POST", "DELETE"):
        reply = await visit(client, "/index.html", method)
        assert (reply.status, html_code(reply)) == (405, "MethodNotAllowed")


async def test_buckets_without_a_website_or_at_all(client: Client) -> None:
    await make_public(client)
    reply = await visit(client, "/")
    assert (reply.status, html_code(reply)) == (404, "NoSuchWebsiteConfiguration")
    assert "<li>BucketName: site</li>" in reply.body.decode()
    nobody = await client.request("GET", "/", sign=False, host="no-such-site.s3-website.localhost")
    assert (nobody.status, html_code(nobody)) == (404, "NoSuchBucket")
    head = await client.request("HEAD", "/", sign=False, host="no-such-site.s3-website.localhost")
    assert (head.status, head.body) == (404, b"")


async def test_the_website_domain_is_a_setting_and_empty_turns_it_off(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, website_domain="web.example.org") as made:
        assert (await made.request("PUT", B)).status == 200
        await put_website(made, INDEX)
        reply = await made.request("GET", "/", sign=False, host="site.web.example.org")
        assert (reply.status, html_code(reply)) == (403, "AccessDenied")
        # The default domain is then the S3 API's, path-style.
        reply = await made.request("GET", "/", sign=False, host=SITE)
        assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    async with in_process_client(tmp_path / "off", website_domain="") as off:
        reply = await off.request("GET", "/", sign=False, host=SITE)
        assert reply.headers["content-type"] == "application/xml"


CORS = (
    b"<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin>"
    b"<AllowedMethod>GET</AllowedMethod><AllowedHeader>x-requested-with</AllowedHeader>"
    b"<MaxAgeSeconds>600</MaxAgeSeconds></CORSRule></CORSConfiguration>"
)


async def test_a_site_answers_cors_from_the_buckets_rules(client: Client) -> None:
    """A page on another origin fetching the site's files: the bucket's CORS rules answer
    the preflight and the reads on the website endpoint, as on S3's."""
    await make_public(client)
    await put_website(client, INDEX + ERROR)
    ask = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    # No CORS rules yet: the preflight is refused, the read carries no CORS headers.
    refused = await visit(client, "/docs/page.html", "OPTIONS", **ask)
    assert (refused.status, html_code(refused)) == (403, "AccessForbidden")
    plain = await visit(client, "/docs/page.html", Origin="https://app.example")
    assert plain.status == 200 and "access-control-allow-origin" not in plain.headers
    reply = await client.request("PUT", f"{B}?cors", CORS, md5_header(CORS))
    assert reply.status == 200, reply.body
    allowed = await visit(
        client,
        "/docs/page.html",
        "OPTIONS",
        **ask,
        **{"Access-Control-Request-Headers": "X-Requested-With"},
    )
    assert allowed.status == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert allowed.headers["access-control-allow-methods"] == "GET"
    assert allowed.headers["access-control-max-age"] == "600"
    read = await visit(client, "/docs/", Origin="https://app.example")
    assert (read.status, read.body) == (200, b"<h1>docs</h1>")
    assert read.headers["access-control-allow-origin"] == "https://app.example"
    # Another origin, or a method the rules do not name: refused, and no headers on reads.
    other = await visit(client, "/", "OPTIONS", **{**ask, "Origin": "https://evil.example"})
    assert (other.status, html_code(other)) == (403, "AccessForbidden")
    put = await visit(client, "/", "OPTIONS", **{**ask, "Access-Control-Request-Method": "PUT"})
    assert put.status == 403
    foreign = await visit(client, "/", Origin="https://evil.example")
    assert foreign.status == 200 and "access-control-allow-origin" not in foreign.headers
    # A preflight without its request method is a bad request, in HTML.
    bare = await visit(client, "/", "OPTIONS", Origin="https://app.example")
    assert (bare.status, html_code(bare)) == (400, "BadRequest")
