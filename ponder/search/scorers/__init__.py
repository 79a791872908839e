"""Scorers usable at test time; none may read a problem's reference answer (they receive public
problems). Each registers a factory `fn(gen=None, **options) -> scorer` in ponder.search.SCORERS. A scorer
implements `score_steps` (StepScorer) and/or `score` (OutcomeScorer) from ponder.types."""
