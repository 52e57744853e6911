"""NeuroTrigger Trainer: trains the Belle II level-1 neural z-vertex trigger experts."""
