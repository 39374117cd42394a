"""What one benchmark case measures; ``benchmarks/run.py`` runs each case in a fresh process.

A case is a JSON-able dict: ``{"kind": "train" | "infer" | "data", ...}``; :func:`run_case`
returns a dict of raw timings (seconds, one per repetition, after warm-up) and ``peak_mb``, the
peak resident memory of the process (``ru_maxrss``, via ``ppimg2img.utils.env.peak_memory_mb``).
"""
import os
import tempfile
import time

FAMILIES = ("cyclegan", "pix2pix", "ugatit", "photo2cartoon", "dcgan")
#: image-to-image families: training step, generator inference and data loader; the generation family
#: (dcgan: noise -> image) has a training-step case only
TRANSLATION_FAMILIES = FAMILIES[:4]
#: the dataset class each translation family trains on (the data-loader figures are per dataset class)
DATASET_OF = {"cyclegan": "UnalignedDataset", "pix2pix": "AlignedDataset",
              "ugatit": "UnalignedDataset", "photo2cartoon": "UnalignedDataset"}
#: DCGAN (GANModel, nets/dcgan.py) at its two shipped configs: configs/quickstart_dcgan.yaml (28x28 digits,
#: ngf/ndf 32, batch 64) and configs/dcgan_mnist.yaml (the paper's 64x64 nets, ngf/ndf 64, batch 128);
#: nz 100, one channel (MNIST) in both
DCGAN_NZ, DCGAN_CHANNELS = 100, 1
DCGAN_PUBLISHED = {28: {"ngf": 32, "batch": 64}, 64: {"ngf": 64, "batch": 128}}


def dcgan_plan(size):
    """(start side, number of stride-2 layers) of the DCGAN nets for an image side ``size``: 4 * 2**k
    (32, 64, 128) or 7 * 2**k (28), k >= 1, as ppimg2img/nets/dcgan.py's ``_plan``."""
    for base in (4, 7):
        k, rest = 0, size
        while rest % 2 == 0 and rest > base:
            rest, k = rest // 2, k + 1
        if rest == base and k >= 1:
            return base, k
    raise ValueError(f"dcgan benchmarks need an image size of 4 * 2**k or 7 * 2**k (28, 32, 64, 128), got {size}; "
                     f"use --dcgan-sizes 28 64")


def train_batch(family, size):
    """Images per training step: 1 for the translation families (their originals' batch size), the
    config's batch for DCGAN (64 at 28 px, 128 otherwise: configs/dcgan_mnist.yaml)."""
    if family == "dcgan":
        return DCGAN_PUBLISHED.get(size, DCGAN_PUBLISHED[64])["batch"]
    return 1


def family_config(family, size, ngf=None):
    """(model class name, generator config, discriminator config) at the published sizes.

    CycleGAN: resnet_9blocks at 256 px, resnet_6blocks below (the original's choice for 128 px),
    ngf/ndf 64. pix2pix: unet_256 / unet_128, ngf/ndf 64, basic (70x70) conditional PatchGAN, BatchNorm
    in both (upstream --norm batch).
    U-GAT-IT: light, ngf/ndf 64, 4 blocks, 7-layer global D (the full version's style MLP alone
    has 268M parameters at 256 px). photo2cartoon: light, ngf/ndf 32. DCGAN: nz 100, one channel,
    BatchNorm in D, ngf/ndf 32 at 28 px (quickstart_dcgan.yaml), 64 otherwise (dcgan_mnist.yaml).
    ``ngf`` overrides every width.
    """
    if family == "cyclegan":
        w = ngf or 64
        return ("CycleGANModel", {"name": "resnet_9blocks" if size >= 256 else "resnet_6blocks", "ngf": w},
                {"name": "basic", "ndf": w})
    if family == "pix2pix":
        if size % 128:
            raise ValueError(f"pix2pix benchmarks need a size that is a multiple of 128 (unet_128 halves the "
                             f"image 7 times, unet_256 8 times), got {size}; use --sizes 128 256")
        w = ngf or 64
        return ("Pix2PixModel", {"name": "unet_256" if size % 256 == 0 else "unet_128", "ngf": w},
                {"name": "basic", "ndf": w, "norm": "batch"})  # upstream --norm batch: G and D
    if family == "ugatit":
        if size % 4 or size < 96:
            raise ValueError(f"ugatit benchmarks need a size that is a multiple of 4 and at least 96 (its 7-layer "
                             f"discriminator), got {size}")
        w = ngf or 64
        return ("UGATITModel", {"name": "ugatit", "ngf": w, "n_blocks": 4, "img_size": size, "light": True},
                {"name": "ugatit", "ndf": w, "n_layers": 7})
    if family == "photo2cartoon":
        if size % 16 or size < 96:
            raise ValueError(f"photo2cartoon benchmarks need a size that is a multiple of 16 and at least 96 (its "
                             f"7-layer discriminator), "
                             f"got {size}")
        w = ngf or 32
        return ("Photo2CartoonModel", {"name": "photo2cartoon", "ngf": w, "img_size": size, "light": True},
                {"name": "ugatit", "ndf": w, "n_layers": 7})
    if family == "dcgan":
        dcgan_plan(size)
        w = ngf or DCGAN_PUBLISHED.get(size, DCGAN_PUBLISHED[64])["ngf"]
        return ("GANModel", {"name": "dcgan", "nz": DCGAN_NZ, "ngf": w, "output_nc": DCGAN_CHANNELS,
                             "image_size": size},
                {"name": "dcgan", "ndf": w, "norm": "batch"})
    raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")


