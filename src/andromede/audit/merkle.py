"""Merkle tree hashing of the transparency log (RFC 6962 §2.1, RFC 9162 §2.1): pure functions.

- Hashes: a leaf is ``SHA-256(0x00 || data)``, an inner node ``SHA-256(0x01 || left || right)``,
  the empty tree ``SHA-256("")``. The tree head of n leaves (MTH) splits at the largest power of
  two below n, recursively.
- Proofs are computed from *subtree ranges*: :func:`inclusion_ranges` and
  :func:`consistency_ranges` say which ranges of leaves ``[start, end)`` the proof's hashes are
  the heads of, bottom-up, exactly as RFC 9162 §2.1.3.1 and §2.1.4.1 recurse. Each such range
  is a subtree of the RFC's shape, made of at most log2(n) *perfect* subtrees
  (:func:`perfect_subtrees`), and its head is their right fold (:func:`fold`). A store that keeps
  the head of every perfect subtree (``(level, index)``: leaves ``[index * 2**level, (index + 1)
  * 2**level)``) therefore answers any proof or tree head with O(log n) reads and hashes,
  whatever n, without reading a leaf.
- Appending (:func:`append_leaves`) needs only the *frontier*: the perfect subtrees of the
  current size's decomposition (at most one per bit of n); it returns the new perfect subtrees
  to store and the new frontier, as a binary counter carries.
- Verification: :func:`verify_inclusion` (RFC 9162 §2.1.3.2) and :func:`verify_consistency`
  (§2.1.4.2), which trust nothing but their arguments; the offline verifier uses them.

The reference forms (:func:`root_hash`, :func:`inclusion_proof`, :func:`consistency_proof` over
a list of leaf hashes) are the same range functions over an in-memory list; the tests check
both against the published vectors.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Node",
    "append_leaves",
    "consistency_proof",
    "consistency_ranges",
    "fold",
    "inclusion_proof",
    "inclusion_ranges",
    "leaf_hash",
    "node_hash",
    "perfect_subtrees",
    "range_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF = b"\x00"
_NODE = b"\x01"


@dataclass(frozen=True, slots=True)
class Node:
    """The head of the perfect subtree over leaves ``[index << level, (index + 1) << level)``."""

    level: int
    index: int
    hash: bytes


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2): RFC 6962's k."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The maximal aligned perfect subtrees covering ``[start, end)``, left to right, as
    ``(level, index)``. For a range of the RFC's shape (every range a proof or a tree head
    names) they come largest first, and the range's head is their right :func:`fold`."""
    if not 0 <= start <= end:
        raise ValueError(f"not a range of leaves: [{start}, {end})")
    found: list[tuple[int, int]] = []
    while start < end:
        # The largest block aligned at start that still fits.
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        found.append((level, start >> level))
        start += 1 << level
    return found


def fold(heads: Sequence[bytes]) -> bytes:
    """The head of a range from its perfect subtrees' heads, largest first: the right fold
    MTH(a, MTH(b, MTH(c, …))) that RFC 6962's split produces."""
    if not heads:
        return EMPTY_ROOT
    acc = heads[-1]
    for head in reversed(heads[:-1]):
        acc = node_hash(head, acc)
    return acc


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose heads make the inclusion proof of leaf ``index`` in the tree of ``size``
    leaves, bottom-up (RFC 9162 §2.1.3.1, PATH(m, D[n]))."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose heads make the consistency proof between the trees of ``first`` and
    ``second`` leaves, bottom-up (RFC 9162 §2.1.4.1, SUBPROOF(m, D[n], true)); empty when
    ``first`` is 0 or equals ``second``."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} leaves to {second}")
    if first in (0, second):
        return []
    ranges: list[tuple[int, int]] = []
    start, end, m, whole = 0, second, first, True
    while True:
        n = end - start
        if m == n:
            if not whole:
                ranges.append((start, end))
            break
        k = _split(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            whole = False
    ranges.reverse()
    return ranges


def append_leaves(
    frontier: Sequence[Node], size: int, leaf_hashes: Sequence[bytes]
) -> tuple[list[Node], list[Node]]:
    """Append leaves to a tree of ``size`` leaves whose frontier (``perfect_subtrees(0, size)``
    with their heads) is given: returns (the perfect subtrees completed, leaves included, to
    store; the new frontier)."""
    expected = perfect_subtrees(0, size)
    if [(n.level, n.index) for n in frontier] != expected:
        raise ValueError(f"the frontier does not match a tree of {size} leaves")
    stack = list(frontier)
    made: list[Node] = []
    for offset, value in enumerate(leaf_hashes):
        node = Node(0, size + offset, value)
        made.append(node)
        stack.append(node)
        while len(stack) >= 2 and stack[-1].level == stack[-2].level:
            right = stack.pop()
            left = stack.pop()
            parent = Node(left.level + 1, left.index >> 1, node_hash(left.hash, right.hash))
            made.append(parent)
            stack.append(parent)
    return made, stack


# -- reference forms over a list of leaf hashes ----------------------------------------------


def range_hash(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH of ``leaf_hashes[start:end]`` (RFC 6962 §2.1), computed directly."""
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[start]
    k = _split(n)
    return node_hash(
        range_hash(leaf_hashes, start, start + k), range_hash(leaf_hashes, start + k, end)
    )


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    return range_hash(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    return [range_hash(leaf_hashes, a, b) for a, b in inclusion_ranges(index, size)]


def consistency_proof(leaf_hashes: Sequence[bytes], first: int, second: int) -> list[bytes]:
    return [range_hash(leaf_hashes, a, b) for a, b in consistency_ranges(first, second)]


# -- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) -------------------------------------------


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` proves the leaf hash ``leaf`` at ``index`` in the tree of ``size``
    leaves whose head is ``root``."""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(r, root)


def verify_consistency(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes
) -> bool:
    """Whether ``proof`` proves that the tree of ``second`` leaves headed by ``second_root``
    extends the tree of ``first`` leaves headed by ``first_root``."""
    if not 0 <= first <= second or any(len(p) != HASH_SIZE for p in proof):
        return False
    if first == second:
        return not proof and hmac.compare_digest(first_root, second_root)
    if first == 0:
        # Every tree extends the empty one; the RFC defines no proof for it.
        return not proof and hmac.compare_digest(first_root, EMPTY_ROOT)
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: its head is a node of the second tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(fr, first_root) and hmac.compare_digest(sr, second_root)
