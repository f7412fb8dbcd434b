"""The test-only fault hooks (workers/common/faults.py): off unless injected."""

from __future__ import annotations

from typing import NoReturn

import pytest
from pydantic import BaseModel

from workers.common.faults import NO_FAULTS, FaultHooks
from workers.common.messages import Incoming, Received


class _Any(BaseModel):
    pass


def _items(*values: bytes) -> list[Incoming[_Any]]:
    return [Incoming(_Any(), Received("t", 0, i, None, v)) for i, v in enumerate(values)]


class _Exited(Exception):
    pass


def _exit(code: int) -> NoReturn:
    raise _Exited(code)


def test_the_hooks_are_read_from_the_environment_given() -> None:
    env = {"CLAIMFLOW_FAULT_CRASH_AFTER_COMMIT": "2", "CLAIMFLOW_FAULT_HANDLER_BUG": "poison"}
    assert FaultHooks.from_env(env) == FaultHooks(crash_after_commit=2, handler_bug="poison")
    assert FaultHooks.from_env({}) == NO_FAULTS
    assert FaultHooks.from_env({"CLAIMFLOW_FAULT_CRASH_AFTER_COMMIT": ""}) == NO_FAULTS


def test_no_faults_does_nothing() -> None:
    hooks = FaultHooks(exit=_exit)
    for commits in range(5):
        hooks.after_commit(commits)
    hooks.before_handler(_items(b"anything", b""))


def test_the_crash_comes_after_the_nth_commit_only() -> None:
    hooks = FaultHooks(crash_after_commit=2, exit=_exit)
    hooks.after_commit(1)
    with pytest.raises(_Exited, match="86"):
        hooks.after_commit(2)
    hooks.after_commit(3)


def test_the_handler_bug_hits_a_batch_holding_the_marker() -> None:
    hooks = FaultHooks(handler_bug="poison")
    hooks.before_handler(_items(b"fine", b"also fine"))
    with pytest.raises(RuntimeError, match="CLAIMFLOW_FAULT_HANDLER_BUG"):
        hooks.before_handler(_items(b"fine", b"a poison pill"))
    with pytest.raises(RuntimeError):
        FaultHooks(handler_bug="*").before_handler(_items(b"anything"))
