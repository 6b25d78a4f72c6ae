"""The S3 API: its domains and the limits of its requests (AWS's own values by default).

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
Its rules across several of its fields are plain methods, which ``Settings`` runs in a fixed
order once every field is valid.
"""

from __future__ import annotations

from pydantic import (
    BaseModel,
    Field,
)

from andromede.settings.units import GIB, KIB, MIB


class S3Settings(BaseModel):
    """The S3 endpoint's domains and request limits."""

    s3_domain: str = Field(
        default="s3.localhost",
        description="Base domain for virtual-host-style requests (BUCKET.<s3_domain>).",
    )
    website_domain: str = Field(
        default="s3-website.localhost",
        description="Base domain of the static-website endpoint on the S3 port: BUCKET."
        "<website_domain> serves the bucket's website (anonymous GET and HEAD, HTML errors);"
        " empty turns website endpoints off.",
    )
    s3_access_point_domain: str = Field(
        default="localhost",
        pattern=r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)?$",
        description="Base domain of access points' own endpoints on the S3 port: "
        "<name>-<account>.s3-accesspoint.<region>.<s3_access_point_domain> addresses the "
        "account's access point (AWS: amazonaws.com); empty turns them off (decision 0381).",
    )
    s3_access_point_fips_endpoints: bool = Field(
        default=False,
        description="Serve access points' FIPS endpoints (<name>-<account>.s3-accesspoint-fips"
        "[.dualstack].<region>.<s3_access_point_domain>): set only where the deployment's TLS "
        "and cryptography are FIPS 140-validated; off, they answer 400 EndpointNotFound "
        "(decision 0392).",
    )
    s3_multi_region_access_point_domain: str = Field(
        default="localhost",
        pattern=r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)?$",
        description="Base domain of Multi-Region Access Points' global endpoints on the S3 port: "
        "<alias>.accesspoint.s3-global.<s3_multi_region_access_point_domain> addresses one "
        "(AWS, and botocore whatever its endpoint_url: amazonaws.com); empty turns them off "
        "(decision 0385).",
    )
    max_object_size: int = Field(
        default=5 * GIB, gt=0, description="Largest body accepted by a single PutObject."
    )
    max_part_size: int = Field(default=5 * GIB, gt=0, description="Largest UploadPart body.")
    min_part_size: int = Field(
        default=5 * MIB,
        ge=0,
        description="Smallest size of every part but the last in CompleteMultipartUpload.",
    )
    max_parts: int = Field(
        default=10_000, gt=0, le=10_000, description="Highest part number of a multipart upload."
    )
    max_key_length: int = Field(
        default=1024, gt=0, description="Longest object key, in UTF-8 bytes."
    )
    max_user_metadata_size: int = Field(
        default=2 * KIB, gt=0, description="Largest total of user metadata names and values."
    )
    max_encryption_context_size: int = Field(
        default=8 * KIB,
        gt=0,
        description="Longest x-amz-server-side-encryption-context header (base64 bytes).",
    )
    max_object_tags: int = Field(
        default=10,
        gt=0,
        description="Most tags on one object (x-amz-tagging, PutObjectTagging); S3's is 10.",
    )
    max_post_form_fields_size: int = Field(
        default=20 * KIB,
        gt=0,
        description="Largest size of a PostObject form's fields before its file (policy included).",
    )
    max_cors_rules: int = Field(
        default=100,
        gt=0,
        description="Most rules in one bucket's CORS configuration (PutBucketCors); S3's is 100.",
    )
    max_website_routing_rules: int = Field(
        default=50,
        gt=0,
        description="Most routing rules in one bucket's website configuration"
        " (PutBucketWebsite); S3's is 50.",
    )
    max_lifecycle_rules: int = Field(
        default=1000,
        gt=0,
        description="Most rules in one bucket's lifecycle configuration"
        " (PutBucketLifecycleConfiguration); S3's is 1,000.",
    )
    max_replication_rules: int = Field(
        default=1000,
        gt=0,
        description="Most rules in one bucket's replication configuration"
        " (PutBucketReplication); S3's is 1,000.",
    )
    max_delete_objects: int = Field(
        default=1000, gt=0, description="Most keys in one DeleteObjects request."
    )
    max_list_keys: int = Field(
        default=1000, gt=0, description="Most entries one list request returns (max-keys cap)."
    )
    max_header_size: int = Field(
        default=16 * KIB,
        gt=0,
        description="Largest request header section (names and values); AWS allows 8 KB.",
    )
    max_xml_body_size: int = Field(
        default=2 * MIB, gt=0, description="Largest XML request body (DeleteObjects, Complete…)."
    )
    select_max_expression_size: int = Field(
        default=256 * KIB,
        gt=0,
        description="Longest SQL expression of a SelectObjectContent request, in UTF-8 bytes"
        " (AWS's 256 KB; past it, ExpressionTooLong).",
    )
    select_max_record_size: int = Field(
        default=MIB,
        gt=0,
        description="Longest record S3 Select reads or writes, in bytes (AWS's 1 MB; past it,"
        " OverMaxRecordSize); a scan holds at most one unfinished record.",
    )
    select_parquet_max_read: int = Field(
        default=128 * MIB,
        gt=0,
        description="Largest single read S3 Select makes of a Parquet object (a column chunk"
        " of a row group, its footer), in bytes; a file that needs more is refused"
        " (OverMaxRecordSize) rather than held in memory.",
    )
    max_api_body_size: int = Field(
        default=256 * KIB,
        gt=0,
        description=(
            "Largest request body of the IAM, STS and KMS APIs and of the management API."
        ),
    )
    rate_limit_per_key: float = Field(
        default=0.0,
        ge=0,
        description="Requests per second one access key may make per worker (0: no limit).",
    )
    rate_limit_unsigned_per_address: float = Field(
        default=20.0,
        ge=0,
        description="Requests per second one client address may make per worker to the "
        "unsigned STS actions, AssumeRoleWithWebIdentity and AssumeRoleWithSAML (each checks a "
        "signature, and the first may fetch an IdP's keys); past it, Throttling (0: no limit).",
    )
    presign_max_expiry: int = Field(
        default=7 * 24 * 3600, gt=0, description="Longest validity of a presigned URL, seconds."
    )
    clock_skew: int = Field(
        default=15 * 60,
        ge=0,
        description="Tolerated difference between client and server clocks, s.",
    )
    max_access_points_per_account: int = Field(
        default=10000,
        ge=0,
        description="Most S3 access points one account may have (AWS's quota: 10,000);"
        " CreateAccessPoint past it is refused (400 InvalidRequest).",
    )
    max_multi_region_access_points_per_account: int = Field(
        default=100,
        ge=0,
        description="Most S3 Multi-Region Access Points one account may have (AWS's quota: 100); "
        "CreateMultiRegionAccessPoint past it is refused (400 InvalidRequest) (decision 0385).",
    )
    max_object_lambda_access_points_per_account: int = Field(
        default=1000,
        ge=0,
        description="Most S3 Object Lambda access points one account may have (AWS's quota:"
        " 1,000 a Region); CreateAccessPointForObjectLambda past it is refused (400"
        " InvalidRequest; decision 0384).",
    )
    s3_object_lambda_response_timeout: float = Field(
        default=60.0,
        gt=0,
        le=900,
        description="Longest a GetObject through an Object Lambda access point waits for its"
        " function's WriteGetObjectResponse, s (AWS: 60); past it, 500"
        " LambdaResponseNotReceived (decision 0384).",
    )
    s3_object_lambda_input_url_expiry: int = Field(
        default=90,
        ge=1,
        le=3600,
        description="Lifetime of the presigned inputS3Url an Object Lambda function is given to"
        " read the object through the supporting access point, s (decision 0384).",
    )
    s3_max_storage_lens_configurations: int = Field(
        default=50,
        ge=0,
        description="Most S3 Storage Lens configurations one account may have (AWS's quota: 50 a"
        " Region); PutStorageLensConfiguration of a new one past it is refused (400"
        " TooManyConfigurations; decision 0415).",
    )
    storage_lens_export_interval: float = Field(
        default=86400.0,
        gt=0,
        description="Seconds between two metrics exports of an enabled Storage Lens"
        " configuration (AWS: daily); each period's export is claimed by one gateway"
        " (decision 0415).",
    )
    access_point_list_max: int = Field(
        default=1000,
        ge=1,
        description="Most access points one ListAccessPoints page answers (a larger"
        " maxResults is lowered to it; AWS's page is 1,000).",
    )
    # S3 request metrics (decision 0187).
    s3_metrics_max_configurations: int = Field(
        default=1000,
        ge=1,
        le=1000,
        description="Most request metrics configurations one bucket may hold (S3: 1,000);"
        " PutBucketMetricsConfiguration past it answers TooManyConfigurations (decision 0187).",
    )
    s3_request_metrics_flush_interval: float = Field(
        default=15.0,
        gt=0,
        le=60,
        description="Seconds between two writes of a gateway's AWS/S3 request metrics, counted"
        " in memory per bucket, filter and minute meanwhile (decision 0187).",
    )
    s3_request_metrics_refresh: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between two re-reads of which buckets have request metrics"
        " configurations (another gateway's changes take effect within it; this gateway's own"
        " at once) (decision 0187).",
    )
    s3_request_metrics_max_series: int = Field(
        default=10000,
        ge=1,
        description="Most (bucket, filter, minute) counters a gateway holds between two writes"
        " of the request metrics; requests past it are not counted (and the drop is logged),"
        " so that a stuck database cannot grow the gateway's memory (decision 0187).",
    )

    def _website_domain_apart(self) -> None:
        # The website endpoint is chosen by Host before the S3 API: a website domain that is
        # the S3 domain or holds it would turn virtual-host S3 requests into website reads.
        website = self.website_domain.lower().strip(".")
        s3 = self.s3_domain.lower().strip(".")
        if website and (s3 == website or s3.endswith("." + website)):
            raise ValueError("website_domain must not be s3_domain nor a domain above it")
