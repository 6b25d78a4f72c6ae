"""Which instance types EC2 builds on the Nitro System, and which on its Xen hypervisor
(decision 0387), for what depends on it here: a flow log record's ``traffic-path``.

EC2's flow log records say how an egress packet left through an internet gateway or a gateway
VPC endpoint in two ways: ``8`` and ``7`` for an instance built on Nitro, ``2`` (either, not
told apart) for one on Xen (VPC user guide, "Flow log records", ``traffic-path``). Every
instance here runs on KVM, as Nitro's do, and its router knows which gateway a packet takes;
but a catalogue offering ``t2.micro`` offers what EC2 runs on Xen, and tools reading the
records compare them with EC2's, so a type keeps the platform EC2 gives it.

The Xen families are EC2's previous generations: every type of a family listed is Xen's but
the one Nitro exception EC2 names (``i3.metal``; ``p3dn`` and ``i3en`` are families of their
own); any other type — every family launched since 2017, and a name the operator invents —
is Nitro's, as EC2's current types are.
"""

from __future__ import annotations

from typing import Final

__all__ = ["built_on_nitro"]

# EC2's families on its Xen hypervisor ("Amazon EC2 instance types": previous generation
# instance types; the Nitro System's list names none of them).
_XEN_FAMILIES: Final = frozenset(
    {
        "c1", "c3", "c4", "cc2", "cr1", "d2", "f1", "g2", "g3", "g3s", "h1", "hs1", "i2",
        "i3", "m1", "m2", "m3", "m4", "p2", "p3", "r3", "r4", "t1", "t2", "x1", "x1e",
    }
)  # fmt: skip
# Types of those families EC2 builds on Nitro all the same.
_NITRO_EXCEPTIONS: Final = frozenset({"i3.metal"})


def built_on_nitro(instance_type: str) -> bool:
    """Whether EC2 builds ``instance_type`` on the Nitro System (else on Xen)."""
    family = instance_type.split(".", 1)[0]
    return family not in _XEN_FAMILIES or instance_type in _NITRO_EXCEPTIONS
