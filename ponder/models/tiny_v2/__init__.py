"""tiny-v2: the second built-in tiny reasoner (tiny-v1 trained further on traces with written `≠T` comparisons); kept loadable by name."""
