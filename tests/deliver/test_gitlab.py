"""The trusted deployer's reads of GitLab (deliver/gitlab.py) against a stand-in of its API (tests/fake_gitlab.py):
which package job of each branch is taken, what is left out, and what a refusing or oversized answer gives."""

from __future__ import annotations

import pytest
from fake_gitlab import FakeGitLab, serve

from kedro_af_ci.deliver.gitlab import GitLabRefused, SourceProject, check_api

pytestmark = pytest.mark.unit
TOKEN = "glpat-source-read-api-token"
A, B, C = "a" * 40, "b" * 40, "c" * 40


@pytest.fixture
def gitlab():
    fake = FakeGitLab("acme/spaceflights", TOKEN, branches={"main": A, "feature/x": B})
    api, server = serve(fake)
    yield fake, api
    server.shutdown()


def test_the_newest_successful_package_job_of_each_branch_with_its_artifacts(gitlab):
    fake, api = gitlab
    fake.add_job(1, "feature/x", A, zipped=b"old")
    for job_id in range(2, 150):  # more than a page of other jobs between them
        fake.add_job(job_id, "feature/x", B, name="pytest", zipped=b"")
    fake.add_job(150, "feature/x", B, zipped=b"new")
    fake.add_job(151, "v1.0", C, zipped=b"tag", tag=True)  # a tag's pipeline: not a branch
    fake.add_job(152, "refs/merge-requests/7/head", C, zipped=b"mr")  # a merge request's: not a branch
    fake.add_job(153, "feature/y", C)  # no artifacts (expired)
    fake.add_job(154, "feature/z", C, name="kedro-airflow-k8s-package-not", zipped=b"z")
    jobs = SourceProject(api, "acme/spaceflights", TOKEN).package_jobs("kedro-airflow-k8s-package")
    assert [(j.job_id, j.branch, j.commit) for j in jobs] == [(150, "feature/x", B)]
    assert sum(path.endswith("/jobs") for path in fake.requests) == 2  # paginated


def test_branches_default_branch_and_artifacts(gitlab, tmp_path):
    fake, api = gitlab
    fake.add_job(7, "feature/x", B, zipped=b"PK-zip-bytes")
    source = SourceProject(api, "acme/spaceflights", TOKEN)
    assert source.default_branch() == "main" and source.branches() == {"main": A, "feature/x": B}
    source.download_artifacts(7, tmp_path / "a.zip", limit=1000)
    assert (tmp_path / "a.zip").read_bytes() == b"PK-zip-bytes"
    with pytest.raises(GitLabRefused, match="over"):
        source.download_artifacts(7, tmp_path / "b.zip", limit=4)


def test_a_refused_token_says_what_the_token_needs_and_never_shows_it(gitlab):
    _, api = gitlab
    with pytest.raises(GitLabRefused, match="Reporter role and the read_api scope") as refused:
        SourceProject(api, "acme/spaceflights", "wrong-token").branches()
    assert "wrong-token" not in str(refused.value) and TOKEN not in str(refused.value)
    with pytest.raises(GitLabRefused, match="HTTP 404"):
        SourceProject(api, "acme/other", TOKEN).default_branch()


def test_the_token_goes_over_https_or_to_loopback_only():
    check_api("https://gitlab.example.com/api/v4", insecure=False)
    check_api("http://127.0.0.1:8080/api/v4", insecure=False)
    with pytest.raises(GitLabRefused, match="in clear"):
        check_api("http://gitlab.example.com/api/v4", insecure=False)
    with pytest.raises(GitLabRefused):
        check_api("file:///etc/passwd", insecure=True)


def test_a_branch_list_cut_short_is_refused_not_taken_for_every_branch(gitlab, monkeypatch):
    from kedro_af_ci.deliver import gitlab as module

    fake, api = gitlab
    fake.branches.update({f"b{i}": C for i in range(120)})
    monkeypatch.setattr(module, "MAX_PAGES", 1)
    with pytest.raises(GitLabRefused, match="not all read"):
        SourceProject(api, "acme/spaceflights", TOKEN).branches()
    monkeypatch.setattr(module, "MAX_PAGES", 2)
    assert len(SourceProject(api, "acme/spaceflights", TOKEN).branches()) == 122
