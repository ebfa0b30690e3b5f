"""The offline grader's stems are the same whichever thread asks: a grading job marks several scripts at once on
threads, and a Snowball stemmer object keeps its word in itself."""

import sys
from concurrent.futures import ThreadPoolExecutor

from grading.providers.local_grading.stemming import stem

WORDS = [
    "relationships",
    "professional",
    "boundaries",
    "safeguarding",
    "communication",
    "confidentiality",
    "dehydration",
    "responsibilities",
    "independently",
    "recognising",
    "organisation",
    "partnership",
] * 400


def test_stems_from_many_threads_at_once_are_the_stems_of_one_thread():
    expected = [stem.__wrapped__(w) for w in WORDS]
    assert expected[:3] == ["relationship", "profession", "boundari"]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so a shared stemmer's state is interleaved
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: [stem.__wrapped__(w) for w in WORDS], range(8)))
    finally:
        sys.setswitchinterval(interval)
    assert all(r == expected for r in results)
