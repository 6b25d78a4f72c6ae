"""Route 53 traffic policy documents (format 2015-10-01) the tests of traffic policies share:
one answering a single value, and two of two values — split by weight, or both answered."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["MULTIVALUE", "ONE_VALUE", "WEIGHTED"]

ONE_VALUE: Final[dict[str, Any]] = {
    "AWSPolicyFormatVersion": "2015-10-01",
    "RecordType": "A",
    "Endpoints": {"only": {"Type": "value", "Value": "192.0.2.10"}},
    "StartEndpoint": "only",
}
WEIGHTED: Final[dict[str, Any]] = {
    "AWSPolicyFormatVersion": "2015-10-01",
    "RecordType": "A",
    "StartRule": "split",
    "Endpoints": {
        "blue": {"Type": "value", "Value": "192.0.2.20"},
        "green": {"Type": "value", "Value": "192.0.2.30"},
    },
    "Rules": {
        "split": {
            "RuleType": "weighted",
            "Items": [
                {"EndpointReference": "blue", "Weight": "70"},
                {"EndpointReference": "green", "Weight": "30"},
            ],
        }
    },
}
MULTIVALUE: Final[dict[str, Any]] = {
    "AWSPolicyFormatVersion": "2015-10-01",
    "RecordType": "A",
    "StartRule": "pair",
    "Endpoints": {
        "one": {"Type": "value", "Value": "192.0.2.20"},
        "two": {"Type": "value", "Value": "192.0.2.30"},
    },
    "Rules": {
        "pair": {
            "RuleType": "multivalue",
            "Items": [{"EndpointReference": "one"}, {"EndpointReference": "two"}],
        }
    },
}
