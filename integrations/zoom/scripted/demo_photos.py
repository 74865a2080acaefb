"""A real person's frames for the demo's framing analysis: Grace Hopper's portrait (shipped with matplotlib), upright or on its side."""
from __future__ import annotations

WIDTH, HEIGHT = 640, 360


VARIANTS = 4  # a live camera's frames are never identical: the same bytes over and over read as a frozen video


def demo_person_frames() -> tuple[list[bytes], list[bytes]] | None:
    """Return 640x360 JPEG frames of a person sitting up and lying down, or None without the vision stack."""
    try:
        import cv2
        import numpy as np
        from matplotlib import cbook
    except ImportError:  # installed without the framing extra: the demo sends its plain frame instead
        return None
    with open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), "rb") as f:  # by path: its file object is typed as maybe an array
        photo = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)

    noise = np.random.default_rng(17)

    def frames(picture: np.ndarray) -> list[bytes]:
        # Fill the frame as a webcam would (scale, crop the middle), with a camera's slight noise.
        h, w = picture.shape[:2]
        scale = max(WIDTH / w, HEIGHT / h)
        big = cv2.resize(picture, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        y, x = (big.shape[0] - HEIGHT) // 2, (big.shape[1] - WIDTH) // 2
        filled = big[y : y + HEIGHT, x : x + WIDTH].astype(np.float32)
        noisy = [np.clip(filled + noise.normal(0, 5.0, filled.shape), 0, 255).astype(np.uint8) for _ in range(VARIANTS)]
        return [cv2.imencode(".jpg", n, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes() for n in noisy]

    return frames(photo), frames(np.ascontiguousarray(np.rot90(photo)))
