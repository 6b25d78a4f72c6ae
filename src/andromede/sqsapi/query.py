"""SQS's Query protocol on the SQS endpoint (decision 0173): the older wire that the aws CLI v1,
botocore before 1.31, the PHP, Java v1 and Ruby v2 SDKs and hand-written scripts still speak.

A request names its action in ``Action=`` — a form-encoded POST body
(``application/x-www-form-urlencoded``) or a GET's query string — with no ``X-Amz-Target``;
its queue is ``QueueUrl`` or the request's path (``POST /<account>/<queue>``, as the Query API
lets a client post to the queue URL itself). Its parameters are read by the shapes of
:mod:`andromede.sqsapi.query_shapes` into the JSON protocol's shape, so the same actions serve
both protocols over the same service, authorisation, audit and metering; the answer is the
``<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata><RequestId>`` document in
SQS's namespace, an error ``<ErrorResponse><Error><Type>Sender</Type><Code>…`` with the query
code of the error's catalogue entry (``AWS.SimpleQueueService.NonExistentQueue``…).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

from andromede.awsjson.endpoint import JsonRequest, JsonWireError
from andromede.http.query import MalformedQuery, parse_query_parameters
from andromede.http.response import Response, Scope
from andromede.http.xml import XmlWriter
from andromede.queues.errors import InvalidParameterValue, MissingParameter
from andromede.queues.model import xml_unsafe
from andromede.sqsapi.errors import SqsWireError
from andromede.sqsapi.query_shapes import SHAPES, ListOf, Scalar, Shape, Struct

if TYPE_CHECKING:
    from andromede.sqsapi.actions import SqsCall

__all__ = ["NAMESPACE", "SqsQueryWire", "is_query_request", "is_unsigned_query_call"]

NAMESPACE: Final = "http://queue.amazonaws.com/doc/2012-11-05/"
FORM: Final = "application/x-www-form-urlencoded"
# The API versions served: 2012-11-05, and 2011-10-01 whose actions and parameters are a part
# of it. Older ones answer NoSuchVersion (as SQS answers a version it no longer serves).
VERSIONS: Final = frozenset({"2012-11-05", "2011-10-01"})
_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")


def _content_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_query_request(scope: Scope, headers: Mapping[str, str]) -> bool:
    """Whether a request speaks Query: no ``X-Amz-Target``, and a GET, a form body or an
    ``Action`` in its query string."""
    if "x-amz-target" in headers:
        return False
    if scope.get("method") == "GET" or _content_type(headers) == FORM:
        return True
    query: bytes = scope.get("query_string", b"")
    return query.startswith(b"Action=") or b"&Action=" in query


def is_unsigned_query_call(scope: Scope) -> bool:
    """Whether a request without a credential is an SQS Query call, which SQS refuses in its
    own words (``MissingAuthenticationToken``) rather than S3: a form POST to a queue's URL
    (``/<account>/<queue>``) with no query string, or one naming an action — S3's POSTs on an
    object all carry a subresource (``?uploads``, ``?uploadId=``, ``?restore``, ``?select``),
    a POST without one is no S3 operation —, or a GET on ``/`` naming an SQS action. A form
    POST on ``/`` is STS's, which answers the same code."""
    method, path = scope.get("method"), scope.get("path", "/")
    if method == "GET" and path == "/":
        try:
            action = parse_query_parameters(scope.get("query_string", b""), b"").get("Action")
        except MalformedQuery:
            return False
        return action in SHAPES
    if method != "POST" or len([p for p in path.split("/") if p]) != 2:
        return False
    query: bytes = scope.get("query_string", b"")
    if query and not (query.startswith(b"Action=") or b"&Action=" in query):
        return False
    return any(
        name.lower() == b"content-type"
        and _content_type({"content-type": value.decode("latin-1")}) == FORM
        for name, value in scope.get("headers", [])
    )


