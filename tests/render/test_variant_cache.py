"""The variant cache is passed in, not shared: each renderer owns one, bounded by what it was given,
so two screens (or a bench next to a test) neither see nor evict each other's variants."""
from __future__ import annotations

import pytest

from edge.render import Renderer
from edge.render.emoticon import Style, VariantCache
from edge.render.params import EXPRESSION_PARAMS
from edge.state import EmoticonState, FaceView, Scene


def _face(expression: str = "happy") -> Scene:
    return Scene(faces=[FaceView(1, EmoticonState(expression, "yellow"), 0.5)])


def _run(r: Renderer, scene: Scene, t0: float, frames: int = 10) -> None:
    for i in range(frames):
        r.render(scene, t0 + i / 30)


def test_two_renderers_keep_their_own_variants():
    a, b = Renderer((320, 240)), Renderer((320, 240))
    assert a.cache is not b.cache
    _run(a, _face("happy"), 10.0)
    assert a.cache.builds > 0 and len(a.cache) > 0
    assert b.cache.builds == 0 and len(b.cache) == 0
    kept = a.cache.bytes, len(a.cache)
    _run(b, _face("sad"), 10.0)  # b fills its own cache; a's is untouched
    assert b.cache.builds > 0
    assert (a.cache.bytes, len(a.cache)) == kept


def test_a_renderer_with_a_tiny_cache_evicts_only_its_own():
    big = Renderer((320, 240))
    _run(big, _face("happy"), 10.0)
    kept = len(big.cache)
    one = 200 * 200 * 4  # bytes of one face-sized variant on this screen, roughly
    small = Renderer((320, 240), cache=VariantCache(2 * one))
    for i, expr in enumerate(("sad", "angry", "surprise", "neutral", "fear")):
        _run(small, _face(expr), 20.0 + i, frames=5)
    assert small.cache.bytes <= small.cache.max_bytes and small.cache.builds > len(small.cache)  # it evicted
    assert len(big.cache) == kept


def test_the_cache_stays_within_its_bound_and_keeps_the_newest():
    size = 64
    each = size * size * 4
    cache = VariantCache(3 * each)
    looks = [(p, Style(tone)) for p in EXPRESSION_PARAMS.values() for tone in ("yellow", "dark")]
    assert len(looks) > 6
    for params, style in looks:
        cache.get(params, style, size)
        assert cache.bytes <= cache.max_bytes
    assert len(cache) == 3 and cache.bytes == 3 * each and cache.builds == len(looks)
    assert cache.peek(*looks[-1], size) is not None  # the newest stays
    assert cache.peek(*looks[0], size) is None  # the oldest went


def test_a_variant_bigger_than_the_bound_is_still_drawn_but_alone():
    cache = VariantCache(10)
    params, style = EXPRESSION_PARAMS["happy"], Style()
    assert cache.get(params, style, 32).get_size() == (32, 32)
    cache.get(EXPRESSION_PARAMS["sad"], style, 32)
    assert len(cache) == 1


def test_the_bound_is_explicit():
    with pytest.raises(TypeError):
        VariantCache()  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        VariantCache(0)


def test_there_is_no_shared_module_cache():
    """Every screen owns its variants: nothing is drawn into, or read from, a module-level cache."""
    import edge.render.emoticon as emoticon

    assert not any(isinstance(v, VariantCache) for v in vars(emoticon).values())
