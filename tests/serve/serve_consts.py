"""Settings shared by the serve tests and their fixtures (a module of its own: test files cannot
import from conftest.py when another test folder has one too)."""

from ponder.serve.schema import Limits

KEY = "test-key"
LIMITS = Limits(max_body_bytes=32_000, max_messages=8, max_prompts=8, max_n=4, max_tokens=512, max_concurrent=8)
ANSWER = "<think>2+3=5</think>\n<answer>5</answer>"
