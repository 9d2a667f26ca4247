"""utils.alignment.reward: ranked completions to pairs, the Bradley-Terry loss (equal to TRL's RewardTrainer loss on
the same batch), the reward model (score = forward, padding ignored), training, the TRL bridge, and the cached
course reward model."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import torch
from tiny_models import tiny_bert_config
from transformers import BertModel

from utils.alignment import reward
from utils.alignment.reward import (
    REWARD_RECIPE,
    PreferenceCollator,
    RewardModel,
    RewardRecipe,
    as_sequence_classifier,
    bradley_terry_loss,
    load_reward_model,
    pairwise_accuracy,
    ranked_pairs,
    reward_loss,
    reward_model_dir,
    reward_model_info,
    save_reward_model,
    score_pairs,
    tokenize_preferences,
    train_reward_model,
)

# Not the course's data: short made-up reviews, some long enough to be cut at max_length.
ROWS = [
    {"prompt": "Review Up.", "chosen": "A warm, witty film with a terrific cast.", "rejected": "Dull."},
    {
        "prompt": "Review Jaws.",
        "chosen": "Gripping from start to finish.",
        "rejected": "The plot drags and the jokes fall flat every time.",
    },
    {
        "prompt": "Review Heat.",
        "chosen": "Lovely.",
        "rejected": "An incoherent mess that wastes its actors, its budget and our evening.",
    },
    {"prompt": "Review Alien.", "chosen": "Smart, tender and very funny; " * 6, "rejected": "Not worth a rental."},
]
PROMPTS = [r["prompt"] for r in ROWS]


@pytest.fixture(scope="module")
def tokenizer(encoder_tokenizer: Any) -> Any:
    """This module's tokenizer is MiniLM's (conftest's `tokenizer` is the chat model's)."""
    return encoder_tokenizer


def tiny_reward_model(tokenizer: Any, *, seed: int = 0, max_length: int = 20, with_prompt: bool = True) -> RewardModel:
    """A 2-layer, 16-d random BERT with MiniLM's vocabulary and a reward head, in eval mode, seeded."""
    torch.manual_seed(seed)
    model = BertModel(tiny_bert_config(tokenizer.vocab_size))
    return RewardModel(model, tokenizer, max_length=max_length, with_prompt=with_prompt).eval()


def trl_trainer(model: RewardModel, rows: list[dict[str, str]], tmp_path: Any, **settings: Any) -> Any:
    from trl import RewardConfig, RewardTrainer

    args = RewardConfig(
        output_dir=str(tmp_path / "trl"),
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,  # TRL turns it on by default
        report_to="none",
        save_strategy="no",
        seed=0,
        **settings,
    )
    dataset = tokenize_preferences(rows, model.tokenizer, max_length=model.max_length, with_prompt=model.with_prompt)
    return RewardTrainer(
        model=as_sequence_classifier(model), args=args, train_dataset=dataset, processing_class=model.tokenizer
    )


# --- pairs and the loss -------------------------------------------------------------------------------------


def test_ranked_pairs_give_k_choose_2_pairs_best_first() -> None:
    assert ranked_pairs(["a", "b", "c", "d"]) == [
        ("a", "b"),
        ("a", "c"),
        ("a", "d"),
        ("b", "c"),
        ("b", "d"),
        ("c", "d"),
    ]
    for k in range(2, 7):
        assert len(ranked_pairs([str(i) for i in range(k)])) == k * (k - 1) // 2
    with pytest.raises(TypeError, match="ranked"):
        ranked_pairs("abc")
    with pytest.raises(ValueError, match="at least two"):
        ranked_pairs(["only one"])
    with pytest.raises(ValueError, match="twice"):
        ranked_pairs(["a", "b", "a"])


