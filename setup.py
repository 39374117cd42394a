"""ppimg2img: PaddlePaddle toolkit for image-to-image translation with GANs.

Paddle itself is an extra because its CPU and GPU builds are different distributions:
    pip install -e ".[cpu]"        # paddlepaddle (CPU), and onnxruntime + paddle2onnx (the cartoon predictor)
    pip install -e ".[gpu]"        # paddlepaddle-gpu (pick the CUDA build from paddlepaddle.org.cn)
    pip install -e ".[cpu,test]"   # plus the test tools (and the ONNX and notebook ones the tests use)
    pip install -e ".[cpu,onnx]"   # ONNX export (paddle2onnx, onnxruntime)
    pip install -e ".[cpu,demo]"   # the web app, `ppimg2img demo` (Gradio)
"""
from setuptools import find_packages, setup

setup(
    name="ppimg2img",
    version="0.1.0",
    description="Image-to-image translation with GANs (CycleGAN, pix2pix, U-GAT-IT, photo2cartoon) on PaddlePaddle",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.8",
    packages=find_packages(include=["ppimg2img", "ppimg2img.*"]),
    install_requires=[
        "numpy",
        "opencv-python-headless",
        "scikit-image",
        "pyyaml",
        "imageio",
        "imageio-ffmpeg",
        "matplotlib",
        "pillow",
        "tqdm",
        "dlib-bin",
        "face-recognition-models",
    ],
    extras_require={
        # onnxruntime runs the photo2cartoon predictor fastest on the CPU (its default backend when installed);
        # paddle2onnx 2.x has no wheels for Python 3.13 yet: there the predictors use Paddle Inference
        "cpu": ["paddlepaddle>=3.0", 'paddle2onnx>=2.1; python_version < "3.13"',
                'onnxruntime; python_version < "3.13"'],
        "gpu": ["paddlepaddle-gpu>=3.0"],
        "onnx": ["paddle2onnx>=2.1", "onnxruntime"],
        "notebooks": ["jupyter", "matplotlib"],
        "demo": ["gradio>=6.0"],
        # the demo's tests: gradio_client against the app, Selenium driving Debian's chromium + chromium-driver
        "test": ["pytest", "pytest-xdist", "paddle2onnx>=2.1", "onnxruntime", "nbclient", "nbformat", "ipykernel",
                 "gradio>=6.0", "gradio_client>=2.0", "selenium>=4.10"],
        "visualdl": ["visualdl"],
    },
    entry_points={"console_scripts": ["ppimg2img=ppimg2img.cli:main"]},
    license="Apache-2.0",
)
