"""Claude Code PreToolUse hook: ask AgentCoordinator's policy endpoint before a tool call runs.

Claude Code runs this file (by path, with the Python that runs AgentCoordinator; standard
library only) before every tool call, with the hook input JSON on stdin. It POSTs that input and
the run's ids to AGENTCOORD_HOOK_URL with the bearer token AGENTCOORD_HOOK_TOKEN.

- allowed: exit 0 with no output (Claude's own permission settings still apply);
- denied: append the denial to AGENTCOORD_HOOK_DENIALS (the supervisor stops the run and records
  it as blocked by policy), print the reason on stderr and exit 2, which blocks the tool call
  on every Claude Code version and shows the reason to Claude;
- any failure to get an answer: exit 2 as well. Exit 1 would let the call through (fail open).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 20
BLOCK = 2


def main() -> int:
    """Run the hook once; return its exit code."""
    try:
        hook = json.loads(sys.stdin.buffer.read() or b"{}")
        body = {
            "hook": hook,
            "agentcoord": {
                "agent": os.environ.get("AGENTCOORD_AGENT", ""),
                "mission_id": os.environ.get("AGENTCOORD_MISSION_ID", ""),
                "task_id": os.environ.get("AGENTCOORD_TASK_ID", ""),
                "attempt_id": os.environ.get("AGENTCOORD_ATTEMPT_ID", ""),
            },
        }
        request = urllib.request.Request(
            os.environ["AGENTCOORD_HOOK_URL"],
            data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {os.environ.get('AGENTCOORD_HOOK_TOKEN', '')}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            answer = json.loads(response.read())
        decision = answer["agentcoord"]
    except (OSError, ValueError, KeyError, TypeError, urllib.error.URLError) as exc:
        sys.stderr.write(f"AgentCoordinator policy check failed, so the tool call is blocked: {exc}\n")
        return BLOCK
    if decision.get("effect") != "deny":
        return 0
    rule_ids = [str(r) for r in decision.get("rule_ids", [])]
    denials = os.environ.get("AGENTCOORD_HOOK_DENIALS")
    if denials:
        with open(denials, "a", encoding="utf-8") as file:
            file.write(json.dumps({"tool_name": hook.get("tool_name", ""), "rule_ids": rule_ids,
                                   "reason": decision.get("reason", "")}) + "\n")
    sys.stderr.write(f"Blocked by AgentCoordinator policy ({', '.join(rule_ids)}): {decision.get('reason', '')}\n")
    return BLOCK


if __name__ == "__main__":
    sys.exit(main())