def _setup(case):
    from ppimg2img.utils.env import set_seed, set_threads
    set_threads(case["threads"])
    set_seed(0)


def _images(size, batch, seed=0, channels=3):
    import numpy as np
    return np.random.default_rng(seed).uniform(-1, 1, (batch, channels, size, size)).astype("float32")


def _time(fn, warmup, repeats):
    """Call ``fn`` ``warmup`` times, then return the duration of each of ``repeats`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


#: untimed steps before a train.fast step is timed, whatever --warmup says (see train_case)
FAST_WARMUP = 3


def train_case(case):
    """One training step: the model's full ``train_step`` (forward, G and D updates), batch 1 (translation)
    or the DCGAN config's batch (:func:`train_batch`); with ``case["mode"] == "fast"`` the train.fast step
    (static programs on oneDNN; the warm-up step builds them)."""
    import paddle

    from ppimg2img.models import MODELS
    from ppimg2img.nets.mobilefacenet import MobileFaceNet
    from ppimg2img.utils.env import peak_memory_mb

    _setup(case)
    size = case["size"]
    model_name, gen, dis = family_config(case["family"], size, case.get("ngf"))
    kwargs = {}
    if case["family"] == "photo2cartoon":  # face-ID loss on, as the original: a MobileFaceNet costs the same with random weights
        path = os.path.join(tempfile.mkdtemp(), "mobilefacenet_random.pdparams")
        paddle.save(MobileFaceNet().state_dict(), path)
        kwargs = {"faceid_weight": 1.0, "faceid_model": path}
    model = MODELS[model_name](gen, dis, **kwargs)
    model.setup_training({"lr": 2e-4}, {"policy": "linear"})  # Adam, betas (0.5, 0.999): every family's original
    if case.get("mode") == "fast":
        model.set_fast(True)

    def trainable(net):  # not BatchNorm's running statistics, which Paddle lists among the parameters
        return sum(int(p.size) for p in net.parameters() if not p.stop_gradient)

    # counted before the steps: a step may leave a net frozen (GANModel's G step sets D's stop_gradient)
    params = {k: trainable(n) for k, n in model.nets.items()}
    batch = train_batch(case["family"], size)
    if case["family"] == "dcgan":  # one real batch in [-1, 1]; the step draws its own noise, as a training run
        model.set_input({"image": paddle.to_tensor(_images(size, batch, channels=gen["output_nc"]))})
    else:
        model.set_input({k: paddle.to_tensor(_images(size, batch, seed)) for seed, k in enumerate("AB")})
    # the fast step's first steps build the programs, then run slower until oneDNN settles (pix2pix 256:
    # 1.40, 1.07 s, then 0.75-0.87 s): at least FAST_WARMUP untimed steps, so the figure is the steady
    # speed a training run's log reports (the median of its steps)
    warmup = max(case["warmup"], FAST_WARMUP) if case.get("mode") == "fast" else case["warmup"]
    times = _time(model.train_step, warmup, case["repeats"])
    return {"step_s": times, "peak_mb": peak_memory_mb(), "generator": gen["name"], "ngf": gen["ngf"],
            "batch": batch, "mode": case.get("mode", "eager"), "warmup_steps": warmup,
            "params": params, "generator_params": next(iter(params.values()))}


def image_output(net):
    """``net`` as a Layer returning only the translated image (U-GAT-IT nets also return CAM outputs)."""
    import paddle

    class ImageOutput(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            out = self.net(x)
            return out[0] if isinstance(out, (tuple, list)) else out

    return ImageOutput()


def _export_path(case):
    return os.path.join(case["export_dir"], f"{case['family']}_{case['size']}", "generator")


def _eager_infer(case):
    import paddle

    from ppimg2img.nets import build_generator
    from ppimg2img.nets.init import init_weights
    from ppimg2img.utils.env import peak_memory_mb

    _, gen, _ = family_config(case["family"], case["size"], case.get("ngf"))
    cfg = dict(gen)
    net = build_generator(cfg.pop("name"), **cfg)
    if case["family"] in ("cyclegan", "pix2pix"):
        init_weights(net, "normal", 0.02)
    net = image_output(net)
    net.eval()  # pix2pix: running BatchNorm statistics, no dropout (ppimg2img's default inference mode)
    out = {}
    with paddle.no_grad():
        for batch in case["batches"]:
            x = paddle.to_tensor(_images(case["size"], batch))
            out[f"batch{batch}_s"] = _time(lambda x=x: net(x).numpy(), case["warmup"], case["repeats"])
    out["peak_mb"] = peak_memory_mb()
    # the export (after the peak reading: tracing costs memory the eager run does not have), as the
    # predictors' default backend makes it: the inference recipe (export.inference.inference_layers with
    # its default norm swap); sizes left dynamic (fully convolutional nets: any multiple of their stride),
    # except U-GAT-IT and photo2cartoon, which the predictors export at their working size (predictors/base.py)
    from ppimg2img.export.inference import default_pool_norm, inference_layers
    from ppimg2img.export.paddle_graph import export_generator
    fixed = case["size"] if case["family"] in ("ugatit", "photo2cartoon") else None
    with inference_layers(net, default_pool_norm(net)):
        export_generator(net, _export_path(case), input_nc=3, image_size=fixed)
    if case["family"] in ONNX_FAMILIES:  # and the ONNX export onnxruntime runs, the predictors' default for these
        from ppimg2img.export.onnx import load_or_export_onnx
        load_or_export_onnx(net, _export_path(case) + "_onnx", "benchmark", input_nc=3, image_size=fixed)
    return out


def _onednn_infer(case):
    """The predictors' default backend: ``InferenceGenerator`` (Paddle Inference, oneDNN, their config)."""
    from ppimg2img.export.inference import InferenceGenerator

    path = _export_path(case)
    if not any(os.path.exists(path + ext) for ext in (".json", ".pdmodel")):
        raise FileNotFoundError(f"no exported model at {path}.json/.pdmodel: the eager case of "
                                f"{case['family']} {case['size']} px exports it and must run first")
    gen = InferenceGenerator(path, "cpu", case["threads"])
    return _time_generator(gen, case)


