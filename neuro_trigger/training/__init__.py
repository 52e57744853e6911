"""Training: the per-expert Lightning module, tensor batches, and the expert threads."""
