"""Text similarity: the service's API computation.

Cosine similarity of character-trigram count vectors. It replaces a model call and is
deterministic, so smoke tests can check an exact answer.
"""

from __future__ import annotations

import math
from collections import Counter


def trigrams(text: str) -> Counter[str]:
    padded = f"  {text.lower()} "
    return Counter(padded[i : i + 3] for i in range(len(padded) - 2))


def cosine_similarity(left: str, right: str) -> float:
    """Return the similarity of two texts in [0, 1], rounded to 6 places."""
    a, b = trigrams(left), trigrams(right)
    dot = sum(count * b[gram] for gram, count in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    if norm == 0:
        return 0.0
    return round(dot / norm, 6)
