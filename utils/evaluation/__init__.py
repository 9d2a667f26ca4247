"""Measuring models: `classification_metrics` (08) and `text_metrics` (05; 11 adds reference-based ones)."""
