"""EventBridge Pipes' IAM actions (decision 0258), the ``pipes`` service of
:mod:`andromede.iam.policy.actions`: every action AWS's IAM knows for ``pipes``, so that
``pipes:CreatePipes`` is refused when a policy is written. Kept apart so that the catalogue
stays under STYLE.md's size."""

from __future__ import annotations

__all__ = ["PIPES_ACTIONS"]

PIPES_ACTIONS = (
    "CreatePipe", "DeletePipe", "DescribePipe", "ListPipes", "ListTagsForResource", "StartPipe",
    "StopPipe", "TagResource", "UntagResource", "UpdatePipe",
)  # fmt: skip
