"""The positional constructors of the request path (``model.slots_builder``) build exactly what
the dataclasses' own ``__init__`` builds, and refuse classes whose ``__init__`` does more."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from andromede.storage import model
from andromede.storage.acl import AccessControlList
from andromede.storage.model import (
    Bucket,
    BucketEncryption,
    Checksum,
    ChecksumAlgorithm,
    ContentHeaders,
    ObjectOwnership,
    ObjectRecord,
    PublicAccessBlock,
    SealedContext,
    SealedHeaders,
    Segment,
    SegmentKey,
)

T0 = datetime(2026, 1, 2, tzinfo=UTC)
HEADERS = ContentHeaders("text/plain", "gzip", "inline", "fr", "no-cache", "soon", {"m": "v"})
EXAMPLES: list[tuple[object, object]] = [
    (model.build_content_headers, HEADERS),
    (model.build_sealed_headers, SealedHeaders(b"wrapped", b"ciphertext")),
    (
        model.build_segment_key,
        SegmentKey(b"w", b"check", "arn:aws:kms:r:1:key/k", SealedContext(b"x", b"y"), b"bk"),
    ),
    (
        model.build_bucket,
        Bucket(
            "bkt",
            "t1",
            "owner",
            "eu",
            T0,
            ObjectOwnership.OBJECT_WRITER,
            '{"Version": "2012-10-17"}',
            PublicAccessBlock(True, False, True, False),
            AccessControlList.private("owner"),
            BucketEncryption("aws:kms", "arn:aws:kms:r:1:key/k", True),
        ),
    ),
    (
        model.build_object_record,
        ObjectRecord(
            "bkt",
            "k",
            3,
            "etag",
            T0,
            HEADERS,
            (Segment("blob", 3),),
            "owner",
            Checksum(ChecksumAlgorithm.CRC32, "AAAAAA=="),
            2,
            AccessControlList.private("owner"),
            SealedHeaders(b"w", b"c"),
            {"a": "b"},
            "a key check",
        ),
    ),
]


@pytest.mark.parametrize(("build", "expected"), EXAMPLES, ids=lambda v: type(v).__name__)
def test_a_builder_makes_what_init_makes(build: object, expected: object) -> None:
    values = [getattr(expected, f.name) for f in dataclasses.fields(expected)]  # type: ignore[arg-type]
    built = build(*values)  # type: ignore[operator]
    assert type(built) is type(expected)
    assert built == expected and repr(built) == repr(expected)
    for f in dataclasses.fields(expected):  # type: ignore[arg-type]
        assert getattr(built, f.name) is getattr(expected, f.name)  # compare=False ones too
    first = dataclasses.fields(expected)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, first, None)


def test_a_builder_takes_every_field_and_nothing_else() -> None:
    with pytest.raises(TypeError):
        model.build_sealed_headers(b"only the wrapped key")
    with pytest.raises(TypeError):
        model.build_sealed_headers(b"w", b"c", b"one too many")


def test_classes_whose_init_does_more_are_refused() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        value: int

        def __post_init__(self) -> None:
            if self.value < 0:
                raise ValueError("negative")

    @dataclasses.dataclass(slots=True)
    class Mutable:
        value: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived:
        value: int
        twice: int = dataclasses.field(init=False, default=0)

    for cls in (Checked, Mutable, Derived):
        with pytest.raises(TypeError):
            model.slots_builder(cls)


def test_headers_field_values_are_the_fields_in_order_with_the_metadata_copied() -> None:
    values = HEADERS.field_values()
    assert values == [getattr(HEADERS, f.name) for f in dataclasses.fields(ContentHeaders)]
    assert values[-1] is not HEADERS.user_metadata
    copy = model.build_content_headers(*values)
    assert copy == HEADERS and copy.user_metadata is not HEADERS.user_metadata
