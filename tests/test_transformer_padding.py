"""utils.transformer.padding: the padding side is restored, and encode_texts pads on the right to the longest text."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from utils.assets.models import load_encoder
from utils.transformer.padding import encode_texts, padding_side

TEXTS = ["a joyless, plodding mess.", "warm, funny and beautifully acted.", "meh", "one of the best films of the year"]


@pytest.fixture(scope="module")
def encoder_classifier() -> Iterator[tuple[Any, Any]]:
    yield load_encoder(device="cpu")


def test_encode_texts_pads_right_to_the_longest(encoder_classifier: tuple[Any, Any]) -> None:
    _, tokenizer = encoder_classifier
    ids = encode_texts(tokenizer, TEXTS, max_length=64)
    lengths = (ids != tokenizer.pad_token_id).sum(dim=1)
    assert ids.shape[1] == lengths.max() and (ids[:, 0] == tokenizer.cls_token_id).all()
    assert encode_texts(tokenizer, TEXTS, max_length=4).shape == (4, 4)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"texts": "one string", "max_length": 8}, TypeError, "`texts`"),
        ({"texts": [], "max_length": 8}, ValueError, "`texts`"),
        ({"texts": ["a"], "max_length": 1}, ValueError, "`max_length`"),
    ],
)
def test_encode_texts_rejects_bad_arguments(
    encoder_classifier: tuple[Any, Any], kwargs: dict[str, Any], error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        encode_texts(encoder_classifier[1], **kwargs)


def test_padding_side_is_restored_even_after_an_error() -> None:
    tokenizer = SimpleNamespace(padding_side="right")
    with pytest.raises(RuntimeError), padding_side(tokenizer, "left"):
        assert tokenizer.padding_side == "left"
        raise RuntimeError("boom")
    assert tokenizer.padding_side == "right"
    with pytest.raises(ValueError, match="`side` must be one of"), padding_side(tokenizer, "middle"):
        pass
