"""utils.training.prompt_tuning: a from-scratch soft prompt equal to Hugging Face peft's prompt tuning (same
initialisation from a text, same logits, same trainable count), the course's model protocol (logits of the real
tokens only, scoring, cached and padded decoding) and clear errors. On a tiny random Llama."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from peft import PromptTuningConfig, PromptTuningInit, get_peft_model
from tiny_models import tiny_llama as shared_tiny_llama
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from utils.generation.decoding import greedy_decode
from utils.generation.prompting import generate_completions
from utils.generation.scoring import sequence_log_probs
from utils.training.classification import count_trainable
from utils.training.prompt_tuning import SoftPromptModel, init_token_ids, nearest_tokens

# peft reads a deprecated transformers property when it wraps a model
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")

VOCAB = 40
N_VIRTUAL = 5
INIT_TEXT = "w3 w7 w11"


def tiny_llama() -> LlamaForCausalLM:
    return shared_tiny_llama(VOCAB, intermediate_size=48, pad_token_id=0)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A word-level tokenizer ("<pad>", "<unk>", "w2".."w39") saved to a folder, so peft can load it offline."""
    vocab = {"<pad>": 0, "<unk>": 1} | {f"w{i}": i for i in range(2, VOCAB)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    folder = tmp_path_factory.mktemp("tokenizer")
    PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>").save_pretrained(folder)
    return folder


def batch() -> dict[str, torch.Tensor]:
    ids = torch.randint(1, VOCAB, (3, 9), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[2, 6:] = 0  # right padding
    return {"input_ids": ids.masked_fill(mask == 0, 0), "attention_mask": mask}


def test_text_init_and_logits_equal_peft(tokenizer_dir: Path) -> None:
    tokenizer = PreTrainedTokenizerFast.from_pretrained(tokenizer_dir)
    base = tiny_llama()
    ours = SoftPromptModel.from_text(copy.deepcopy(base), tokenizer, INIT_TEXT, N_VIRTUAL)
    config = PromptTuningConfig(
        task_type="CAUSAL_LM",
        num_virtual_tokens=N_VIRTUAL,
        prompt_tuning_init=PromptTuningInit.TEXT,
        prompt_tuning_init_text=INIT_TEXT,
        tokenizer_name_or_path=str(tokenizer_dir),
    )
    peft_model = get_peft_model(base, config).eval()
    assert torch.equal(ours.prompt, peft_model.prompt_encoder["default"].embedding.weight)
    assert init_token_ids(tokenizer, INIT_TEXT, N_VIRTUAL) == [3, 7, 11, 3, 7]
    with torch.no_grad():
        nn_prompt = torch.randn(N_VIRTUAL, 32)  # a "trained" prompt: copy it into both
        ours.prompt.copy_(nn_prompt)
        peft_model.prompt_encoder["default"].embedding.weight.copy_(nn_prompt)
        our_logits = ours(**batch()).logits
        peft_logits = peft_model(**batch()).logits
    assert our_logits.shape == (3, 9, VOCAB)  # the real tokens only
    assert peft_logits.shape == (3, 9 + N_VIRTUAL, VOCAB)
    real = batch()["attention_mask"].bool()
    assert (our_logits - peft_logits[:, N_VIRTUAL:])[real].abs().max() < 1e-5
    assert count_trainable(ours) == peft_model.get_nb_trainable_parameters()[0] == N_VIRTUAL * 32


def test_only_the_prompt_trains_and_changes_the_output() -> None:
    base = tiny_llama()
    model = SoftPromptModel(copy.deepcopy(base), torch.randn(N_VIRTUAL, 32))
    assert count_trainable(model) == N_VIRTUAL * 32
    completion = torch.zeros(3, 9, dtype=torch.long)
    completion[:, 4:] = batch()["attention_mask"][:, 4:]
    scores = sequence_log_probs(model, batch()["input_ids"], batch()["attention_mask"], completion)
    (-scores.total.mean()).backward()
    assert model.prompt.grad.abs().max() > 0
    assert all(p.grad is None for p in model.model.parameters())
    with torch.no_grad():
        assert (model(**batch()).logits - base(**batch()).logits).abs().max() > 1e-3


def test_greedy_decoding_with_cache_and_left_padding() -> None:
    model = SoftPromptModel(tiny_llama(), torch.randn(N_VIRTUAL, 32))
    prompts = [torch.tensor([5, 9, 2, 7]), torch.tensor([3, 8])]
    alone = [greedy_decode(model, p[None], max_new_tokens=6)[0, len(p) :] for p in prompts]
    # without a cache: feed the whole sequence each step and take the argmax
    ids = prompts[0][None]
    with torch.no_grad():
        for _ in range(6):
            ids = torch.cat([ids, model(input_ids=ids).logits[:, -1:].argmax(-1)], dim=1)
    assert torch.equal(ids[0, 4:], alone[0])
    padded = torch.tensor([[5, 9, 2, 7], [0, 0, 3, 8]])
    mask = torch.tensor([[1, 1, 1, 1], [0, 0, 1, 1]])
    together = greedy_decode(model, padded, max_new_tokens=6, attention_mask=mask)[:, 4:]
    assert torch.equal(together[0], alone[0]) and torch.equal(together[1], alone[1])


def test_generate_speaks_transformers_generate_shape(tokenizer_dir: Path) -> None:
    tokenizer = PreTrainedTokenizerFast.from_pretrained(tokenizer_dir)
    model = SoftPromptModel(tiny_llama(), torch.randn(N_VIRTUAL, 32))
    prompts = ["w5 w9 w2 w7", "w3 w8"]
    texts = generate_completions(model, tokenizer, prompts, max_new_tokens=4, batch_size=2)
    for prompt, text in zip(prompts, texts, strict=True):
        ids = torch.tensor([tokenizer(prompt)["input_ids"]])
        expected = greedy_decode(model, ids, max_new_tokens=4, eos_token_id=model.config.eos_token_id)
        assert text == tokenizer.decode(expected[0, ids.shape[1] :], skip_special_tokens=True)
    with pytest.raises(ValueError, match="`do_sample`"):
        model.generate(torch.tensor([[3, 4]]), do_sample=True)


def test_nearest_tokens_of_a_text_init_are_its_tokens(tokenizer_dir: Path) -> None:
    tokenizer = PreTrainedTokenizerFast.from_pretrained(tokenizer_dir)
    model = SoftPromptModel.from_text(tiny_llama(), tokenizer, INIT_TEXT, N_VIRTUAL)
    assert nearest_tokens(model, tokenizer) == ["w3", "w7", "w11", "w3", "w7"]


def test_bad_arguments_raise_clear_errors(tokenizer_dir: Path) -> None:
    tokenizer = PreTrainedTokenizerFast.from_pretrained(tokenizer_dir)
    with pytest.raises(ValueError, match=r"`prompt`.*32"):
        SoftPromptModel(tiny_llama(), torch.randn(N_VIRTUAL, 16))
    with pytest.raises(ValueError, match="`n_virtual_tokens`"):
        init_token_ids(tokenizer, INIT_TEXT, 0)
    with pytest.raises(ValueError, match="`text`"):
        init_token_ids(tokenizer, "", 3)