def test_bradley_terry_loss_by_hand() -> None:
    zeros = torch.zeros(3)
    torch.testing.assert_close(bradley_terry_loss(zeros, zeros), torch.log(torch.tensor(2.0)))
    chosen, rejected = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 0.0])
    expected = (torch.log1p(torch.exp(torch.tensor(-1.5))) + torch.log1p(torch.exp(torch.tensor(1.0)))) / 2
    torch.testing.assert_close(bradley_terry_loss(chosen, rejected), expected)
    # only differences matter, and a huge margin gives a finite, tiny loss
    torch.testing.assert_close(bradley_terry_loss(chosen + 7, rejected + 7), expected)
    assert 0 <= bradley_terry_loss(torch.tensor([500.0]), torch.tensor([-500.0])) < 1e-6
    assert torch.isfinite(bradley_terry_loss(torch.tensor([-500.0]), torch.tensor([500.0])))


@pytest.mark.parametrize("with_prompt", [True, False])
def test_bradley_terry_loss_equals_trl_reward_trainer(tokenizer: Any, tmp_path, with_prompt: bool) -> None:
    """TRL 1.16 computes its loss in `RewardTrainer.compute_loss`: call it on the same batch and the same model."""
    from trl.trainer.reward_trainer import DataCollatorForPreference

    model = tiny_reward_model(tokenizer, seed=3, with_prompt=with_prompt)
    trainer = trl_trainer(model, ROWS, tmp_path, max_steps=1, per_device_train_batch_size=2)
    dataset = tokenize_preferences(ROWS, tokenizer, max_length=model.max_length, with_prompt=with_prompt)
    theirs_batch = DataCollatorForPreference(pad_token_id=tokenizer.pad_token_id)(list(dataset))
    ours_batch = PreferenceCollator(tokenizer, max_length=model.max_length, with_prompt=with_prompt)(ROWS)
    assert set(ours_batch) == {"input_ids", "attention_mask"}  # no token_type_ids in either path
    texts = [r["chosen"] for r in ROWS] + [r["rejected"] for r in ROWS]
    assert torch.equal(ours_batch["input_ids"], model.encode(texts, prompts=PROMPTS * 2)["input_ids"])
    for key in ("input_ids", "attention_mask"):  # the same tokens, padding and layout (chosen first)
        assert torch.equal(ours_batch[key], theirs_batch[key]), key
    trainer.model.eval()
    with torch.no_grad():
        theirs = trainer.compute_loss(trainer.model, dict(theirs_batch))
        ours, n_pairs = reward_loss(model, ours_batch)
        chosen, rejected = model(**ours_batch).chunk(2)
    assert n_pairs == len(ROWS)
    assert abs(ours.item() - theirs.item()) < 1e-5
    assert abs(bradley_terry_loss(chosen, rejected).item() - theirs.item()) < 1e-5
    # TRL's accuracy metric is our pairwise accuracy on the same batch
    assert trainer._metrics["eval"]["accuracy"][-1] == pytest.approx(pairwise_accuracy(chosen, rejected).mean().item())


def test_pairwise_accuracy_counts_pairs_ranked_right() -> None:
    got = pairwise_accuracy(torch.tensor([1.0, 0.0, 2.0, 5.0]), torch.tensor([0.0, 1.0, 2.0, -5.0]))
    assert got.tolist() == [1.0, 0.0, 0.0, 1.0]  # a tie is not a win


# --- the reward model ---------------------------------------------------------------------------------------


def test_score_equals_forward_and_ignores_padding(tokenizer: Any) -> None:
    model = tiny_reward_model(tokenizer)
    texts = [r["chosen"] for r in ROWS] + [r["rejected"] for r in ROWS]
    prompts = PROMPTS * 2
    batch = model.encode(texts, prompts=prompts)
    assert batch["input_ids"].shape[1] == model.max_length  # the long review is cut
    with torch.no_grad():
        forward = model(**batch)
    scores = model.score(texts, prompts=prompts)
    assert scores.shape == (len(texts),) and scores.dtype == torch.float32 and scores.device.type == "cpu"
    torch.testing.assert_close(scores, forward)
    # one text at a time (no padding at all) gives the same rewards: the mean pool skips padding
    torch.testing.assert_close(model.score(texts, prompts=prompts, batch_size=1), scores, atol=1e-5, rtol=1e-5)
    model.train()
    model.score(texts[:2], prompts=prompts[:2])
    assert model.training, "score restores the training mode"
    assert model.score([], prompts=[]).shape == (0,)
    pairs = score_pairs(model, ROWS)
    torch.testing.assert_close(pairs, scores.view(2, -1))


