"""Training: the one loop (`loop`, 07), pretraining with the Austen recipe and checkpoints (`pretraining`, 07),
and classification fine-tuning (`classification`, 08)."""
