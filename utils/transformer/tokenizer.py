"""Byte-level BPE (byte-pair encoding) from scratch, the algorithm behind the GPT-2 family's tokenizers.
Taught in notebook 01.

* The base vocabulary is the 256 possible bytes, so any Unicode string (emoji, accents, CJK) can be encoded
  and decoded back exactly: there are no unknown tokens.
* Training splits the text into chunks with a GPT-2-style regular expression (words, numbers, punctuation,
  whitespace), so merges never cross a word boundary, then repeatedly merges the most frequent adjacent pair.
  Pair counts are kept over the *unique* chunks (chunk -> count) and updated after each merge only for the
  chunks that contain the merged pair, instead of a full recount per merge.
* Ties between equally frequent pairs go to the smallest pair of ids, so training is deterministic.

    tok = BPETokenizer()
    tok.train(text, vocab_size=1000)
    ids = tok.encode("Let's Create Tokens now")
    assert tok.decode(ids) == "Let's Create Tokens now"
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
from collections import Counter, defaultdict
from pathlib import Path

import regex
from tqdm.auto import tqdm

from ..course.arguments import require_range, require_type

#: GPT-2's pre-tokenizer pattern: contractions, letters, numbers, other symbols, whitespace (a space is kept
#: at the start of the following word, so " teacher" is one chunk).
GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_FORMAT = "llm-course-bpe"
_FORMAT_VERSION = 1
#: Training shows a progress bar from this many merges on (unless `progress` says otherwise).
PROGRESS_MIN_MERGES = 1000

Pair = tuple[int, int]


def _merge_word(word: tuple[int, ...], pair: Pair, new_id: int) -> tuple[int, ...]:
    """Replace every non-overlapping occurrence of `pair` in `word`, left to right, by `new_id`."""
    out: list[int] = []
    i, n = 0, len(word)
    a, b = pair
    while i < n:
        if i < n - 1 and word[i] == a and word[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


class BPETokenizer:
    """A byte-level BPE tokenizer: `train`, `encode`, `decode`, `save` / `load`.

    Attributes:
        merges: the learned merges in order, each `((a, b), new_id)`; `new_id` is 256, 257, ...
        vocab: token id -> its bytes (the 256 single bytes first, then one entry per merge).
        merge_counts: how often each merged pair occurred when it was chosen (empty if unknown).
        pattern: the regular expression that splits text into chunks before BPE.
    """

    def __init__(self, pattern: str = GPT2_SPLIT_PATTERN) -> None:
        self.pattern = pattern
        self._compiled = regex.compile(pattern)
        self.merges: list[tuple[Pair, int]] = []
        self.merge_counts: list[int] = []
        self._rebuild()

    # -- state ---------------------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        self._ranks: dict[Pair, int] = {}
        for rank, ((a, b), new_id) in enumerate(self.merges):
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]
            self._ranks[(a, b)] = rank
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        """Number of token ids: 256 bytes plus one per merge."""
        return len(self.vocab)

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)})"

    # -- training ------------------------------------------------------------------------------------------

    def split(self, text: str) -> list[str]:
        """The chunks the pre-tokenizer cuts `text` into (BPE runs inside each chunk)."""
        return self._compiled.findall(text)

    def train(self, text: str, vocab_size: int, *, verbose: bool = False, progress: bool | None = None) -> None:
        """Learn `vocab_size - 256` merges from `text`, replacing any earlier training.

        text: the training text. vocab_size: the final vocabulary size, at least 256. Training stops early
        if no pair occurs any more (the text is too small). verbose: print every merge. progress: show a tqdm
        progress bar (default: only from PROGRESS_MIN_MERGES merges on).
        """
        require_type("vocab_size", vocab_size, int)
        require_range("vocab_size", vocab_size, low=256)
        n_merges = vocab_size - 256

        chunk_counts = Counter(self._compiled.findall(text))
        words: list[tuple[int, ...]] = [tuple(chunk.encode("utf-8")) for chunk in chunk_counts]
        freqs: list[int] = list(chunk_counts.values())

        pair_counts: dict[Pair, int] = defaultdict(int)
        where: dict[Pair, set[int]] = defaultdict(set)  # pair -> indices of the words that contain it
        for index, (word, freq) in enumerate(zip(words, freqs, strict=True)):
            for pair in itertools.pairwise(word):
                pair_counts[pair] += freq
                where[pair].add(index)
        heap = [(-count, pair) for pair, count in pair_counts.items()]
        heapq.heapify(heap)

        self.merges, self.merge_counts = [], []
        self._rebuild()
        show = n_merges >= PROGRESS_MIN_MERGES if progress is None else progress
        bar = None
        if show:
            bar = tqdm(total=n_merges, desc="BPE merges", unit="merge")

        for step in range(n_merges):
            # The most frequent pair; heap entries whose count changed since they were pushed are stale.
            best: Pair | None = None
            while heap:
                neg_count, pair = heapq.heappop(heap)
                if pair_counts.get(pair, 0) == -neg_count and neg_count < 0:
                    best = pair
                    break
            if best is None:
                break
            count = pair_counts[best]
            new_id = 256 + step
            changed: set[Pair] = set()
            for index in where.pop(best):
                word, freq = words[index], freqs[index]
                merged = _merge_word(word, best, new_id)
                if merged == word:
                    continue
                for pair in itertools.pairwise(word):
                    pair_counts[pair] -= freq
                    changed.add(pair)
                for pair in itertools.pairwise(merged):
                    pair_counts[pair] += freq
                    where[pair].add(index)
                    changed.add(pair)
                words[index] = merged
            for pair in changed:
                value = pair_counts[pair]
                if value > 0:
                    heapq.heappush(heap, (-value, pair))
                else:
                    del pair_counts[pair]
                    where.pop(pair, None)
            pair_counts.pop(best, None)

            self.merges.append((best, new_id))
            self.merge_counts.append(count)
            self.vocab[new_id] = self.vocab[best[0]] + self.vocab[best[1]]
            if verbose:
                print(f"merge {step + 1}/{n_merges}: {best} -> {new_id} {self.vocab[new_id]!r} ({count} times)")
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        self._rebuild()

    # -- encoding ------------------------------------------------------------------------------------------

    def _encode_chunk(self, chunk: str) -> list[int]:
        cached = self._cache.get(chunk)
        if cached is not None:
            return cached
        ids = tuple(chunk.encode("utf-8"))
        ranks = self._ranks
        while len(ids) >= 2:
            pair = min(itertools.pairwise(ids), key=lambda p: ranks.get(p, len(ranks)))
            rank = ranks.get(pair)
            if rank is None:
                break
            ids = _merge_word(ids, pair, self.merges[rank][1])
        result = list(ids)
        if len(self._cache) < 200_000:
            self._cache[chunk] = result
        return result

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`: split into chunks, then apply the merges in the order they were learned."""
        out: list[int] = []
        for chunk in self._compiled.findall(text):
            out.extend(self._encode_chunk(chunk))
        return out

    def decode_bytes(self, ids: list[int]) -> bytes:
        """The raw bytes of the tokens `ids`, joined."""
        return b"".join(self.vocab[i] for i in ids)

    def decode(self, ids: list[int]) -> str:
        """The text of token ids `ids` (bytes that are not valid UTF-8 on their own become U+FFFD)."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def tokens(self, text: str) -> list[str]:
        """`text` cut into its tokens, as strings (for display; a token may be part of a character)."""
        return [self.vocab[i].decode("utf-8", errors="replace") for i in self.encode(text)]

    def truncated(self, vocab_size: int) -> BPETokenizer:
        """A copy that keeps only the first `vocab_size - 256` merges: the same tokenizer as one trained on the
        same text to that smaller size, because BPE picks its merges greedily, one after the other."""
        require_range("vocab_size", vocab_size, low=256, high=self.vocab_size)
        copy = BPETokenizer(self.pattern)
        copy.merges = list(self.merges[: vocab_size - 256])
        copy.merge_counts = list(self.merge_counts[: vocab_size - 256])
        copy._rebuild()
        return copy

    # -- files ---------------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the tokenizer (pattern and merges) to a JSON file and return its path."""
        target = Path(path)
        payload = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "pattern": self.pattern,
            "merges": [[a, b, new_id] for (a, b), new_id in self.merges],
            "merge_counts": self.merge_counts,
        }
        target.write_text(json.dumps(payload), encoding="utf-8")
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BPETokenizer:
        """Read a tokenizer written by `save`."""
        source = Path(path)
        if not source.is_file():
            raise FileNotFoundError(f"`path` {str(source)!r} does not exist; write it with BPETokenizer.save().")
        payload = json.loads(source.read_text(encoding="utf-8"))
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ValueError(f"`path` {str(source)!r} is not a BPETokenizer file (no format {_FORMAT!r}).")
        tok = cls(payload["pattern"])
        tok.merges = [((a, b), new_id) for a, b, new_id in payload["merges"]]
        tok.merge_counts = list(payload.get("merge_counts", []))
        tok._rebuild()
        return tok
