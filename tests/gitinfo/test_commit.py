from __future__ import annotations

import subprocess

import pytest
from attacks import plant_bare_repository
from conftest import git, make_repo

from kedro_af_ci.gitinfo.commit import read_git_info

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project


def test_branch_and_commit_from_a_real_repository(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    commit = make_repo(tmp_path, branch="feature/login")
    info = read_git_info(tmp_path, environ={})
    assert (info.commit_id, info.branch_name, info.dirty, info.source) == (commit, "feature/login", False, "git")


def test_subdirectory_of_repository(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f.txt").write_text("x")
    commit = make_repo(tmp_path)
    assert read_git_info(tmp_path / "sub", environ={}).commit_id == commit


def test_dirty_tree_is_reported(tmp_path, caplog):
    (tmp_path / "f.txt").write_text("x")
    make_repo(tmp_path)
    (tmp_path / "f.txt").write_text("changed")
    info = read_git_info(tmp_path, environ={})
    assert info.dirty
    assert "uncommitted changes" in caplog.text


def test_detached_head_uses_github_pr_source_branch(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    commit = make_repo(tmp_path)
    git(tmp_path, "checkout", "-q", "--detach", commit)
    env = {"GITHUB_HEAD_REF": "feature/pr-branch", "GITHUB_REF_NAME": "12/merge", "GITHUB_SHA": "f" * 40}
    info = read_git_info(tmp_path, environ=env)
    # the commit is the checkout's own (what the image is built from), the branch the PR's source
    assert (info.commit_id, info.branch_name) == (commit, "feature/pr-branch")


def test_detached_head_on_gitlab(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    commit = make_repo(tmp_path)
    git(tmp_path, "checkout", "-q", "--detach", commit)
    info = read_git_info(tmp_path, environ={"CI_COMMIT_REF_NAME": "release/1.2", "CI_COMMIT_SHA": commit})
    assert info.branch_name == "release/1.2"


def test_detached_head_without_ci_names_a_branch_at_head(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    commit = make_repo(tmp_path, branch="develop")
    git(tmp_path, "checkout", "-q", "--detach", commit)
    assert read_git_info(tmp_path, environ={}).branch_name == "develop"


def test_no_repository_falls_back_to_ci_variables(tmp_path):
    info = read_git_info(tmp_path, environ={"CI_COMMIT_SHA": "abc123", "CI_COMMIT_REF_NAME": "main"})
    assert (info.commit_id, info.branch_name, info.source) == ("abc123", "main", "ci")
    none = read_git_info(tmp_path, environ={})
    assert (none.commit_id, none.branch_name, none.source) == ("unknown", "unknown", "none")


def test_a_bare_repository_committed_into_a_project_is_not_discovered(tmp_path):
    """Outside the action too (CLI, plugin): git never adopts a repository it would only discover."""
    root = tmp_path / "repo"
    project = root / "project"
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text("[tool.kedro]\n")
    marker = tmp_path / "PWNED-by-fsmonitor"
    plant_bare_repository(project, marker)
    commit = make_repo(root)
    info = read_git_info(project, {})
    assert not marker.exists()
    assert info.commit_id != "HEAD" and info.source == "none"  # refused, not the attacker's commit
    pinned = read_git_info(project, {}, checkout=root)
    assert (pinned.commit_id, pinned.branch_name, pinned.source) == (commit, "main", "git")
    assert not marker.exists()


def test_inits_release_lookup_goes_through_the_hardened_git(tmp_path, monkeypatch):
    """`init` asks GitHub which commit this release is, and pins the workflows to it. Run from a project
    that is itself a (committed) bare repository whose config rewrites GitHub's URL, plain git would
    list the attacker's tags and the workflows would pin the attacker's commit."""
    from kedro_af_ci import __version__
    from kedro_af_ci.cli.scaffold import ACTION, action_commit

    evil = tmp_path / "evil-release"
    evil.mkdir()
    (evil / "f").write_text("x")
    chosen = make_repo(evil)
    git(evil, "tag", f"v{__version__}")
    project = tmp_path / "project"
    project.mkdir()
    plant_bare_repository(project, tmp_path / "unused-marker")
    config = project / "config"
    config.write_text(config.read_text() + f'[url "{evil.as_uri()}"]\n\tinsteadOf = https://github.com/{ACTION}\n')
    listed = subprocess.run(["git", "ls-remote", f"https://github.com/{ACTION}", f"refs/tags/v{__version__}"],
                            cwd=project, capture_output=True, text=True)
    assert chosen in listed.stdout  # the attack works with plain git
    monkeypatch.chdir(project)
    assert action_commit(timeout=5) != chosen  # GitHub is out of reach here: None, never the attacker's


def test_before_the_first_commit_each_branch_is_its_own(tmp_path, caplog):
    """Before: with no commit, every branch was "unknown" (one DAG, <package>-local, for all of them) and
    only a debug line said so; delete-pipeline --branch B then met branch:unknown."""
    from conftest import make_config

    for branch in ("feature/a", "feature/b"):
        repo = tmp_path / branch.replace("/", "-")
        repo.mkdir()
        git(repo, "init", "-q", "-b", branch)
        info = read_git_info(repo, environ={})
        assert (info.branch_name, info.commit_id, info.source) == (branch, "unknown", "unborn")
        config = make_config(repo, {"image": "app:${commit_id|latest}", "run_name": "app-${branch_name|local}"},
                             git_info=info)
        assert (config.run_config.run_name, config.run_config.image) == (f"app-{branch}", "app:latest")
    assert "no commit yet in the repository" in caplog.text


def test_outside_ci_the_repository_is_the_origin_remotes(tmp_path):
    """DAGs deployed from a laptop carry the repository too, as CI names it: prune keeps to them."""
    (tmp_path / "f.txt").write_text("x")
    make_repo(tmp_path)
    assert read_git_info(tmp_path, environ={}).repository is None  # no remote: nothing names it
    for url, expected in (("https://x-token:s3cr3t@github.com/acme/spaceflights.git", "acme/spaceflights"),
                          ("git@gitlab.example.com:group/sub/spaceflights.git", "group/sub/spaceflights"),
                          ("ssh://git@github.com/acme/spaceflights", "acme/spaceflights"),
                          ("/srv/git/spaceflights.git", None)):
        git(tmp_path, "remote", "remove", "origin") if "origin" in git(tmp_path, "remote").split() else None
        git(tmp_path, "remote", "add", "origin", url)
        info = read_git_info(tmp_path, environ={})
        assert info.repository == expected and "s3cr3t" not in repr(info), url  # the URL's path, never its login
    assert read_git_info(tmp_path, environ={"GITHUB_REPOSITORY": "ci/named"}).repository == "ci/named"


def test_prune_refuses_when_nothing_names_the_repository(tmp_path):
    """Before: outside CI the filter was `no repository tag`, so project A's prune listed, and with --yes
    deleted, project B's DAGs deployed from another laptop."""
    from conftest import copy_example, run_cli

    project = copy_example(tmp_path / "spaceflights")
    make_repo(project)
    result = run_cli("--project-path", str(project), "prune", "--branches", "/dev/null")
    assert result.returncode == 3 and "nothing names this repository" in result.stderr
