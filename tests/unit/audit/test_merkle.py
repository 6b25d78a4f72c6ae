"""The Merkle tree of the transparency log against the published RFC 6962 vectors, then every
inclusion and consistency proof of every tree up to 64 leaves, each flipped bit refused."""

from __future__ import annotations

import hashlib

import pytest

from andromede.audit import merkle
from andromede.audit.merkle import (
    EMPTY_ROOT,
    Node,
    append_leaves,
    consistency_proof,
    fold,
    inclusion_proof,
    leaf_hash,
    perfect_subtrees,
    range_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

# The reference test data of transparency-dev/merkle (testonly/constants.go: LeafInputs,
# NodeHashes, RootHashes, EmptyRootHash; testonly/reference_test.go: TestRefInclusionProof,
# TestRefConsistencyProof), the data Certificate Transparency implementations test RFC 6962
# hashing against (google/certificate-transparency's merkle_tree_test.cc has the same tree).
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]  # fmt: skip
NODES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (index, size, proof)
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]),
    (0, 8, [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]),
    (5, 8, [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]),
]  # fmt: skip
CONSISTENCY = [  # (first, second, proof)
    (1, 1, []),
    (1, 8, [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]),
    (2, 5, [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]),
    (6, 8, [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]),
]  # fmt: skip

HASHES = [leaf_hash(leaf) for leaf in LEAVES]


def test_leaf_and_node_hashes_are_the_published_ones() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    for level, row in enumerate(NODES):
        for index, expected in enumerate(row):
            width = 1 << level
            got = range_hash(HASHES, index * width, (index + 1) * width)
            assert got.hex() == expected, (level, index)


def test_tree_heads_of_every_size_are_the_published_ones() -> None:
    for size, expected in enumerate(ROOTS):
        assert root_hash(HASHES[:size]).hex() == expected


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION)
def test_inclusion_proofs_are_the_published_ones(
    index: int, size: int, expected: list[str]
) -> None:
    proof = inclusion_proof(HASHES, index, size)
    assert [p.hex() for p in proof] == expected
    root = bytes.fromhex(ROOTS[size])
    assert verify_inclusion(index, size, HASHES[index], proof, root)


@pytest.mark.parametrize(("first", "second", "expected"), CONSISTENCY)
def test_consistency_proofs_are_the_published_ones(
    first: int, second: int, expected: list[str]
) -> None:
    proof = consistency_proof(HASHES, first, second)
    assert [p.hex() for p in proof] == expected
    assert verify_consistency(
        first, second, proof, bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second])
    )


def test_appending_leaf_by_leaf_stores_every_published_node_and_keeps_the_heads() -> None:
    frontier: list[Node] = []
    stored: dict[tuple[int, int], bytes] = {}
    for size, value in enumerate(HASHES):
        made, frontier = append_leaves(frontier, size, [value])
        stored.update({(n.level, n.index): n.hash for n in made})
        assert fold([n.hash for n in frontier]).hex() == ROOTS[size + 1]
    assert stored == {
        (level, index): bytes.fromhex(h) for level, row in enumerate(NODES) for index, h in
        enumerate(row)
    }  # fmt: skip


def test_a_frontier_that_does_not_fit_the_size_is_refused() -> None:
    _, frontier = append_leaves([], 0, HASHES[:3])
    with pytest.raises(ValueError, match="frontier"):
        append_leaves(frontier, 4, HASHES[3:4])


# -- every proof of every tree up to 64 leaves ------------------------------------------------

MAX = 64
BIG = [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(MAX)]


def _stored_tree() -> dict[tuple[int, int], bytes]:
    made, _ = append_leaves([], 0, BIG)
    return {(n.level, n.index): n.hash for n in made}


def test_heads_from_stored_perfect_subtrees_match_the_reference() -> None:
    stored = _stored_tree()
    for size in range(MAX + 1):
        head = fold([stored[c] for c in perfect_subtrees(0, size)])
        assert head == root_hash(BIG[:size]), size


def _flipped(proof: list[bytes]) -> list[list[bytes]]:
    """Every proof that differs from ``proof`` by one bit (one bit per byte, to stay fast:
    the bit changes with the byte so that all eight positions are covered)."""
    out = []
    for i, item in enumerate(proof):
        for j in range(len(item)):
            changed = bytearray(item)
            changed[j] ^= 1 << (j % 8)
            out.append([*proof[:i], bytes(changed), *proof[i + 1 :]])
    return out


def test_every_inclusion_proof_verifies_and_no_altered_one_does() -> None:
    for size in range(1, MAX + 1):
        root = root_hash(BIG[:size])
        for index in range(size):
            proof = inclusion_proof(BIG, index, size)
            assert verify_inclusion(index, size, BIG[index], proof, root), (index, size)
            assert not verify_inclusion(index, size, BIG[(index + 1) % MAX], proof, root)
            if size > 1:
                assert not verify_inclusion((index + 1) % size, size, BIG[index], proof, root)
            assert not verify_inclusion(index, size, BIG[index], [*proof, BIG[0]], root)
            if proof:
                assert not verify_inclusion(index, size, BIG[index], proof[:-1], root)
            if size % 7 == 0 or size <= 9:  # every bit of every proof for a spread of sizes
                for altered in _flipped(proof):
                    assert not verify_inclusion(index, size, BIG[index], altered, root)


def test_every_consistency_proof_verifies_and_no_altered_one_does() -> None:
    roots = [root_hash(BIG[:n]) for n in range(MAX + 1)]
    for second in range(MAX + 1):
        for first in range(second + 1):
            proof = consistency_proof(BIG, first, second)
            assert verify_consistency(first, second, proof, roots[first], roots[second])
            if 0 < first < second:
                assert not verify_consistency(first, second, proof, roots[first - 1], roots[second])
                assert not verify_consistency(first, second, proof, roots[first], roots[second - 1])
                assert not verify_consistency(first - 1, second, proof, roots[first], roots[second])
                assert not verify_consistency(
                    first, second, proof[:-1], roots[first], roots[second]
                )
                if second % 5 == 0 or second <= 9:
                    for altered in _flipped(proof):
                        assert not verify_consistency(
                            first, second, altered, roots[first], roots[second]
                        )


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_ranges(3, 3)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(4, 3)
    assert not verify_inclusion(0, 0, BIG[0], [], EMPTY_ROOT)
    assert verify_consistency(0, 1, [], EMPTY_ROOT, BIG[0])  # every tree extends the empty one
    assert not verify_consistency(0, 1, [], BIG[0], BIG[0])
    assert verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    assert not verify_inclusion(0, 2, BIG[0], [b"short"], root_hash(BIG[:2]))
