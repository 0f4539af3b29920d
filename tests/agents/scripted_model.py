"""A scripted model on loopback, speaking the Anthropic Messages API, the OpenAI Responses API
(Codex) and the Gemini API (Gemini CLI), so a real agent CLI can be driven without the network.

Usage: scripted_model.py LOG_FILE ALLOWED_COMMAND DENIED_COMMAND
Prints `port N` on stdout once listening on 127.0.0.1. Every request body is appended to
LOG_FILE as one JSON line, so the test can see what the agent sent back (tool results, denials).

The script, for each conversation: with no tool result yet, ask for a shell tool call of
ALLOWED_COMMAND; after one tool result, ask for DENIED_COMMAND; after two, say "done".
Requests without a shell tool (title generation and other side calls) get a short text answer.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG, ALLOWED, DENIED = sys.argv[1], sys.argv[2], sys.argv[3]
lock = threading.Lock()


def log(path, body):
    with lock, open(LOG, "a") as f:
        f.write(json.dumps({"path": path, "body": body}) + "\n")


def count_tool_results(messages, kind):
    n = 0
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == kind:
                    n += 1
    return n


def next_command(tool_results):
    if tool_results == 0:
        return ALLOWED
    if tool_results == 1:
        return DENIED
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def read_body(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return {}

    def send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        log(self.path, None)
        self.send(200, {"data": [], "models": []})

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.read_body()
        log(self.path, body)
        path = self.path.split("?")[0]
        if path.endswith("/count_tokens"):
            return self.send(200, {"input_tokens": 100})
        if path.endswith("/v1/messages"):
            return self.anthropic(body)
        if path.endswith("/responses"):
            return self.openai_responses(body)
        if path.endswith(":countTokens"):
            return self.send(200, {"totalTokens": 100})
        if path.endswith(":generateContent") or path.endswith(":streamGenerateContent"):
            return self.gemini(body, stream=path.endswith(":streamGenerateContent"))
        self.send(404, {"error": {"type": "not_found", "message": path}})

    # --- Anthropic Messages API -------------------------------------------------------------

    def anthropic(self, body):
        tools = [t.get("name") for t in body.get("tools") or []]
        command = None
        if "Bash" in tools:
            command = next_command(count_tool_results(body.get("messages", []), "tool_result"))
        if command is None:
            blocks = [{"type": "text", "text": "done"}]
            stop = "end_turn"
        else:
            n = count_tool_results(body.get("messages", []), "tool_result")
            blocks = [{
                "type": "tool_use",
                "id": f"toolu_scripted_{n}",
                "name": "Bash",
                "input": {"command": command, "description": "scripted step"},
            }]
            stop = "tool_use"
        message = {
            "id": "msg_scripted",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "scripted"),
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 10},
        }
        if not body.get("stream"):
            return self.send(200, message)
        events = []
        start = dict(message, content=[], stop_reason=None)
        events.append(("message_start", {"type": "message_start", "message": start}))
        for i, block in enumerate(blocks):
            if block["type"] == "text":
                events.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                       "content_block": {"type": "text", "text": ""}}))
                events.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                       "delta": {"type": "text_delta", "text": block["text"]}}))
            else:
                events.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                       "content_block": dict(block, input={})}))
                events.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                       "delta": {"type": "input_json_delta",
                                                                 "partial_json": json.dumps(block["input"])}}))
            events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
        events.append(("message_delta", {"type": "message_delta",
                                         "delta": {"stop_reason": stop, "stop_sequence": None},
                                         "usage": {"output_tokens": 10}}))
        events.append(("message_stop", {"type": "message_stop"}))
        data = "".join(f"event: {name}\ndata: {json.dumps(payload)}\n\n" for name, payload in events)
        self.send(200, data.encode(), "text/event-stream")

    # --- OpenAI Responses API (Codex) -------------------------------------------------------

    def openai_responses(self, body):
        items = body.get("input") or []
        results = sum(1 for it in items if isinstance(it, dict)
                      and it.get("type") in ("function_call_output", "custom_tool_call_output"))
        tools = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
        command = next_command(results) if "shell" in tools or "exec_command" in tools or "shell_command" in tools else None
        events = [("response.created", {"type": "response.created",
                                        "response": {"id": "resp_scripted"}})]
        if command is None:
            item = {"type": "message", "role": "assistant", "id": "msg_scripted",
                    "content": [{"type": "output_text", "text": "done"}]}
        elif "shell_command" in tools:
            item = {"type": "function_call", "id": f"fc_{results}", "call_id": f"call_{results}",
                    "name": "shell_command", "arguments": json.dumps({"command": command})}
        elif "exec_command" in tools:
            item = {"type": "function_call", "id": f"fc_{results}", "call_id": f"call_{results}",
                    "name": "exec_command", "arguments": json.dumps({"cmd": command})}
        else:
            item = {"type": "function_call", "id": f"fc_{results}", "call_id": f"call_{results}",
                    "name": "shell", "arguments": json.dumps({"command": ["bash", "-lc", command]})}
        events.append(("response.output_item.done", {"type": "response.output_item.done", "item": item}))
        events.append(("response.completed", {"type": "response.completed", "response": {
            "id": "resp_scripted",
            "usage": {"input_tokens": 10, "input_tokens_details": None, "output_tokens": 10,
                      "output_tokens_details": None, "total_tokens": 20}}}))
        data = "".join(f"event: {name}\ndata: {json.dumps(payload)}\n\n" for name, payload in events)
        self.send(200, data.encode(), "text/event-stream")


    # --- Gemini API (Gemini CLI) ------------------------------------------------------------

    def gemini(self, body, stream):
        names = [f.get("name") for t in body.get("tools") or [] if isinstance(t, dict)
                 for f in t.get("functionDeclarations") or []]
        results = 0
        for content in body.get("contents") or []:
            for part in content.get("parts") or []:
                if isinstance(part, dict) and "functionResponse" in part:
                    results += 1
        command = next_command(results) if "run_shell_command" in names else None
        schema = (body.get("generationConfig") or {}).get("responseJsonSchema")
        if command is None and schema:
            # A side call that wants JSON (e.g. the model router): the smallest valid object.
            filler = {"STRING": "scripted", "INTEGER": 1, "NUMBER": 1, "BOOLEAN": False}
            answer = {k: filler.get(str(v.get("type", "")).upper(), "scripted")
                      for k, v in (schema.get("properties") or {}).items()}
            part = {"text": json.dumps(answer)}
        elif command is None:
            part = {"text": "done"}
        else:
            part = {"functionCall": {"name": "run_shell_command",
                                     "args": {"command": command, "description": "scripted step"}}}
        chunk = {
            "candidates": [{"content": {"role": "model", "parts": [part]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 10,
                              "totalTokenCount": 20},
            "modelVersion": "scripted",
        }
        if not stream:
            return self.send(200, chunk)
        self.send(200, f"data: {json.dumps(chunk)}\r\n\r\n".encode(), "text/event-stream")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"port {server.server_address[1]}", flush=True)
server.serve_forever()
