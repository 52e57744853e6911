"""Physics metrics against the hardware network, and plots."""
