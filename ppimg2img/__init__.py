"""ppimg2img: image-to-image translation with GANs on PaddlePaddle."""
import os as _os

__version__ = "0.1.0"

# Paddle's import pins OMP_NUM_THREADS to 1 when it is unset; use every core unless the
# user chose otherwise (``--threads`` / config ``threads`` override at run time).
_os.environ.setdefault("OMP_NUM_THREADS", str(_os.cpu_count() or 1))

try:
    import paddle  # noqa: F401
except ImportError as _err:  # pragma: no cover - exercised in a paddle-free subprocess test
    raise ImportError(
        "ppimg2img needs PaddlePaddle, which is not installed. Install the extra that matches "
        "your machine: pip install -e \".[cpu]\" (CPU) or pip install -e \".[gpu]\" (CUDA GPU). "
        f"(original error: {_err})"
    ) from None
