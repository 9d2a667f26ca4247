"""utils.gpt (transformer blocks, GPTConfig, GPT) and utils.llama (LlamaDecoder against transformers' SmolLM2)."""

from __future__ import annotations

import pytest
import torch

from utils import GPT, DecoderBlock, EncoderBlock, GPTConfig, LlamaDecoder, load_chat_model


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
    with pytest.raises(ValueError, match="memory"):
        cross(x)
    with pytest.raises(ValueError, match="memory"):
        decoder(x, memory)


def test_gpt_shapes_and_causality() -> None:
    model = _model()
    ids = torch.randint(0, 50, (3, 10), generator=torch.Generator().manual_seed(1))
    logits = model(ids)
    assert logits.shape == (3, 10, 50)
    changed = ids.clone()
    changed[:, 6] = (changed[:, 6] + 1) % 50
    new = model(changed)
    assert torch.allclose(logits[:, :6], new[:, :6], atol=1e-6)  # earlier positions do not see the change
    assert not torch.allclose(logits[:, 6:], new[:, 6:], atol=1e-6)
    assert model(ids[:, :1]).shape == (3, 1, 50)
    assert model(torch.zeros(1, 16, dtype=torch.long)).shape == (1, 16, 50)


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
        loss = torch.nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 2.0
    assert losses[-1] < 0.1 * losses[0]
    prompt = torch.tensor([[chars.index(c) for c in "hello "]])
    out = model.generate(prompt, 11, temperature=0)
    assert "".join(chars[i] for i in out[0]) == "hello transformer"


def test_generate_is_reproducible_with_a_seeded_generator() -> None:
    model = _model()
    prompt = torch.tensor([[1, 2, 3]])
    first = model.generate(prompt, 20, temperature=1.0, top_k=10, generator=torch.Generator().manual_seed(7))
    second = model.generate(prompt, 20, temperature=1.0, top_k=10, generator=torch.Generator().manual_seed(7))
    assert first.shape == (1, 23)
    assert torch.equal(first, second)
    assert torch.equal(first[:, :3], prompt)
    greedy = model.generate(prompt, 5, temperature=0)
    assert torch.equal(greedy, model.generate(prompt, 5, temperature=0))
    # past the context length, generation keeps going on the last context_length tokens
    assert model.generate(prompt, 20, temperature=0).shape == (1, 23)
    top1 = model.generate(prompt, 5, top_k=1, generator=torch.Generator().manual_seed(3))
    assert torch.equal(top1, greedy)


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
    with pytest.raises(TypeError, match="ids"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="ids"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="ids"):
        model(torch.full((1, 4), 50))
    with pytest.raises(TypeError, match="ids"):
        model([[1, 2]])
    with pytest.raises(TypeError, match="config"):
        GPT({"vocab_size": 5})
    prompt = torch.tensor([[1]])
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(prompt, -1)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(prompt, 1, temperature=-0.5)
    with pytest.raises(ValueError, match="top_k"):
        model.generate(prompt, 1, top_k=0)
    with pytest.raises(TypeError, match="generator"):
        model.generate(prompt, 1, generator=0)


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
        got = ours(ids)
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() < 1e-3
    assert torch.equal(got[0, -1].argmax(), expected[0, -1].argmax())


def test_llama_decoder_config_and_errors(smollm2) -> None:
    hf_model, _, ours = smollm2
    c = ours.config
    assert (c.n_layers, c.n_heads, c.n_kv_heads, c.d_model) == (30, 9, 3, 576)
    assert c.rms_norm_eps == pytest.approx(hf_model.config.rms_norm_eps)
    assert ours.lm_head.weight is ours.embed.weight
    assert ours.num_parameters() == sum(p.numel() for p in hf_model.parameters())
    with pytest.raises(TypeError, match="hf_model"):
        LlamaDecoder.from_hf(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="ids"):
        ours(torch.zeros(1, 3))
