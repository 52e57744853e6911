"""The FPGA side of a network: its fixed-point arithmetic and the basf2 form of its weights (SPEC 10)."""