def _time_generator(gen, case):
    from ppimg2img.utils.env import peak_memory_mb

    out = {}
    for batch in case["batches"]:
        x = _images(case["size"], batch)
        t0 = time.perf_counter()
        gen(x)  # the first call (oneDNN prepares its kernels for this shape), reported apart
        out[f"first_batch{batch}_s"] = time.perf_counter() - t0
        out[f"batch{batch}_s"] = _time(lambda x=x: gen(x), max(0, case["warmup"] - 1), case["repeats"])
    out["peak_mb"] = peak_memory_mb()
    return out


#: families whose predictors run onnxruntime by default on the CPU (predictors.base.BasePredictor.onnx_on_cpu)
ONNX_FAMILIES = ("photo2cartoon",)


def _onnx_infer(case):
    """photo2cartoon's default backend: the ONNX export (``export.onnx.load_or_export_onnx``) run by onnxruntime."""
    from ppimg2img.export.onnx import OnnxGenerator

    gen = OnnxGenerator(_export_path(case) + "_onnx.onnx", case["threads"])
    return _time_generator(gen, case)


def infer_case(case):
    """Generator inference at each batch size of ``case['batches']``, output copied to NumPy."""
    _setup(case)
    return {"eager": _eager_infer, "onednn": _onednn_infer, "onnx": _onnx_infer}[case["backend"]](case)


def data_case(case):
    """Passes over a synthetic dataset through ``build_loader``: decode + resize/crop/flip + batch."""
    from ppimg2img.data import build_dataset, build_loader
    from ppimg2img.utils.env import peak_memory_mb

    _setup(case)
    size = case["size"]
    # original preprocessing: resize to 286/256 of the crop, random crop, random flip
    dataset = build_dataset(case["dataset"], dataroot=case["dataroot"], phase="train",
                            preprocess="resize_and_crop", load_size=size * 286 // 256, crop_size=size)
    dataset.set_epoch(0)
    loader = build_loader(dataset, batch_size=case["batch_size"], num_workers=case["workers"])

    def one_pass():
        for _ in loader:
            pass

    return {"pass_s": _time(one_pass, case["warmup"], case["repeats"]), "samples": len(dataset),
            "peak_mb": peak_memory_mb()}


def idle_case(case):
    """Nothing: the peak memory every case's process starts from (Paddle and ppimg2img imported)."""
    from ppimg2img.utils.env import peak_memory_mb
    return {"peak_mb": peak_memory_mb()}


def run_case(case):
    return {"train": train_case, "infer": infer_case, "data": data_case, "idle": idle_case}[case["kind"]](case)


def child_main(case, conn):
    """Entry point of a case's process: send ``run_case``'s result (or the error) through ``conn``."""
    import multiprocessing
    import traceback
    # a forkserver child inherits the forkserver start method: loader workers would then start from
    # the server (a second or so per epoch) instead of forking this process as in a normal run
    multiprocessing.set_start_method("fork", force=True)
    try:
        conn.send(run_case(case))
    except BaseException as e:  # noqa: BLE001 - reported as the case's result
        conn.send({"error": f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-4)}"})
    finally:
        conn.close()
