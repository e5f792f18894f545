"""The container action (GitHub Actions, GitLab CI, ``docker run``): build, extract, compile, deploy, report."""