class _Flat:
    """A request's flat parameters and every dotted prefix they hold (``A.1`` of ``A.1.B``),
    so that a list's end is found without scanning them all for each entry."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self.params = params
        self.prefixes: set[str] = set()
        for name in params:
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                self.prefixes.add(".".join(parts[:end]))


def _scalar(shape: Scalar, raw: str, key: str) -> Any:
    if shape.kind == "integer":
        try:
            return int(raw)
        except ValueError as exc:
            raise InvalidParameterValue(
                f"Value {raw[:64]} for parameter {key[:128]} is invalid. Reason: not an integer."
            ) from exc
    if shape.kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise InvalidParameterValue(f"Value {raw[:64]} for parameter {key[:128]} is invalid.")
        return raw.lower() == "true"
    return raw


def _read(shape: Shape, flat: _Flat, key: str) -> Any:
    """The value of ``shape`` at ``key`` in the JSON protocol's form; None when absent."""
    if isinstance(shape, Scalar):
        raw = flat.params.get(key)
        return None if raw is None else _scalar(shape, raw, key)
    if isinstance(shape, Struct):
        return read_struct(shape, flat, key)
    index = 1
    if isinstance(shape, ListOf):
        items = []
        while f"{key}.{index}" in flat.prefixes:
            items.append(_read(shape.member, flat, f"{key}.{index}"))
            index += 1
        return items or None
    entries: dict[str, Any] = {}
    while f"{key}.{index}" in flat.prefixes:
        entry = f"{key}.{index}"
        name = flat.params.get(f"{entry}.{shape.key_name}")
        if name is None:
            raise MissingParameter(
                f"The request must contain the parameter {entry}.{shape.key_name}."
            )
        value = _read(shape.value, flat, f"{entry}.{shape.value_name}")
        entries[name] = value if value is not None else ""
        index += 1
    return entries or None


def read_struct(shape: Struct, flat: _Flat, prefix: str = "") -> dict[str, Any]:
    found = {}
    for member in shape.members:
        value = _read(member.shape, flat, f"{prefix}.{member.wire}" if prefix else member.wire)
        if value is not None:
            found[member.name] = value
    return found


def read_params(action: str, params: Mapping[str, str]) -> dict[str, Any]:
    """A Query request's parameters in the JSON protocol's shape for ``action``."""
    return read_struct(SHAPES[action][0], _Flat(params))


def _xml_text(value: Any) -> Any:
    """A value as an XML answer can carry it: the characters XML 1.0 cannot (which SQS refuses
    everywhere it takes text) as U+FFFD, should one ever have been stored."""
    if isinstance(value, str) and xml_unsafe(value):
        return "".join("\ufffd" if xml_unsafe(c) else c for c in value)
    return value


def _write(xml: XmlWriter, name: str, shape: Shape, value: Any) -> None:
    if isinstance(shape, Scalar):
        xml.element(name, _xml_text(value))
    elif isinstance(shape, Struct):
        xml.open(name)
        write_struct(xml, shape, value)
        xml.close(name)
    elif isinstance(shape, ListOf):
        for item in value:
            _write(xml, name, shape.member, item)
    else:
        for key, item in value.items():
            xml.open(name)
            xml.element(shape.key_name, _xml_text(key))
            _write(xml, shape.value_name, shape.value, item)
            xml.close(name)


def write_struct(xml: XmlWriter, shape: Struct, value: Mapping[str, Any]) -> None:
    for member in shape.members:
        if value.get(member.name) is not None:
            _write(xml, member.wire, member.shape, value[member.name])


def answer_document(action: str, result: Mapping[str, Any], request_id: str) -> bytes:
    """The Query answer of ``action`` from its JSON-protocol result."""
    xml = XmlWriter(f"{action}Response", namespace=NAMESPACE)
    shape = SHAPES[action][1]
    if shape is not None:
        xml.open(f"{action}Result")
        write_struct(xml, shape, result)
        xml.close(f"{action}Result")
    xml.open("ResponseMetadata")
    xml.element("RequestId", request_id)
    xml.close("ResponseMetadata")
    return xml.document()


