"""ponder: make language models reason better.

Test-time search against verifiers, rule-based and learned verifiers, training to think (SFT,
rejection sampling, GRPO and its variants, DPO) and honest evaluation at equal compute. Importing
ponder is cheap: heavy dependencies (torch, transformers) load inside the modules that need them.
"""

from ponder.types import (
    Completion,
    Cost,
    Generator,
    Node,
    PonderError,
    Problem,
    SamplingParams,
    Score,
    SearchResult,
)

__version__ = "0.1.0"
__all__ = [
    "Completion",
    "Cost",
    "Generator",
    "Node",
    "PonderError",
    "Problem",
    "SamplingParams",
    "Score",
    "SearchResult",
]