def test_the_prompt_is_read_and_never_cut(tokenizer: Any) -> None:
    model = tiny_reward_model(tokenizer)
    long_review = ROWS[3]["chosen"]
    ids = model.encode([long_review], prompts=["Review Alien."])["input_ids"][0].tolist()
    prompt_ids = tokenizer("Review Alien.")["input_ids"]  # [CLS] review alien . [SEP]
    assert ids[: len(prompt_ids)] == prompt_ids and len(ids) == model.max_length and ids[-1] == tokenizer.sep_token_id
    assert ids.count(tokenizer.sep_token_id) == 2  # [CLS] prompt [SEP] review (cut) [SEP]
    under_own, under_other = model.score([long_review] * 2, prompts=["Review Alien.", "Review Up."])
    assert under_own != under_other, "the same review under another prompt is another input"
    # a model without the prompt scores the review alone and ignores prompts
    alone = tiny_reward_model(tokenizer, with_prompt=False)
    torch.testing.assert_close(alone.score([long_review], prompts=["Review Up."]), alone.score([long_review]))
    assert alone.encode([long_review])["input_ids"][0, 1] != prompt_ids[1]


def test_reward_model_refuses_bad_arguments(tokenizer: Any) -> None:
    model = tiny_reward_model(tokenizer)
    with pytest.raises(TypeError, match="wrap it"):
        model.score("one review", prompts=["a prompt"])
    with pytest.raises(ValueError, match="pass `prompts`"):
        model.score(["a review"])
    with pytest.raises(ValueError, match="pass `prompts`"):
        model.encode(["a review"])
    with pytest.raises(ValueError, match="one prompt per text"):
        model.score(["a review", "another"], prompts=["one prompt"])
    with pytest.raises(TypeError, match="prompts"):
        model.score(["a review"], prompts="one prompt")
    with pytest.raises(ValueError, match="both"):
        RewardModel(model.encoder)
    with pytest.raises(TypeError, match="with_prompt"):
        RewardModel(model.encoder, tokenizer, with_prompt="yes")


def test_training_lowers_the_loss(tokenizer: Any) -> None:
    model = tiny_reward_model(tokenizer)
    batch = PreferenceCollator(tokenizer, max_length=model.max_length)(ROWS)
    with torch.no_grad():
        before = reward_loss(model, batch)[0].item()
    recipe = RewardRecipe(n_train=4, n_val=4, batch_size=4, steps=30, lr=1e-2, warmup_steps=0, max_length=20)
    # the training rows come from the course data; these made-up rows are only measured
    trained, history = train_reward_model(recipe, model=model, progress=False)
    assert trained is model and not model.training
    assert len(history.train_loss) == 30 and history.items_seen == 30 * 4
    assert history.train_loss[-1] < history.train_loss[0] / 2, "4 pairs, 30 steps at lr 1e-2: it should fit them"
    with torch.no_grad():
        after = reward_loss(model, batch)[0].item()
    assert after != before


def test_trl_trains_the_same_weights(tokenizer: Any, tmp_path) -> None:
    """as_sequence_classifier shares the reward model's weights: TRL's steps change our model."""
    model = tiny_reward_model(tokenizer)
    view = as_sequence_classifier(model)
    assert view.config.num_labels == 1 and view.reward_model is model
    with torch.no_grad():
        encoded = model.encode(["fine"], prompts=["Review Up."])
        torch.testing.assert_close(view(**encoded).logits[:, 0], model.score(["fine"], prompts=["Review Up."]))
    before = model.head.weight.detach().clone()
    trainer = trl_trainer(model, ROWS, tmp_path, max_steps=2, per_device_train_batch_size=2, learning_rate=1e-2)
    trainer.train()
    assert not torch.equal(model.head.weight, before)
    assert trainer.state.global_step == 2


