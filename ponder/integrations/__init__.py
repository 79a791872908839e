"""Adapters to other libraries (each imports its library lazily): `trl` (rewards and data sets for
TRL's GRPOTrainer)."""
