"""Root pytest configuration.

Runs everything (unit tests and the book's notebooks under nbval) in the ``smoke``
profile unless ``NAS_KIT_PROFILE`` is already set, makes the repository importable
(also inside nbval's kernels, which inherit this process's environment), selects a
non-interactive matplotlib backend, and runs torch single-threaded.

Why one thread: the smoke profile's tensors are tiny, and on a CPU shared with other work
torch's OpenMP threads spin-wait for each other. On a 2-core machine under load, a smoke
DARTS search measured 128 s with 2 threads and 13 s with OMP_NUM_THREADS=1. Set the
variable yourself to override.
"""
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent

os.environ.setdefault("NAS_KIT_PROFILE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
