"""Traces shared by the reward-model tests: a right and a wrong arithmetic response to 2+3*4."""

GOOD = "<think>3*4=12,2+12\n2+12=14</think>\n<answer>14</answer>"
BAD = "<think>3*4=13,2+13\n2+13=15</think>\n<answer>15</answer>"
