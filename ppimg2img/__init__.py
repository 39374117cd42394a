"""ppimg2img: image-to-image translation with GANs on PaddlePaddle."""
import os as _os
import warnings as _warnings

__version__ = "0.1.0"

#: OMP_NUM_THREADS as the user set it (Paddle's import overwrites an unset one with 1)
USER_OMP_THREADS = _os.environ.get("OMP_NUM_THREADS")

# Paddle warns at import that ccache (for compiling custom C++ ops) is missing: irrelevant here.
_warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)
# Paddle's BatchNorm warns at its first training forward that it always tracks running statistics
# (as PyTorch does): expected for pix2pix's BatchNorm, not a problem.
_warnings.filterwarnings("ignore", message="When training, we now always track global mean", category=UserWarning)
try:
    import paddle  # noqa: F401
except ImportError as _err:  # pragma: no cover - exercised in a paddle-free subprocess test
    raise ImportError(
        "ppimg2img needs PaddlePaddle, which is not installed. Install the extra that matches "
        "your machine: pip install -e \".[cpu]\" (CPU) or pip install -e \".[gpu]\" (CUDA GPU). "
        f"(original error: {_err})"
    ) from None

# Paddle's import pins OMP_NUM_THREADS to 1 when it is unset; use every core unless the user
# set it (``--threads`` / config ``threads`` override at run time). Setting the variable before
# the import would do the same but makes Paddle print a warning on every start.
from .utils.env import set_threads as _set_threads  # noqa: E402
from .utils.env import use_mkl_avx2_on_amd as _use_mkl_avx2_on_amd  # noqa: E402

# MKL's AVX2 kernels on AMD CPUs (MKL_DEBUG_CPU_TYPE=5): eager convolutions ~2x faster
_use_mkl_avx2_on_amd()
_set_threads(None)

# Top-level API, imported on first use so that ``import ppimg2img`` stays light.
_LAZY = {
    "load_generator": ("ppimg2img.weights", "load_generator"),
    "read_checkpoint": ("ppimg2img.weights", "read_checkpoint"),
    "export_model": ("ppimg2img.export.model", "export_model"),
}
# every predictor class (CycleGANPredictor, Horse2ZebraPredictor, Photo2CartoonPredictor...)
_PREDICTORS = ("BasePredictor", "RunSummary", "CycleGANPredictor", "Pix2PixPredictor", "ColorizationPredictor",
               "UGATITPredictor", "Photo2CartoonPredictor", "Horse2ZebraPredictor", "Zebra2HorsePredictor",
               "Apple2OrangePredictor", "Orange2ApplePredictor", "Summer2WinterPredictor",
               "Winter2SummerPredictor", "Photo2MonetPredictor", "Photo2VanGoghPredictor",
               "Photo2CezannePredictor", "Photo2UkiyoePredictor", "Monet2PhotoPredictor", "Sat2MapPredictor",
               "Map2SatPredictor", "Edges2ShoesPredictor", "Day2NightPredictor", "GANGeneratorPredictor",
               "PGGANPredictor", "StyleGAN2Predictor")
_LAZY.update({name: ("ppimg2img.predictors", name) for name in _PREDICTORS})


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'ppimg2img' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