def error_document(wire: JsonWireError, request_id: str) -> bytes:
    """SQS's Query ``ErrorResponse`` for a wire error of the SQS catalogue."""
    if isinstance(wire, SqsWireError):
        code, fault = wire.query_code, wire.fault
    else:
        code, fault = wire.error_type, "Sender" if wire.status < 500 else "Receiver"
    xml = XmlWriter("ErrorResponse", namespace=NAMESPACE)
    xml.open("Error")
    xml.element("Type", fault)
    xml.element("Code", code)
    xml.element("Message", wire.message)
    xml.raw("<Detail/>")
    xml.close("Error")
    xml.element("RequestId", request_id)
    return xml.document()


class SqsQueryWire:
    """The Query protocol of one request (its parameters read once its body is)."""

    def __init__(self, scope: Scope, *, max_parameters: int) -> None:
        self._max_parameters = max_parameters
        self._parsed: tuple[bytes, dict[str, str]] | None = None
        self._path: str = scope.get("path", "/")
        self._query: bytes = scope.get("query_string", b"")
        self._method: str = scope.get("method", "POST")

    def _flat(self, request: JsonRequest[SqsCall]) -> dict[str, str]:
        """The request's parameters, parsed once its body is read (the action is looked for
        before, then checked and read after: one parse of a body of megabytes)."""
        body = request.body
        if self._parsed is not None and self._parsed[0] is body:
            return self._parsed[1]
        if body and (self._method != "POST" or _content_type(request.headers) != FORM):
            raise SqsWireError("InvalidParameterValue", f"Content-Type must be {FORM} for a body")
        # Counted before parsing: a body may be megabytes of a message, not of fields.
        if self._query.count(b"&") + body.count(b"&") + 2 > self._max_parameters:
            raise SqsWireError(
                "InvalidParameterValue",
                f"The request has more than {self._max_parameters} parameters.",
            )
        try:
            parsed = parse_query_parameters(self._query, body)
        except MalformedQuery as exc:
            raise SqsWireError("MalformedQueryString") from exc
        self._parsed = (body, parsed)
        return parsed

    def action(self, request: JsonRequest[SqsCall]) -> str:
        try:
            return self._flat(request).get("Action", "")[:128]
        except SqsWireError:
            return ""  # answered once the call is served

    def check(self, request: JsonRequest[SqsCall]) -> None:
        """The Query protocol's own refusals, before the action is looked up: a malformed
        form, a ``Version`` not served (none is taken as the current one), no ``Action``, an
        action SQS does not have."""
        flat = self._flat(request)
        version = flat.get("Version")
        if version is not None and version not in VERSIONS:
            if not _VERSION.fullmatch(version):
                raise SqsWireError("MalformedVersion", f"Version not well formed: {version[:32]}")
            raise SqsWireError(
                "NoSuchVersion",
                f"The requested version ({version}) of service AmazonSQS does not exist",
            )
        action = flat.get("Action")
        if not action:
            raise SqsWireError("MissingAction", "The request must contain the parameter Action.")
        if action not in SHAPES:
            raise SqsWireError("InvalidAction", f"The action {action[:128]} is not valid.")

    def params(self, request: JsonRequest[SqsCall]) -> dict[str, Any]:
        flat = self._flat(request)
        params = read_params(request.action_name, flat)
        members = {m.name for m in SHAPES[request.action_name][0].members}
        if "Entries" in members:
            # An empty list is no parameter in a form: a batch without entries is empty.
            params.setdefault("Entries", [])
        if "QueueUrl" in members and "QueueUrl" not in params:
            # A Query request may be posted to the queue's URL itself.
            parts = [p for p in unquote(self._path).split("/") if p]
            if len(parts) == 2:
                params["QueueUrl"] = "/" + "/".join(parts)
        return params

    def answer(self, request: JsonRequest[SqsCall], result: dict[str, Any]) -> Response:
        body = answer_document(request.action_name, result, request.request_id)
        return Response(status=200, headers=[("Content-Type", "text/xml")], body=body)

    def error(self, request: JsonRequest[SqsCall], wire: JsonWireError) -> Response:
        body = error_document(wire, request.request_id)
        return Response(status=wire.status, headers=[("Content-Type", "text/xml")], body=body)
