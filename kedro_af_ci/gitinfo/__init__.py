"""Stage Git (docs/architecture.md, "Layout"): the commit, the branch and the commit's files, read through the
hardened git calls of commit.py; source_tree.py lists the files a commit holds."""
