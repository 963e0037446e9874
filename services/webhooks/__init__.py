"""aiohttp endpoints: the Claude Code PreToolUse hook (policy before each tool call) and, later, GitHub webhooks."""
