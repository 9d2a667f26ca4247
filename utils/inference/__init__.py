"""Inference and scale-out: a key/value cache for the course's decoders, weight-only quantisation, memory budgets,
distributed data-parallel training. Taught in notebook 17."""
