"""DeepConf (Fu et al. 2025, "Deep Think with Confidence"): voting over the most confident traces.

A trace's confidence is its *lowest group confidence*: the lowest mean token confidence over any
`window` consecutive tokens (ponder.search.scorers.confidence.lowest_window_mean). Token
confidence is `signal="logprob"`, the sampled token's logprob (free from any backend), or
`signal="certainty"`, the self-certainty of the distribution it was drawn from, which is the
paper's top-k confidence with k = vocabulary (needs SamplingParams.token_stats: hf backend).

`mode="offline"`: sample `budget` traces, keep the `keep` fraction most confident, and vote
weighted by confidence (exp of it for logprobs, so weights are positive).
`mode="online"`: `warmup` traces (default max(2, budget // 4)) set the threshold s = the
(1 - keep) quantile of their confidences; the remaining traces are drawn `wave` at a time and
decoded in chunks of `chunk` tokens, and a trace is terminated as soon as a full window falls
below s (checked after each chunk, so up to chunk - 1 tokens past the crossing are spent). After
each wave a problem stops when the leading answer holds `consensus` of the vote weight. Voters
are the warm-up traces at or above s plus every trace that finished without being terminated.
Every generated token counts, terminated traces' included; re-reading a prefix for its next
chunk shows up as prompt tokens. Left out: termination between chunks (the Generator protocol
has no per-token callback), and the paper's top-k = 20 confidence (no backend returns top-k).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ponder.answers import answer_of
from ponder.search import STRATEGIES
from ponder.search.aggregate import vote
from ponder.search.calls import MAX_TOKENS, TEMPERATURE, call_seed, sample_responses
from ponder.search.engine import SearchContext
from ponder.search.forest import Forest, NodeRef
from ponder.search.scorers.confidence import lowest_window_mean
from ponder.search.scorers.self_certainty import token_values
from ponder.types import Pick, PonderError, Problem, Step

MODES = ("offline", "online")
SIGNALS = ("logprob", "certainty")


def trace_confidence(step: Step, signal: str, window: int) -> float:
    """Lowest group confidence of a trace (its Step carries the per-token values)."""
    values = step.logprobs if signal == "logprob" else token_values(step, "certainties", "deepconf")
    if values is None:
        raise PonderError("deepconf with signal='logprob' needs generator logprobs (SamplingParams.logprobs)")
    return lowest_window_mean(values, window)


def vote_weight(confidence: float, signal: str) -> float:
    """A positive vote weight from a confidence (logprob confidences are <= 0)."""
    return math.exp(confidence) if signal == "logprob" else max(confidence, 0.0)


def threshold_of(confidences: list[float], keep: float) -> float:
    """The (1 - keep) quantile of the warm-up confidences (N,) -> (): traces at or above it are
    the `keep` fraction most confident. Nearest-rank, so it is one of the confidences."""
    ranked = sorted(confidences, reverse=True)
    return ranked[max(0, math.ceil(keep * len(ranked)) - 1)]


def consensus(answers: list[str | None], weights: list[float]) -> float:
    """The leading answer's share of the vote weight (0 when nobody voted)."""
    winner, tally = vote(answers, weights)
    total = sum(tally.values())
    return tally[winner] / total if winner is not None and total > 0 else 0.0


@dataclass
class Online:
    """The online knobs, for the wave loop below."""

    signal: str
    window: int
    wave: int
    chunk: int
    consensus_stop: float
    temperature: float
    max_tokens: int


def _trace(forest: Forest, ref: NodeRef) -> Step:
    steps = forest.path_steps(ref)
    out = steps[0]
    for s in steps[1:]:
        out = out + s
    return out


