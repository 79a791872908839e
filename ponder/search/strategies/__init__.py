"""Test-time strategies, one per file; each registers itself in ponder.search.STRATEGIES.

A strategy is `fn(problems, ctx, *, budget, seed, **options) -> list[SearchResult]`: it gets
public problems only, makes every model call through `ctx` (ponder.search.engine.SearchContext)
so that costs are counted, advances all problems together (one generator call per depth or
wave), and documents how `budget` (samples' worth) maps to its knobs."""
