"""Unit tests of utils.tokenization.BPETokenizer: exact round trips, the merges against a naive reference,
parity with Hugging Face `tokenizers`, save/load, and argument errors."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest
import regex

from utils.assets.datasets import load_austen_text
from utils.transformer.tokenizer import GPT2_SPLIT_PATTERN, BPETokenizer

SMALL_TEXT = (
    "The teacher taught the student. The student taught the teacher's teacher!\n"
    "Let's Create Tokens now: tokens, tokenizers, tokenization... aaaa aaa aa a 1234 12 1234\n\n"
    "Café, naïve, 東京, 東京都 and 🙂🙂 emoji.  Tabs\tand   spaces.\n"
) * 3


@pytest.fixture(scope="module")
def austen() -> str:
    return load_austen_text(["Persuasion"])[:200_000]


@pytest.fixture(scope="module")
def trained(austen: str) -> BPETokenizer:
    tok = BPETokenizer()
    tok.train(austen, 600)
    return tok


def _random_unicode(rng: random.Random, length: int) -> str:
    pools = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        " \t\n\r  ",
        "éèàüöñçÅØß",
        "東京都大阪日本語中文한국어",
        "🙂🚀👍🏽👩‍👩‍👧🇫🇷",
        ".,;:!?'\"()-_/\\",
    ]
    out = []
    for _ in range(length):
        if rng.random() < 0.05:
            out.append(chr(rng.randint(0x20, 0x2FFFF)))  # anything, surrogates excluded below
        else:
            out.append(rng.choice(rng.choice(pools)))
    return "".join(c for c in out if not 0xD800 <= ord(c) <= 0xDFFF)


def naive_bpe_merges(text: str, vocab_size: int) -> list[tuple[tuple[int, int], int]]:
    """The textbook algorithm: recount every pair of every chunk occurrence before each merge."""
    chunks = [list(chunk.encode("utf-8")) for chunk in regex.findall(GPT2_SPLIT_PATTERN, text)]
    merges = []
    for new_id in range(256, vocab_size):
        counts: Counter[tuple[int, int]] = Counter()
        for chunk in chunks:
            counts.update(itertools.pairwise(chunk))
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))  # most frequent, ties to the smallest pair
        merges.append((best, new_id))
        for i, chunk in enumerate(chunks):
            merged, j = [], 0
            while j < len(chunk):
                if j + 1 < len(chunk) and (chunk[j], chunk[j + 1]) == best:
                    merged.append(new_id)
                    j += 2
                else:
                    merged.append(chunk[j])
                    j += 1
            chunks[i] = merged
    return merges


def test_round_trip_random_unicode(trained: BPETokenizer) -> None:
    rng = random.Random(0)
    for length in [0, 1, 2, 5, 20, 100, 500] * 5:
        text = _random_unicode(rng, length)
        ids = trained.encode(text)
        assert trained.decode(ids) == text, repr(text)
        assert all(0 <= i < trained.vocab_size for i in ids)


def test_round_trip_austen_and_compression(trained: BPETokenizer, austen: str) -> None:
    ids = trained.encode(austen)
    assert trained.decode(ids) == austen
    assert len(ids) < len(austen.encode("utf-8")) / 2, "600 tokens should more than halve the length"
    assert "".join(trained.tokens("The teacher taught")) == "The teacher taught"


def test_merges_match_naive_reference() -> None:
    tok = BPETokenizer()
    tok.train(SMALL_TEXT, 330)
    assert tok.merges == naive_bpe_merges(SMALL_TEXT, 330)
    assert len(tok.merge_counts) == len(tok.merges) and tok.merge_counts[0] >= tok.merge_counts[-1]


def test_merges_match_naive_reference_on_austen_slice(austen: str) -> None:
    text = austen[:20_000]
    tok = BPETokenizer()
    tok.train(text, 400)
    assert tok.merges == naive_bpe_merges(text, 400)


def test_vocab_and_merges_are_consistent(trained: BPETokenizer) -> None:
    assert trained.vocab_size == 600 == len(trained) == 256 + len(trained.merges)
    for (a, b), new_id in trained.merges:
        assert trained.vocab[new_id] == trained.vocab[a] + trained.vocab[b]
    assert len(set(trained.vocab.values())) == trained.vocab_size, "every token is a distinct byte string"


def test_training_stops_when_no_pair_is_left() -> None:
    tok = BPETokenizer()
    tok.train("ab ab", 1000)
    assert tok.vocab_size < 1000 and tok.decode(tok.encode("ab ab abc")) == "ab ab abc"
    tok.train("", 300)
    assert tok.vocab_size == 256 and tok.encode("") == []


def test_truncated_equals_training_to_a_smaller_size(trained: BPETokenizer, austen: str) -> None:
    small = BPETokenizer()
    small.train(austen, 300)
    assert trained.truncated(300).merges == small.merges
    assert trained.truncated(300).encode(SMALL_TEXT) == small.encode(SMALL_TEXT)


def test_save_load_gives_identical_encodings(trained: BPETokenizer, tmp_path) -> None:
    path = trained.save(tmp_path / "bpe.json")
    loaded = BPETokenizer.load(path)
    assert loaded.merges == trained.merges and loaded.vocab == trained.vocab
    assert loaded.merge_counts == trained.merge_counts
    for text in [SMALL_TEXT, "Let's Create Tokens now", "🙂 東京"]:
        ids = trained.encode(text)
        assert loaded.encode(text) == ids and loaded.decode(ids) == text


def test_parity_with_hf_tokenizers(austen: str) -> None:
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import decoders, models, pre_tokenizers, trainers

    vocab_size = 1000
    ours = BPETokenizer()
    ours.train(austen, vocab_size)
    hf = tokenizers.Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    hf.train_from_iterator([austen], trainer)
    assert hf.get_vocab_size() == vocab_size

    rng = random.Random(1)
    samples = [austen[-30_000:], SMALL_TEXT, *(_random_unicode(rng, 200) for _ in range(10))]
    for text in samples:
        assert ours.decode(ours.encode(text)) == text
        assert hf.decode(hf.encode(text).ids) == text
    held_out = load_austen_text(["Emma"])[:50_000]
    n_words = len(held_out.split())
    ours_tpw = len(ours.encode(held_out)) / n_words
    hf_tpw = len(hf.encode(held_out).ids) / n_words
    assert 1.0 < ours_tpw < 2.5 and 1.0 < hf_tpw < 2.5
    assert 0.8 < ours_tpw / hf_tpw < 1.25, (ours_tpw, hf_tpw)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"text": "abc", "vocab_size": 255}, ValueError, "vocab_size"),
        ({"text": "abc", "vocab_size": 300.0}, TypeError, "vocab_size"),
        ({"text": "abc", "vocab_size": True}, TypeError, "vocab_size"),
    ],
)
def test_train_rejects_bad_arguments(kwargs: dict, error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        BPETokenizer().train(**kwargs)


def test_truncated_and_load_reject_bad_arguments(trained: BPETokenizer, tmp_path) -> None:
    with pytest.raises(ValueError, match="vocab_size"):
        trained.truncated(10_000)
    with pytest.raises(FileNotFoundError, match="path"):
        BPETokenizer.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}', encoding="utf-8")
    with pytest.raises(ValueError, match="path"):
        BPETokenizer.load(bad)