def _decode_wave(
    forest: Forest, live: list[int], n: int, thresholds: list[float], knobs: Online, seed: int
) -> list[tuple[NodeRef, float]]:
    """n new traces per live problem, decoded chunk by chunk; those that finish at or above
    their problem's threshold come back with their confidence, the others are cut off."""
    grow = dict(
        temperature=knobs.temperature,
        max_tokens=knobs.max_tokens,
        max_step_tokens=knobs.chunk,
        stop=(),
        token_stats=knobs.signal == "certainty",
    )
    active = [r for g in forest.expand([(i, 0) for i in live], n=n, seed=call_seed(seed, 0), **grow) for r in g]
    done: list[tuple[NodeRef, float]] = []
    for depth in range(1, knobs.max_tokens + 1):
        going = []
        for r in active:
            trace, node = _trace(forest, r), forest.node(r)
            values = trace.logprobs if knobs.signal == "logprob" else trace.certainties
            if node.terminal or len(values or []) >= knobs.window:
                node.score = trace_confidence(trace, knobs.signal, knobs.window)
                if node.score < thresholds[r[0]]:
                    node.meta["terminated" if not node.terminal else "filtered"] = True
                    continue
            if node.terminal:
                done.append((r, node.score))
            else:
                going.append(r)
        if not going:
            break
        active = [g[0] for g in forest.expand(going, n=1, seed=call_seed(seed, depth), **grow)]
    return done


def _online(
    forest: Forest,
    voters: list[list[tuple[NodeRef, float]]],
    thresholds: list[float],
    rest: int,
    knobs: Online,
    seed: int,
) -> None:
    """Draw up to `rest` more traces per problem in waves until each problem reaches consensus."""

    def unsettled(i: int) -> bool:
        answers = [answer_of(forest.prefix(r), forest.problems[i].task) for r, _ in voters[i]]
        return consensus(answers, [vote_weight(c, knobs.signal) for _, c in voters[i]]) < knobs.consensus_stop

    drawn = 0
    live = [i for i in range(len(voters)) if unsettled(i)]
    while live and drawn < rest:
        n = min(knobs.wave, rest - drawn)
        for ref, conf in _decode_wave(forest, live, n, thresholds, knobs, call_seed(seed, "deepconf", drawn)):
            voters[ref[0]].append((ref, conf))
        drawn += n
        live = [i for i in live if unsettled(i)]


def _choose(forest: Forest, i: int, voters: list[tuple[NodeRef, float]], signal: str) -> int | None:
    """The most confident voter with the weighted vote's winning answer."""
    answers = [answer_of(forest.prefix(r), forest.problems[i].task) for r, _ in voters]
    winner, _ = vote(answers, [vote_weight(c, signal) for _, c in voters])
    best = [(c, r) for (r, c), a in zip(voters, answers) if a == winner and winner is not None]
    return max(best, key=lambda t: t[0])[1][1] if best else None


@STRATEGIES.register("deepconf")
def deepconf(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    seed: int,
    mode: str = "online",
    signal: str = "logprob",
    window: int = 16,
    keep: float = 0.9,
    warmup: int | None = None,
    wave: int = 2,
    chunk: int = 16,
    consensus_stop: float = 0.95,
    temperature: float = TEMPERATURE,
    max_tokens: int = MAX_TOKENS,
) -> list[Pick]:
    if mode not in MODES or signal not in SIGNALS or not 0 < keep <= 1 or window < 1 or wave < 1 or chunk < 1:
        raise PonderError(
            f"deepconf needs mode in {MODES}, signal in {SIGNALS}, 0 < keep <= 1, window, wave, chunk >= 1; "
            f"got {mode!r}, {signal!r}, {keep}, {window}, {wave}, {chunk}"
        )
    n_warm = budget if mode == "offline" else min(budget, warmup or max(2, budget // 4))
    forest = Forest(ctx, problems)
    outs = sample_responses(
        problems,
        ctx,
        n=n_warm,
        temperature=temperature,
        max_tokens=max_tokens,
        seed=seed,
        token_stats=signal == "certainty",
    )
    voters: list[list[tuple[NodeRef, float]]] = []
    thresholds = []
    for i, group in enumerate(outs):
        forest.add_samples(i, group)
        confs = [trace_confidence(Step.of(c), signal, window) for c in group]
        s = threshold_of(confs, keep)
        thresholds.append(s)
        voters.append([((i, 1 + j), c) for j, c in enumerate(confs) if c >= s])
        for j, c in enumerate(confs):
            forest.node((i, 1 + j)).score = c
    if mode == "online":
        knobs = Online(signal, window, wave, chunk, consensus_stop, temperature, max_tokens)
        _online(forest, voters, thresholds, budget - n_warm, knobs, seed)
    return [
        forest.pick(i, _choose(forest, i, voters[i], signal), threshold=thresholds[i], voters=len(voters[i]))
        for i in range(len(problems))
    ]
