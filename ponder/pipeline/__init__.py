"""`ponder pipeline`: multi-stage training runs (trainers and `data` chained by name), each stage
resumable and followed by a held-out evaluation, told as one report. recipe.py reads and checks a
recipe, run.py runs it, evaluate.py measures, report.py writes summary.json and report.html."""
