"""TEST-ONLY fault hooks (tests/faults), injected into each BatchRunner.

They make a worker fail where a test cannot make it fail by luck. `claimflow worker` builds
them once from the environment (`FaultHooks.from_env`) and hands them to the worker's
`build`; nothing else reads these variables, and everything else gets `NO_FAULTS`, which
does nothing. Unset in production, so the hooks are off.

- `CLAIMFLOW_FAULT_CRASH_AFTER_COMMIT=N`: the process exits abruptly (code 86) right after
  a runner's N-th database commit and before that batch's answers are published, the one
  window a SIGKILL hits only by luck.
- `CLAIMFLOW_FAULT_HANDLER_BUG=TEXT`: the handler raises for a batch holding a message whose
  bytes contain TEXT ("*": every message), standing in for a release with a bug.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from workers.common.messages import Incoming

CRASH_AFTER_COMMIT_ENV = "CLAIMFLOW_FAULT_CRASH_AFTER_COMMIT"
HANDLER_BUG_ENV = "CLAIMFLOW_FAULT_HANDLER_BUG"
#: The exit code of the crash hook, which the fault tests expect.
CRASH_EXIT_CODE = 86


@dataclass(frozen=True)
class FaultHooks:
    crash_after_commit: int = 0
    handler_bug: str = ""
    #: How the crash hook leaves: at once, without flushing or leaving the group.
    exit: Callable[[int], NoReturn] = field(default=os._exit, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> FaultHooks:
        return cls(
            crash_after_commit=int(environ.get(CRASH_AFTER_COMMIT_ENV) or 0),
            handler_bug=environ.get(HANDLER_BUG_ENV) or "",
        )

    def after_commit(self, commits: int) -> None:
        """Called with a runner's count of database commits, right after each one."""
        if self.crash_after_commit and commits == self.crash_after_commit:
            self.exit(CRASH_EXIT_CODE)

    def before_handler(self, items: Sequence[Incoming[Any]]) -> None:
        """Called in the transaction's thread before the handler runs on `items`."""
        bug = self.handler_bug
        if bug and any(bug == "*" or bug.encode() in (i.source.value or b"") for i in items):
            raise RuntimeError(f"injected handler bug ({HANDLER_BUG_ENV})")


NO_FAULTS = FaultHooks()
