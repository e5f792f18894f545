"""Per-branch registry tags are one-to-one with the branch (README, "Security model"): a branch cannot be
named so that its cache, record or delete reaches another branch's tags, as DAG ids cannot."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedro_af_ci.action.records import record_tag as graph_tag
from kedro_af_ci.image.docker import TAG_LIMIT, branch_tag

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")  # the distribution spec's tag grammar


def _former_branch_tag(branch: str) -> str:
    """The scheme before: a lossy name got `-` + a 12-hex hash, and a clean name that looked so was kept."""
    import hashlib

    clean = re.sub(r"[^A-Za-z0-9_.-]+", "-", branch).strip("-.")
    if clean != branch or len(clean) > 96:
        clean = f"{clean[:96]}-{hashlib.sha256(branch.encode()).hexdigest()[:12]}"
    return f"kaf-branch-{clean}"


def test_a_branch_named_like_another_branchs_hashed_tag_gets_its_own():
    victim = "feature/price"
    attacker = _former_branch_tag(victim).removeprefix("kaf-branch-")  # a legal git branch name
    assert _former_branch_tag(attacker) == _former_branch_tag(victim)  # the takeover the former tags allowed
    assert branch_tag(attacker) != branch_tag(victim)
    assert graph_tag(attacker) != graph_tag(victim)
    for hashed in (branch_tag(victim), graph_tag(victim)):  # nor the new hashed forms, taken as branch names
        name = hashed.split("-", 2)[2]
        assert branch_tag(name) != branch_tag(victim) and graph_tag(name) != graph_tag(victim)


def test_long_branches_that_share_a_prefix_get_their_own_tags():
    a, b = "x" * 200 + "a", "x" * 200 + "b"
    assert branch_tag(a) != branch_tag(b) and len(branch_tag(a)) <= TAG_LIMIT
    assert branch_tag("x" * 117) == "kaf-branch-" + "x" * 117  # kept while it fits
    assert branch_tag("x" * 118) != "kaf-branch-" + "x" * 117


def test_cache_and_record_tags_never_meet():
    assert branch_tag("graph-main") != graph_tag("main") and graph_tag("branch-main") != branch_tag("main")


@given(st.text(min_size=1, max_size=300), st.text(min_size=1, max_size=300))
def test_branch_tags_are_one_to_one_and_valid(a, b):
    for tag in (branch_tag(a), graph_tag(a)):
        assert TAG.match(tag) and len(tag) <= TAG_LIMIT, tag
    if a != b:
        assert branch_tag(a) != branch_tag(b) and graph_tag(a) != graph_tag(b)
