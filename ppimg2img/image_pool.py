"""History buffer of generated images, as util/image_pool.py of the original CycleGAN.

Updating D with a history of fakes rather than only the latest ones (Shrivastava et al.
2017) stabilises training; upstream uses pool_size 50.
"""
import numpy as np
import paddle


class ImagePool:
    """Keeps up to ``pool_size`` past generated images.

    ``query`` handles each image of the batch in turn: while the pool is not full it is
    stored and returned; afterwards, with probability 0.5 a random stored image is returned
    and the new one takes its place, otherwise the new image is returned unchanged.
    ``pool_size=0`` returns the input as is. The pool has its own RNG (``seed``) whose state
    is saved by ``state_dict`` together with the stored images, so a resumed run continues
    identically.
    """

    def __init__(self, pool_size=50, seed=None):
        if pool_size < 0:
            raise ValueError(f"pool_size must be >= 0, got {pool_size}")
        self.pool_size = int(pool_size)
        self.images = []
        self.rng = np.random.default_rng(seed)

    def query(self, images):
        """Return a batch of images drawn from the pool (detached from the graph)."""
        if self.pool_size == 0:
            return images
        returned = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image)
                returned.append(image)
            elif self.rng.uniform(0, 1) > 0.5:
                idx = int(self.rng.integers(0, self.pool_size))
                returned.append(self.images[idx])
                self.images[idx] = image
            else:
                returned.append(image)
        return paddle.concat(returned, axis=0)

    def state_dict(self):
        """Stored images as numpy arrays and the RNG state (plain Python/numpy objects)."""
        return {"pool_size": self.pool_size,
                "images": [img.numpy() for img in self.images],
                "rng_state": self.rng.bit_generator.state}

    def set_state_dict(self, state):
        """Restore what ``state_dict`` returned."""
        if int(state["pool_size"]) != self.pool_size:
            raise ValueError(f"image pool state was saved with pool_size {state['pool_size']}, "
                             f"but this pool has pool_size {self.pool_size}; use the same pool_size")
        self.images = [paddle.to_tensor(np.asarray(img)) for img in state["images"]]
        self.rng.bit_generator.state = state["rng_state"]
