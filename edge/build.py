"""Assembling the mirror from a Config: the one place that builds the detector, the classifiers, the face
mesh, the perception pass and the frame loop. The commands (run, analyze, bench, doctor, consistency)
and docs/record_motion.py only parse and call these, so the mirror is put together one way.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

from edge.config import Config, ConfigError
from edge.runtime import ModelError

log = logging.getLogger(__name__)


def models_dir(cfg: Config) -> Path | None:
    """The configured models folder; a path that is not a folder is a config error (it would
    otherwise look like 'no model trained yet' and the mirror would quietly show neutral faces)."""
    if not cfg.classify.models_dir:
        return None
    path = Path(cfg.classify.models_dir)
    if not path.is_dir():
        raise ConfigError(f"classify.models_dir: {path} is not a folder (set it to the folder with manifest.json, "
                          "or leave it empty for models_tflite/)")
    return path


def detector(cfg: Config, threads: int | None = None):
    from edge.perceive.detect import BlazeFaceDetector

    return BlazeFaceDetector(cfg.detector.model, threads or cfg.detector.threads, cfg.detector.min_score)


def classifiers(cfg: Config, threads: int | None = None, camera: bool = False):
    """camera: for the frame loop, whose skin tone reads the camera through its grey-card calibration
    when it has one (photos, the consistency check and bench never do)."""
    from edge import calibration
    from edge.perceive.classify import ClassifierSet
    from edge.perceive.detect import BlazeFaceDetector

    skin = cfg.render.tone == "auto"
    # the skin tone re-reads a detected face's keypoints on it and its mirror image with the short-range
    # model at one thread, whatever detector.model says (its patches were placed and measured that way)
    return ClassifierSet(models_dir(cfg), threads or cfg.classify.threads, cfg.classify.views, skin_tone=skin,
                         skin_detector=BlazeFaceDetector("short", 1) if skin else None,
                         skin_calibration=calibration.for_camera(cfg.source) if skin and camera else None)


def tracking(cfg: Config) -> bool:
    return cfg.detector.track_every > 1


def mesh(cfg: Config, threads: int | None = None):
    """The face mesh, for live motion and for following faces between detections; None when neither
    is on, or (motion auto) when the model is missing."""
    from edge.perceive.landmarks import FaceMesh

    if cfg.motion.mode == "off" and not tracking(cfg):
        return None
    try:
        return FaceMesh(threads or cfg.motion.threads)
    except ModelError as e:
        if cfg.motion.mode == "on":
            raise
        log.warning("live motion and tracking off: %s", e)
        return None


def perception(cfg: Config, threads: int | None = None, still: bool = False, camera: bool = False):
    """Live: faces tracked by their mesh between detections, far faces from tiles; still (analyze,
    consistency --path analyze): the still-photo retries with the full-range model. camera: the frame
    loop's, read through the camera's calibration (`classifiers`)."""
    from edge.perceive.detect import BlazeFaceDetector, TiledDetector
    from edge.perceive.fusion import load_fusion
    from edge.model_files import MODELS_DIR
    from edge.perceive.perception import Perception

    det, face_mesh = detector(cfg, threads), mesh(cfg, threads)
    track = face_mesh is not None and tracking(cfg) and not still
    if track and cfg.detector.far:
        det = TiledDetector(det)
    # still photos too: analyze reads the largest face's blendshapes as the live loop does
    fine, shapes = blendshapes(cfg, threads) if track or still else (None, None)
    return Perception(det, classifiers(cfg, threads, camera), face_mesh,
                      far_detector=BlazeFaceDetector("full", 1) if still else None,
                      max_faces=cfg.detector.max_faces, detect_every=cfg.detector.track_every, track=track,
                      blendshapes=shapes, fine_mesh=fine, fine_faces=cfg.motion.blendshapes,
                      full_rate_faces=cfg.motion.full_rate_faces, forget_after_s=cfg.smooth.track_timeout_s,
                      views=(cfg.classify.views, cfg.classify.group_views),
                      fusion=load_fusion(models_dir(cfg) or MODELS_DIR) if shapes is not None else None)


def blendshapes(cfg: Config, threads: int | None = None):
    """The 478-point mesh and the blendshape model, or (None, None) when motion is off, no face is to
    get them, or they are not committed (the mirror says so and uses the 468-point mesh)."""
    from edge.perceive.blendshapes import Blendshapes
    from edge.perceive.landmarks import FaceMesh

    if cfg.motion.mode == "off" or cfg.motion.blendshapes == 0:
        return None, None
    try:
        return FaceMesh(threads or cfg.motion.threads, points="478"), Blendshapes(threads or cfg.motion.threads)
    except ModelError as e:
        log.warning("blendshape motion off: %s", e)
        return None, None


def pipeline(cfg: Config) -> str:
    """display.pipeline, with "auto" decided: a process of its own wherever there is a second core."""
    if cfg.display.pipeline != "auto":
        return cfg.display.pipeline
    return "process" if (os.cpu_count() or 1) >= 2 else "off"


def perceiver(cfg: Config, threads: int | None = None):
    """The perceiving half of the frame loop: in this process, or in one of its own (display.pipeline
    "process", and "auto" with two cores or more), which builds the same perception from the same config."""
    if pipeline(cfg) == "process":
        from edge.perceive.half import PerceptionProcessError

        try:
            remote = remote_perceiver(cfg, threads)
            log.info("perceiving in a process of its own (pid %s)", remote.pid)
            return remote
        except (PerceptionProcessError, OSError) as e:
            if cfg.display.pipeline != "auto":  # asked for by name: say so and stop
                raise
            # chosen here: a kiosk whose sandbox or memory will not have a second process still runs
            log.warning("perceiving in this process: %s", e)
    return local_perceiver(cfg, threads)


def local_perceiver(cfg: Config, threads: int | None = None):
    """The perceiving half in the calling process (the mirror's own, or the one made for it)."""
    from edge.perceive.half import Perceiver

    return Perceiver(cfg, perception(cfg, threads, camera=True))


def remote_perceiver(cfg: Config, threads: int | None = None, **kwargs):
    """The perceiving half in a process of its own, which builds it with local_perceiver."""
    from edge.perceive.process import RemotePerceiver

    return RemotePerceiver(local_perceiver, cfg, threads, **kwargs)


def mirror(cfg: Config, open_source: Callable, renderer, display, pace: bool = True, threads: int | None = None,
           **kwargs):
    from edge.app import Mirror

    return Mirror(cfg, open_source, perceiver(cfg, threads), renderer, display, pace=pace, **kwargs)
