"""Test-time strategies, one per file; each registers itself in ponder.search.STRATEGIES.

A strategy (ponder.types.Strategy) is `fn(problems, ctx, *, budget, seed, **options) ->
list[Pick]`: it gets public problems only, makes every model call through `ctx`
(ponder.search.engine.SearchContext) so that costs are counted, grows its trees through a
ponder.search.forest.Forest (which creates every node), advances all problems together (one
generator call per depth or wave), and documents how `budget` (samples' worth) maps to its
knobs. The engine turns each Pick into a SearchResult."""
