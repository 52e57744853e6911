"""Sweeps: many runs of one config as an Optuna study (see neuro_trigger/sweep.py)."""
