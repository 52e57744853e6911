"""The data side: reading neuroresults files, filters, the z-reweighting sampler and the synthetic detector."""