def test_tokenize_preferences_makes_trl_columns(tokenizer: Any) -> None:
    dataset = tokenize_preferences(ROWS, tokenizer, max_length=12)
    assert dataset.column_names == ["chosen_ids", "rejected_ids"] and len(dataset) == len(ROWS)
    assert max(len(ids) for ids in dataset["chosen_ids"]) == 12
    prompt_ids = tokenizer(ROWS[1]["prompt"])["input_ids"]
    assert dataset[1]["rejected_ids"][: len(prompt_ids)] == prompt_ids  # [CLS] prompt [SEP], then the review
    alone = tokenize_preferences(ROWS, tokenizer, max_length=12, with_prompt=False)
    assert alone[1]["rejected_ids"] == tokenizer(ROWS[1]["rejected"], truncation=True, max_length=12)["input_ids"]


# --- data, recipe and the cached model ----------------------------------------------------------------------


def test_recipe_is_checked_and_shrinks() -> None:
    small = REWARD_RECIPE.smoke()
    assert small.steps < REWARD_RECIPE.steps and small.n_train < REWARD_RECIPE.n_train
    assert reward_model_dir(small) != reward_model_dir(REWARD_RECIPE)
    assert reward_model_dir(replace(REWARD_RECIPE)) == reward_model_dir(REWARD_RECIPE)
    with pytest.raises(ValueError, match="steps"):
        RewardRecipe(steps=0)
    with pytest.raises(ValueError, match="warmup_steps"):
        RewardRecipe(steps=4, warmup_steps=5)
    with pytest.raises(TypeError, match="lr"):
        RewardRecipe(lr="fast")
    with pytest.raises(ValueError, match="n_val"):
        RewardRecipe(n_val=0)
    with pytest.raises(TypeError, match="with_prompt"):
        RewardRecipe(with_prompt=1)
    with pytest.raises(TypeError, match="recipe"):
        reward_model_dir({"steps": 3})


def test_load_reward_model_trains_once_then_reads_the_cache(tmp_path, monkeypatch) -> None:
    """The path notebooks 13 and 14 take: a clean cache trains (MiniLM, two tiny steps), the next call loads."""
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path))
    recipe = replace(REWARD_RECIPE.smoke(), n_train=4, n_val=2, batch_size=2, steps=2, max_length=24)
    with pytest.raises(FileNotFoundError, match="notebook 12"):
        load_reward_model(recipe, train_if_missing=False)
    first = load_reward_model(recipe, progress=False)
    folder = reward_model_dir(recipe)
    assert folder.parent == tmp_path and reward.REWARD_NAME in folder.name
    info = reward_model_info(recipe)
    assert info["recipe"]["steps"] == 2 and len(info["history"]["train_loss"]) == 2
    assert info["versions"]["torch"] == torch.__version__

    def no_training(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the cached model should have been loaded, not trained again")

    monkeypatch.setattr(reward, "train_reward_model", no_training)
    again = load_reward_model(recipe, train_if_missing=False)
    texts = [r["chosen"] for r in ROWS]
    torch.testing.assert_close(again.score(texts, prompts=PROMPTS), first.score(texts, prompts=PROMPTS))
    assert not again.training and again.max_length == 24 and again.with_prompt
    with pytest.raises(TypeError, match="train_if_missing"):
        load_reward_model(recipe, train_if_missing="yes")
    with pytest.raises(TypeError, match="recipe"):
        load_reward_model({"steps": 2})
    # saving again replaces the folder in one move
    assert save_reward_model(again, recipe) == folder and reward_model_info(recipe)["history"] == {}
