"""Real photographs shipped in packages, as 640x360 JPEG frames, and the transformations that stand for each change."""
from __future__ import annotations

from functools import cache

import cv2
import numpy as np
from matplotlib import cbook
from skimage import data

WIDTH, HEIGHT = 640, 360


def fill(rgb: np.ndarray) -> np.ndarray:
    """Scale and crop the middle of a picture to fill a 640x360 frame, as a webcam would."""
    h, w = rgb.shape[:2]
    scale = max(WIDTH / w, HEIGHT / h)
    big = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    y, x = (big.shape[0] - HEIGHT) // 2, (big.shape[1] - WIDTH) // 2
    return np.ascontiguousarray(big[y : y + HEIGHT, x : x + WIDTH])


def fit(rgb: np.ndarray) -> np.ndarray:
    """Fit the whole picture into a 640x360 frame, between dark bars."""
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (round(w * HEIGHT / h), HEIGHT), interpolation=cv2.INTER_AREA)
    frame = np.full((HEIGHT, WIDTH, 3), 20, np.uint8)
    x = (WIDTH - small.shape[1]) // 2
    frame[:, x : x + small.shape[1]] = small
    return frame


@cache
def grace_hopper_photo() -> np.ndarray:
    """Grace Hopper's portrait, as shipped with matplotlib (upright, face and shoulders in view)."""
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        return cv2.cvtColor(cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def grace_hopper() -> np.ndarray:
    return fill(grace_hopper_photo())


def astronaut() -> np.ndarray:
    return fit(data.astronaut())


def cameraman() -> np.ndarray:
    return fit(np.stack([data.camera()] * 3, axis=-1))


def coffee() -> np.ndarray:
    return fill(data.coffee())


def jpeg(rgb: np.ndarray, quality: int = 80) -> bytes:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return encoded.tobytes()


def turned(photo: np.ndarray) -> np.ndarray:
    """The camera turned a quarter (or the person lying down), still a landscape frame."""
    return fill(np.rot90(photo))


def noisy(rgb: np.ndarray, seed: int, sigma: float = 8.0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, rgb.shape)
    return np.clip(rgb + noise, 0, 255).astype(np.uint8)


def shifted(rgb: np.ndarray, dx: int, dy: int = 0) -> np.ndarray:
    """Move the picture by (dx, dy) pixels, repeating its edge (jitter when small, out of frame when large)."""
    moved = cv2.warpAffine(rgb, np.float32([[1, 0, dx], [0, 1, dy]]), (WIDTH, HEIGHT), borderMode=cv2.BORDER_REPLICATE)
    return moved


def lit(rgb: np.ndarray, gain: float, offset: float = 0.0) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


def crop(rgb: np.ndarray, x: float, y: float, w: float, h: float) -> np.ndarray:
    """Fill the frame with the given part (fractions of the frame): the person much closer."""
    part = rgb[int(y * HEIGHT) : int((y + h) * HEIGHT), int(x * WIDTH) : int((x + w) * WIDTH)]
    return fill(part)


def shrunk(rgb: np.ndarray, scale: float = 0.45) -> np.ndarray:
    """The person further away: the picture smaller, in the middle of its own blurred edge."""
    small = cv2.resize(rgb, (int(WIDTH * scale), int(HEIGHT * scale)), interpolation=cv2.INTER_AREA)
    frame = cv2.GaussianBlur(rgb, (0, 0), 25)
    y, x = (HEIGHT - small.shape[0]) // 2, (WIDTH - small.shape[1]) // 2
    frame[y : y + small.shape[0], x : x + small.shape[1]] = small
    return frame


def black() -> np.ndarray:
    return np.zeros((HEIGHT, WIDTH, 3), np.uint8)


def covered(rgb: np.ndarray) -> np.ndarray:
    """A hand over the lens: dark, with the light through the fingers spread evenly."""
    return lit(cv2.GaussianBlur(rgb, (0, 0), 60), 0.15)
