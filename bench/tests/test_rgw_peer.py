"""The RGW peer's set-up: its ceph.conf section and the S3 key read from radosgw-admin."""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import pytest

from bench.rgw import parse_user_credentials, rgw_section
from bench.targets import StartupError

# What `radosgw-admin user create` printed on Ceph 16.2.15, trimmed.
USER_CREATE = """{
    "user_id": "bench",
    "display_name": "bench",
    "email": "",
    "suspended": 0,
    "max_buckets": 1000,
    "subusers": [],
    "keys": [
        {
            "user": "bench",
            "access_key": "B0Q6H0BY0VGT8ZL1T0XK",
            "secret_key": "ayrDZ4gmVVGcfuV6tI2RA4b5iTXiHs7LfAGWNzEZ"
        }
    ],
    "swift_keys": [],
    "caps": [],
    "op_mask": "read, write, delete"
}"""


def test_section_sets_beast_with_nodelay_cephx_key_and_quiet_logs(tmp_path: Path) -> None:
    text = rgw_section(
        "client.rgw.bench-2",
        port=18080,
        keyring=tmp_path / "rgw.keyring",
        data_dir=tmp_path / "rgw",
        log_file=tmp_path / "rgw.log",
    )
    parser = configparser.ConfigParser()
    parser.read_string("[global]\nfsid = x\n" + text)
    section = parser["client.rgw.bench-2"]
    assert section["rgw_frontends"] == "beast endpoint=127.0.0.1:18080 tcp_nodelay=1"
    assert section["keyring"] == str(tmp_path / "rgw.keyring")
    assert section["rgw_data"] == str(tmp_path / "rgw")
    assert section["log_file"] == str(tmp_path / "rgw.log")
    assert section["debug_rgw"] == "0/0"
    assert section["rgw_enable_ops_log"] == "false"


def test_credentials_come_from_the_first_key() -> None:
    credentials = parse_user_credentials(USER_CREATE)
    assert credentials.access_key == "B0Q6H0BY0VGT8ZL1T0XK"
    assert credentials.secret_key == "ayrDZ4gmVVGcfuV6tI2RA4b5iTXiHs7LfAGWNzEZ"
    assert credentials.region == "us-east-1"


@pytest.mark.parametrize(
    "output",
    ["", "could not create user: unable to parse", json.dumps({"keys": []}), "[1, 2]"],
)
def test_output_without_a_key_is_a_startup_error(output: str) -> None:
    with pytest.raises(StartupError, match="no S3 key"):
        parse_user_credentials(output)
