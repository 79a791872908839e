"""Compiled kernels for the hf decode path: the C++ decode step (decode.cpp) and its Python side."""
