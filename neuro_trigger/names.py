"""The names a config may give its network, activation, loss and optimizer.

Plain strings without torch, so that a config is validated (and a typo answered) before torch is
imported; `models.py` maps each name to its class (a test keeps the two in step).
"""
MODELS = ("BaselineModel", "BaselineModelBN", "DeepModel", "NeuroTrigger3DH")
ACTIVATIONS = ("tanh", "tanh/2", "softsign", "relu", "sigmoid", "leaky_relu", "selu")
LOSSES = ("MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss")
OPTIMIZERS = ("Adam", "AdamW", "Rprop", "SGD")
