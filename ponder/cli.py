"""The `ponder` command. Thin: each subcommand lives beside the code it drives and is imported
only when called, so `ponder --help` is instant. Every subcommand is `main(argv) -> exit code`.
User errors (PonderError) print one line and exit 2; nothing half-written is left behind
because writers go through ponder.io.atomic_write.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "solve": ("ponder.search.cli:main", "solve problems with a test-time strategy on a model"),
    "serve": ("ponder.serve.cli:main", "OpenAI-compatible reasoning server with reasoning_effort"),
    "verify": ("ponder.verify.cli:main", "score a jsonl file of responses with a verifier"),
    "eval": ("ponder.eval.cli:main", "grid of tasks x strategies x budgets; reports; compare"),
    "train": ("ponder.train.cli:main", "train: base (tiny reasoner) | sft | rft | star | grpo | dpo | prm | orm"),
    "data": ("ponder.data.cli:main", "rollouts -> verified, filtered training data with a data card"),
    "pipeline": ("ponder.pipeline.cli:main", "multi-stage runs (sft, grpo, data, ...) from one recipe, with a report"),
    "label": ("ponder.rm.cli:main", "Monte-Carlo step labels for PRM training"),
    "models": ("ponder.models:main", "list the models available"),
    "tasks": ("ponder.tasks:main", "list the built-in tasks, or sample problems from one"),
}


def _usage() -> str:
    lines = ["usage: ponder COMMAND [options]   (ponder COMMAND --help for more)", "", "commands:"]
    lines += [f"  {name:<8} {desc}" for name, (_, desc) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from ponder import __version__

        print(f"ponder {__version__}")
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(f"error: unknown command {cmd!r}; known: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    from ponder.cliargs import HelpShown
    from ponder.types import PonderError

    module_name, func_name = COMMANDS[cmd][0].split(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        return int(func(rest) or 0)
    except HelpShown:
        return 0
    except PonderError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ponder ... | head`: the reader left; not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
