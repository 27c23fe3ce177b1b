"""Lexical vectors: the words of a text as a Qdrant sparse vector, for the lexical side of search.

Product names (`fsx lustre`, `mariadb`, `secure gateway`) carry a FAQ question, and a small
sentence encoder blurs them; an exact token match does not. Texts are split with the encoder's
own WordPiece tokenizer (no second tokenizer to ship), so the vocabulary is the model's 30k ids.
Qdrant weighs each token by its inverse document frequency (the collection's `IDF` modifier),
so the stored values only say how often a token occurs in the entry (BM25's saturating term
frequency) and a query's values are all 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from qdrant_client import models

# BM25's term-frequency saturation: a token's second occurrence adds less than its first.
TF_SATURATION = 1.2


class LexicalEncoder:
    """Texts to sparse vectors of WordPiece token ids."""

    def __init__(self, tokenizer):
        self._tokenizer = tokenizer
        special = set(getattr(tokenizer, "all_special_ids", ()))
        # Punctuation carries no topic; only ids of tokens with a letter or a digit count.
        vocab = tokenizer.get_vocab()
        self._content = {
            i for token, i in vocab.items() if i not in special and any(c.isalnum() for c in token)
        }

    def token_ids(self, text: str) -> list[int]:
        ids = self._tokenizer(text.lower(), add_special_tokens=False, verbose=False)["input_ids"]
        return [i for i in ids if i in self._content]

    def documents(self, texts: Sequence[str]) -> list[models.SparseVector]:
        vectors = []
        for text in texts:
            counts = Counter(self.token_ids(text))
            ids = sorted(counts)
            values = [counts[i] * (TF_SATURATION + 1) / (counts[i] + TF_SATURATION) for i in ids]
            vectors.append(models.SparseVector(indices=ids, values=values))
        return vectors

    def query(self, text: str) -> models.SparseVector:
        ids = sorted(set(self.token_ids(text)))
        return models.SparseVector(indices=ids, values=[1.0] * len(ids))
