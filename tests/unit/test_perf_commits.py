"""bench.perf.commits: revision syntax, and a revision unpacked into a directory an API can run from."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest

from bench.perf.commits import WORKTREE, Revision
from govsearch.paths import PROJECT_ROOT


def test_a_revision_is_label_equals_rev() -> None:
    assert Revision.parse(" before = HEAD~1 ") == Revision("before", "HEAD~1")
    for bad in ("HEAD", "=HEAD", "label="):
        with pytest.raises(argparse.ArgumentTypeError):
            Revision.parse(bad)


def test_the_working_tree_runs_in_place_and_a_commit_is_unpacked(tmp_path: Path) -> None:
    head = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    assert Revision("now", WORKTREE).checkout(tmp_path) == PROJECT_ROOT
    assert Revision("now", WORKTREE).commit() == head
    root = Revision("head", "HEAD").checkout(tmp_path)
    assert root == tmp_path / "head"
    assert (root / "service" / "main.py").read_bytes() == subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "show", "HEAD:service/main.py"], check=True, capture_output=True).stdout
