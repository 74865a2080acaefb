"""Analyse one JPEG frame with the models mediapipe ships: runs inside a framing worker process, models loaded once."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bot.core.framing import (
    SCENE_SIZE,
    THUMBNAIL_SIZE,
    FaceBox,
    FramingObservation,
    Landmark,
    shoulder_angle,
)
from bot.tracking.frames import jpeg_size

ANALYSIS_WIDTH = 640  # RTMS sends SD frames; anything larger is scaled down so every frame costs the same
# Pose landmarks (mediapipe's numbering).
LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_ELBOW, RIGHT_ELBOW, LEFT_WRIST, RIGHT_WRIST = 11, 12, 13, 14, 15, 16
# The only model files used, all inside mediapipe 0.10.21's wheel: face detection's full range
# (model_selection=1) and pose's full landmark model (model_complexity=1).
SHIPPED_MODELS = (
    "modules/face_detection/face_detection_full_range_sparse.tflite",
    "modules/pose_detection/pose_detection.tflite",
    "modules/pose_landmark/pose_landmark_full.tflite",
)

_models: Any = None


class ModelMissing(RuntimeError):
    """A model the analysis needs is not in the installed mediapipe; nothing is ever downloaded."""


def load_models() -> None:
    """Load the face and pose models once for this process (the worker's initializer)."""
    global _models
    if _models is not None:
        return
    os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's native log would say nothing useful per frame
    import mediapipe as mp
    from mediapipe.python.solutions import download_utils, face_detection, pose

    root = Path(mp.__file__).parent
    missing = [m for m in SHIPPED_MODELS if not (root / m).is_file()]
    if missing:
        raise ModelMissing(f"mediapipe lacks {', '.join(missing)}: install mediapipe==0.10.21")

    def refuse_download(model_path: str) -> None:
        if not (root.parent / model_path).is_file():
            raise ModelMissing(f"{model_path} is not shipped and is never downloaded")

    download_utils.download_oss_model = refuse_download  # a model fetched at run time would be unvetted code and a leak
    _models = (
        face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5),
        pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=False),
    )


def analyse(jpeg: bytes) -> FramingObservation | None:
    """Return what the frame shows, or None if it cannot be decoded."""
    import cv2
    import numpy as np

    load_models()
    # A frame at least twice the analysis width is decoded at a half or a quarter (the JPEG decoder scales
    # in its transform, far cheaper than decoding it all and scaling after): HD costs about what SD does.
    size = jpeg_size(jpeg)
    scale = 4 if size and size[0] >= 4 * ANALYSIS_WIDTH else 2 if size and size[0] >= 2 * ANALYSIS_WIDTH else 1
    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4}[scale]
    bgr = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), flags)
    if bgr is None:
        return None
    height, width = bgr.shape[:2]
    if width > ANALYSIS_WIDTH:
        bgr = cv2.resize(bgr, (ANALYSIS_WIDTH, round(height * ANALYSIS_WIDTH / width)), interpolation=cv2.INTER_AREA)
        height, width = bgr.shape[:2]
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    faces, poses = _models
    mean, spread = cv2.meanStdDev(grey)
    face = _face(faces.process(rgb))
    landmarks = poses.process(rgb).pose_landmarks
    shoulders = wrists = elbows = None
    angle = None
    if landmarks is not None:
        points = landmarks.landmark
        mark = lambda i: Landmark(float(points[i].x), float(points[i].y), float(points[i].visibility))  # noqa: E731
        shoulders, wrists = (mark(LEFT_SHOULDER), mark(RIGHT_SHOULDER)), (mark(LEFT_WRIST), mark(RIGHT_WRIST))
        elbows = (mark(LEFT_ELBOW), mark(RIGHT_ELBOW))
        angle = shoulder_angle(*shoulders, width, height)
    return FramingObservation(
        width=width,
        height=height,
        face=face,
        shoulders=shoulders,
        wrists=wrists,
        elbows=elbows,
        shoulder_angle=angle,
        brightness=float(mean[0, 0]) / 255.0,
        contrast=float(spread[0, 0]) / 255.0,
        sharpness=float(cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_32F))[1][0, 0]) / 255.0,
        thumbnail=cv2.resize(grey, THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA).tobytes(),
        scene=cv2.resize(grey, SCENE_SIZE, interpolation=cv2.INTER_AREA).tobytes(),
    )


def _face(result: Any) -> FaceBox | None:
    """Return the most certain face, if any."""
    if not result.detections:
        return None
    best = max(result.detections, key=lambda d: d.score[0])
    box = best.location_data.relative_bounding_box
    return FaceBox(float(box.xmin), float(box.ymin), float(box.width), float(box.height), float(best.score[0]))
