"""utils.transformer.blocks and .gpt (transformer blocks, GPTConfig, GPT: the model protocol, causality, parameter
count, training, padding) and .llama (LlamaDecoder against transformers' SmolLM2)."""

from __future__ import annotations

import pytest
import torch

from utils.assets.models import load_chat_model
from utils.generation.decoding import greedy_decode, sample_decode
from utils.transformer.blocks import DecoderBlock, EncoderBlock
from utils.transformer.gpt import GPT, GPTConfig
from utils.transformer.llama import LlamaDecoder
from utils.transformer.outputs import CausalLMOutput


def _config(**overrides) -> GPTConfig:
    sizes = {"vocab_size": 50, "context_length": 16, "d_model": 32, "n_heads": 4, "n_layers": 2}
    return GPTConfig(**{**sizes, **overrides})


def _model(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    return GPT(_config(**overrides)).eval()


def test_blocks_keep_the_shape_and_decoder_is_causal() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 7, 32)
    encoder, decoder = EncoderBlock(32, 4).eval(), DecoderBlock(32, 4).eval()
    assert encoder(x).shape == decoder(x).shape == x.shape
    changed = x.clone()
    changed[:, -1] = torch.randn(2, 32)  # a change at the last position
    assert torch.allclose(decoder(x)[:, :-1], decoder(changed)[:, :-1], atol=1e-6)
    assert not torch.allclose(encoder(x)[:, :-1], encoder(changed)[:, :-1], atol=1e-6)
    cross = DecoderBlock(32, 4, cross_attention=True).eval()
    memory = torch.randn(2, 5, 32)
    assert cross(x, memory).shape == x.shape


def test_gpt_shapes_and_causality() -> None:
    model = _model()
    ids = torch.randint(0, 50, (3, 10), generator=torch.Generator().manual_seed(1))
    out = model(ids)
    assert isinstance(out, CausalLMOutput) and out.past_key_values is None
    logits = out.logits
    assert logits.shape == (3, 10, 50)
    changed = ids.clone()
    changed[:, 6] = (changed[:, 6] + 1) % 50
    new = model(input_ids=changed).logits
    assert torch.allclose(logits[:, :6], new[:, :6], atol=1e-6)  # earlier positions do not see the change
    assert not torch.allclose(logits[:, 6:], new[:, 6:], atol=1e-6)
    assert model(ids[:, :1]).logits.shape == (3, 1, 50)
    assert model(torch.zeros(1, 16, dtype=torch.long)).logits.shape == (1, 16, 50)


