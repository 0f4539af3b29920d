"""Drive `cordon mcp` with the independent Python MCP client (the `mcp` package, 2.x).

Usage: client.py CORDON WORKDIR. Starts CORDON as an MCP server on stdio, initializes, lists the
tools and calls each of them, and prints one JSON object with what it saw, for
crates/cordon/tests/mcp_cli.rs to check. Any protocol failure raises (non-zero exit).
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def result(res):
    return {
        "is_error": bool(res.is_error),
        "structured": res.structured_content,
        "text": [c.text for c in res.content if getattr(c, "type", None) == "text"],
    }


async def main(cordon, work):
    params = StdioServerParameters(
        command=cordon, args=["mcp"], env=dict(os.environ), cwd=work
    )
    seen = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            seen["server"] = init.server_info.name
            seen["protocol"] = init.protocol_version
            tools = await session.list_tools()
            seen["tools"] = sorted(t.name for t in tools.tools)
            seen["schemas"] = {t.name: t.input_schema for t in tools.tools}
            calls = {
                "check_allow": ("check_command", {"command": "git status", "cwd": work}),
                "check_deny": ("check_command", {"command": "cat ~/.ssh/id_rsa"}),
                "check_argv": ("check_command", {"argv": ["rm", "-rf", "/"]}),
                "check_bad": ("check_command", {}),
                "run_allow": (
                    "run_command",
                    {"command": "echo hello from cordon && touch allowed-marker", "cwd": work},
                ),
                "run_argv": ("run_command", {"argv": ["echo", "via argv"], "cwd": work}),
                "run_deny": (
                    "run_command",
                    {"command": "touch denied-marker; rm -rf /", "cwd": work},
                ),
                "run_ask": ("run_command", {"command": "git push", "cwd": work}),
                "approvals": ("list_pending_approvals", {}),
            }
            for key, (name, args) in calls.items():
                seen[key] = result(await session.call_tool(name, args))
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
