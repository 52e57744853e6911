"""Everything a run writes to disk: its version folder, logs, git state, summary, weights, predictions."""
