"""The compact manifest cache against a plain dict model: adds, replacements, pruning."""

import hashlib
import random

from registry_monitor.storage.layout import ManifestRefs, digest_key
from registry_monitor.storage.manifests import BATCH, ManifestCache


def d(n: int) -> bytes:
    return hashlib.sha256(str(n).encode()).digest()


def refs(n: int) -> ManifestRefs | str:
    if n % 7 == 0:
        return "manifest blob is not JSON"
    children = (d(n + 1),) if n % 11 == 0 else ()
    return ManifestRefs("docker-v2", children, (d(n + 2), d(n + 3)))


def expected(value: ManifestRefs | str) -> object:
    if isinstance(value, str):
        return value
    return [digest_key(x) for x in value.blobs], value.children


def entry(cache: ManifestCache, n: int) -> object:
    i = cache.index(digest_key(d(n)))
    if i < 0:
        return None
    e = cache.entry(i)
    return e if isinstance(e, str) else (list(e[0]), e[1])


def test_cache_matches_a_dict_model_through_batches_and_pruning() -> None:
    cache = ManifestCache()
    model: dict[int, ManifestRefs | str] = {}
    numbers = list(range(3 * BATCH + 17))
    random.Random(1).shuffle(numbers)
    for n in numbers:
        cache.add(d(n), refs(n))
        model[n] = refs(n)
        assert digest_key(d(n)) in cache
    cache.commit()
    assert len(cache) == len(model)
    for n in range(0, len(numbers), 13):
        assert entry(cache, n) == expected(model[n]), n

    alive = {digest_key(d(n)) for n in model if n % 2 == 0}
    cache.add(d(1), ManifestRefs("oci-manifest", (), (d(99),)))  # parsed again: replaces
    alive.add(digest_key(d(1)))
    cache.commit(keep=alive.__contains__)
    assert len(cache) == len(alive)
    assert entry(cache, 1) == ([digest_key(d(99))], ())
    assert entry(cache, 3) is None
    for n in range(0, len(numbers), 2):
        assert entry(cache, n) == expected(model[n]), n
