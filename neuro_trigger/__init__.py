"""NeuroTrigger Trainer: trains the Belle II level-1 neural z-vertex trigger experts."""
import os

# numpy's OpenBLAS with one thread per call (unless the user chose otherwise), set before numpy is first
# imported: the bootstrap's products are small and memory-bound, the expert threads already use every core,
# and OpenBLAS's own threads on a busy 2-core machine made them up to 100x slower (bench/profile_run.py).
# torch uses its own threads (MKL / OpenMP, torch.set_num_threads) and is not affected.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
