"""Export generators for deployment: ``paddle.jit.save`` static graphs (run by Paddle Inference)
and ONNX. Submodules import Paddle's static-graph machinery, so import them explicitly."""
