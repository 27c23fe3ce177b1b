"""Lexical vectors: the words of a text as a Qdrant sparse vector, for the lexical side of search.

Two ways to split a text, chosen by `SearchSettings.lexical_tokens`:

- "wordpiece": the encoder's own WordPiece tokenizer (no second tokenizer to ship), the model's
  30k ids;
- "bm25": Qdrant's BM25 (`qdrant_edge.Bm25`: words, English stemming and stopwords, hashed
  ids), which a Qdrant server computes the same way, so the vectors mean the same anywhere.

Product names (`fsx lustre`, `mariadb`, `secure gateway`) carry a FAQ question, and a small
sentence encoder blurs them; an exact token match does not.
Qdrant weighs each token by its inverse document frequency (the collection's `IDF` modifier),
so the stored values only say how often a token occurs in the entry (BM25's saturating term
frequency) and a query's values are all 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import qdrant_edge as qe
from qdrant_client import models

from app.encoding.sentence_encoder import tokenizer_lock

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
        with tokenizer_lock(self._tokenizer):  # shared with the dense encoder: see tokenizer_lock
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


class Bm25Encoder:
    """Texts to sparse vectors by Qdrant's BM25 (its defaults: k 1.2, b 0.75, English words
    stemmed, stopwords dropped); the collection's IDF modifier adds the inverse document
    frequency, as for the WordPiece vectors."""

    def __init__(self) -> None:
        self._bm25 = qe.Bm25(qe.Bm25Config(language="english"))

    def documents(self, texts: Sequence[str]) -> list[models.SparseVector]:
        return [self._sparse(self._bm25.embed_document(text)) for text in texts]

    def query(self, text: str) -> models.SparseVector:
        return self._sparse(self._bm25.embed_query(text))

    @staticmethod
    def _sparse(vector: qe.SparseVector) -> models.SparseVector:
        return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


def lexical_encoder(tokens: str, tokenizer) -> LexicalEncoder | Bm25Encoder:
    """The lexical side's encoder for `SearchSettings.lexical_tokens`."""
    return Bm25Encoder() if tokens == "bm25" else LexicalEncoder(tokenizer)
