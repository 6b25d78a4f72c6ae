"""The helper process that generates an RSA key pair in the PKCS#11 token for ``Pkcs11Provider``.

Owns one generation, then exits: it reads one JSON request on its standard input (the library,
the token's label, its user PIN, the ring, the key spec and whether the key decrypts), opens
its own logged-in session, generates the pair with ``hsm_objects.generate_key_pair`` (the same
templates, labels and attributes as the provider's own generation: the private key is a
sensitive, non-extractable token object of the ring), and writes one JSON answer on its
standard output: ``{"public": <SPKI DER, base64>}``, or ``{"error": <what failed>}`` with
status 1.

Why a process: RSA generation takes seconds in a token, and the provider's process may use the
library from one thread at a time (see ``hsm``); a process of its own is another application
to the library, with its own initialisation, login and locks, and the token makes the object
visible to every session. The error names the failure's kind, never the request's values.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import pkcs11
from pkcs11.exceptions import NoSuchToken, PinIncorrect, PKCS11Error

from andromede.kms.asymmetric import RSA_KEY_SPECS
from andromede.kms.hsm_objects import generate_key_pair
from andromede.kms.model import check_tenant_id


def generate(request: dict[str, Any]) -> bytes:
    """The public key of the pair generated in the token the request names."""
    tenant_id, key_spec = str(request["tenant"]), str(request["key_spec"])
    check_tenant_id(tenant_id)
    if key_spec not in RSA_KEY_SPECS:
        raise ValueError("the helper generates RSA key pairs only")
    token = pkcs11.lib(str(request["library"])).get_token(token_label=str(request["token"]))
    with token.open(rw=True, user_pin=str(request["pin"])) as session:
        return generate_key_pair(session, tenant_id, key_spec, bool(request["rsa_decrypt"]))


def main() -> int:
    try:
        public = generate(json.loads(sys.stdin.buffer.read()))
    except NoSuchToken:
        return _fail("no such token")
    except PinIncorrect:
        return _fail("the PIN is wrong")
    except PKCS11Error as exc:
        return _fail(f"PKCS#11 call failed: {type(exc).__name__}")
    except Exception as exc:  # the kind only: a message could hold the request's values
        return _fail(f"{type(exc).__name__}")
    sys.stdout.write(json.dumps({"public": base64.b64encode(public).decode("ascii")}))
    return 0


def _fail(error: str) -> int:
    sys.stdout.write(json.dumps({"error": error}))
    return 1


if __name__ == "__main__":
    sys.exit(main())
