"""Learned verifiers: process and outcome reward models, their training data, and a critique judge.

- labels.py   the step-label jsonl record (LabeledTrace); PRM800K / Math-Shepherd importers
- mc.py       Monte-Carlo step labels from policy rollouts (Math-Shepherd), batched and resumable
- exact.py    exact step labels from a built-in task's executable step checker
- encode.py   step boundaries as token positions, with alignment checks
- model.py    RewardModel: any causal LM backbone + a linear head at step boundaries; save / load
- train.py    BCE training of a PRM (every step) or an ORM (the outcome)
- scorers.py  PRMScorer / ORMScorer for search (SCORERS "prm", "orm"), step aggregation
- reward.py   rejection-sampling filter; the `prm` / `orm` rewards (verify REWARDS) for GRPO
- critic.py   generative verifier: critique then verdict (SCORERS "critic")
- quality.py  step agreement, error-step F1, ProcessBench first-error accuracy
- cli.py      `ponder label` and `ponder train prm|orm`

Nothing here is imported by `import ponder`; torch loads only with model.py. See docs/rm.md.
"""
