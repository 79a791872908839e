"""tiny-v1: the first built-in tiny reasoner (1.06M parameters, traces without written comparisons); kept loadable by name."""