def test_gpt_padding_mask_and_positions_match_the_unpadded_rows() -> None:
    """Left padding with an attention mask and shifted positions gives each row the logits it has alone."""
    model = _model()
    short, long = torch.tensor([[5, 6, 7]]), torch.tensor([[1, 2, 3, 4, 5]])
    ids = torch.tensor([[0, 0, 5, 6, 7], [1, 2, 3, 4, 5]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        padded = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
        torch.testing.assert_close(padded[0, 2:], model(short).logits[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(padded[1], model(long).logits[0], atol=1e-5, rtol=0)
    assert not padded.isnan().any()


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("tie", [True, False])
def test_parameter_count_formula(bias: bool, tie: bool) -> None:
    config = _config(bias=bias, tie_weights=tie, n_layers=3, d_model=48, n_heads=6)
    model = GPT(config)
    assert model.num_parameters() == GPT.count_parameters(config)
    d, n = config.d_model, config.n_layers
    per_block = 12 * d * d + (13 * d if bias else 2 * d)
    embeddings = (config.vocab_size + config.context_length) * d
    assert model.num_parameters(exclude_embeddings=True) == n * per_block + (2 * d if bias else d) + (
        0 if tie else config.vocab_size * d
    )
    assert model.num_parameters() - model.num_parameters(exclude_embeddings=True) == embeddings
    assert (model.lm_head.weight is model.tok_emb.weight) == tie


def test_tiny_gpt_overfits_a_repeated_string() -> None:
    torch.manual_seed(0)
    text = "hello transformer! " * 4
    chars = sorted(set(text))
    data = torch.tensor([chars.index(c) for c in text])
    model = GPT(GPTConfig(vocab_size=len(chars), context_length=32, d_model=32, n_heads=4, n_layers=2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    x, y = data[:32].unsqueeze(0), data[1:33].unsqueeze(0)
    losses = []
    for _ in range(100):
        loss = torch.nn.functional.cross_entropy(model(x).logits.flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 2.0
    assert losses[-1] < 0.1 * losses[0]
    prompt = torch.tensor([[chars.index(c) for c in "hello "]])
    out = greedy_decode(model, prompt, 11)
    assert "".join(chars[i] for i in out[0]) == "hello transformer"


def test_sampling_from_the_course_gpt_is_reproducible_with_a_seeded_generator() -> None:
    model = _model()
    prompt = torch.tensor([[1, 2, 3]])

    def draw(seed: int, **knobs) -> torch.Tensor:
        return sample_decode(model, prompt, 20, generator=torch.Generator().manual_seed(seed), **knobs)

    first, second = draw(7, temperature=1.0, top_k=10), draw(7, temperature=1.0, top_k=10)
    assert first.shape == (1, 23)
    assert torch.equal(first, second)
    assert torch.equal(first[:, :3], prompt)
    greedy = greedy_decode(model, prompt, 5)
    assert torch.equal(greedy, greedy_decode(model, prompt, 5))
    # past the context length, generation keeps going on the last context_length tokens
    assert greedy_decode(model, prompt, 20).shape == (1, 23)
    assert sample_decode(model, prompt, 20).shape == (1, 23)
    assert torch.equal(draw(3, top_k=1)[:, :8], greedy)


@pytest.mark.parametrize(
    ("overrides", "error", "name"),
    [
        ({"vocab_size": 0}, ValueError, "vocab_size"),
        ({"context_length": 2.5}, TypeError, "context_length"),
        ({"d_model": 30}, ValueError, "n_heads"),
        ({"n_layers": -1}, ValueError, "n_layers"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"bias": "yes"}, TypeError, "bias"),
    ],
)
def test_config_errors_name_the_field(overrides: dict, error: type[Exception], name: str) -> None:
    with pytest.raises(error, match=name):
        _config(**overrides)


def test_gpt_rejects_bad_inputs() -> None:
    model = _model()
    with pytest.raises(ValueError, match="context_length"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(TypeError, match="input_ids"):
        model(torch.zeros(1, 4))
    with pytest.raises(TypeError, match="input_ids"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="ids"):
        model(torch.full((1, 4), 50))
    with pytest.raises(TypeError, match="ids"):
        model([[1, 2]])
    with pytest.raises(TypeError, match="config"):
        GPT({"vocab_size": 5})
    with pytest.raises(ValueError, match="past_key_values"):
        model(torch.zeros(1, 4, dtype=torch.long), past_key_values=object())
    prompt = torch.tensor([[1]])
    with pytest.raises(ValueError, match="max_new_tokens"):
        greedy_decode(model, prompt, -1)
    with pytest.raises(ValueError, match="temperature"):
        sample_decode(model, prompt, 1, temperature=-0.5)
    with pytest.raises(ValueError, match="top_k"):
        sample_decode(model, prompt, 1, top_k=0)
    with pytest.raises(ValueError, match="top_p"):
        sample_decode(model, prompt, 1, top_p=1.5)


# --------------------------------------------------------------------------- LlamaDecoder vs transformers


@pytest.fixture(scope="module")
def smollm2():
    model, tokenizer = load_chat_model(device="cpu")
    return model, tokenizer, LlamaDecoder.from_hf(model)


PROMPTS = ["The capital of France is", "def fibonacci(n):\n    return", "Elizabeth Bennet smiled, and"]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_llama_decoder_matches_transformers(smollm2, prompt: str) -> None:
    hf_model, tokenizer, ours = smollm2
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        expected = hf_model(ids).logits
        got = ours(ids).logits
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() < 1e-3
    assert torch.equal(got[0, -1].argmax(), expected[0, -1].argmax())


def test_llama_decoder_config_and_errors(smollm2) -> None:
    hf_model, _, ours = smollm2
    c = ours.config
    assert (c.n_layers, c.n_heads, c.n_kv_heads, c.d_model) == (30, 9, 3, 576)
    assert c.rms_norm_eps == pytest.approx(hf_model.config.rms_norm_eps)
    assert ours.lm_head.weight is ours.model.embed_tokens.weight
    # transformers' names, so from_hf is a state-dict load and LoRA targets are the same on both models
    assert ours.state_dict().keys() == hf_model.state_dict().keys()
    assert {n for n, _ in ours.named_modules()} >= {"model.layers.0.self_attn.q_proj", "model.layers.29.mlp.down_proj"}
    assert ours.num_parameters() == sum(p.numel() for p in hf_model.parameters())
    with pytest.raises(TypeError, match="hf_model"):
        LlamaDecoder.from_hf(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="ids"):
        ours(torch.zeros(1, 3))


def test_llama_decoder_pads_and_decodes_like_transformers(smollm2) -> None:
    """The protocol on the from-scratch Llama: a left-padded batch through greedy_decode gives generate's tokens."""
    hf_model, tokenizer, ours = smollm2
    tokenizer.padding_side = "left"
    batch = tokenizer(PROMPTS[:2], return_tensors="pt", padding=True)
    tokenizer.padding_side = "right"
    ours_ids = greedy_decode(ours, batch.input_ids, 6, eos_token_id=2, attention_mask=batch.attention_mask)
    with torch.no_grad():
        hf_ids = hf_model.generate(**batch, max_new_tokens=6, do_sample=False, pad_token_id=2)
    assert torch.equal(ours_ids, hf_ids)
