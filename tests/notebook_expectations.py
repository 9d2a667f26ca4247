"""What each notebook must record in smoke mode, checked by tests/test_notebooks.py.

A notebook claims results (a loss, an accuracy, a similarity) with `record("name", value)`; the test runs the
notebook in smoke mode, reads the values back and checks them against the entry below that has the notebook's
file name without `.ipynb` ("stem") as key. Every numbered notebook needs an entry: adding a notebook without
one fails its test with a message pointing here.

Each entry maps a recorded name to an expectation, one of:

* `(low, high)`: the value is a number with low <= value <= high (use `None` for an open side);
* a callable `check(value)` or `check(value, records)` returning True when the value is acceptable; `records`
  is the dict of everything the notebook recorded, so one value can be compared with another. Helpers from
  scripts/expectations.py (shared with the full-mode claims of scripts/notebook_claims.py) build readable ones:
  `between(low, high)`, `greater_than("other_name")`, `less_than("other_name")`, `equals(x)`, `one_of(...)`, and
  `all_of(...)` to combine several.

Every name listed must be recorded (a missing one fails); a notebook may record more names than are listed.
Bounds are for smoke mode (tiny sizes, a few steps), so keep them loose: they catch a broken notebook, not a
slightly different number. Example:

    "01-tokenization": {
        "vocab_size": (1000, 100_000),
        "tokens_per_word": (1.0, 3.0),
        "bpe_roundtrip_ok": equals(True),
        "bpe_loss": all_of(between(0.0, 10.0), less_than("unigram_loss")),
    },
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# The rule language lives in scripts/expectations.py, shared with the full-mode claims (scripts/notebook_claims.py).
from scripts.expectations import (
    Expectation,
    Rule,
    all_of,
    between,
    check_table,
    equals,
    greater_than,
    less_than,
    one_of,
)

__all__ = [
    "EXPECTATIONS",
    "Rule",
    "all_of",
    "between",
    "check_records",
    "equals",
    "greater_than",
    "less_than",
    "one_of",
]


EXPECTATIONS: dict[str, dict[str, Expectation]] = {
    # The template (notebooks/_template.ipynb) fits y = 2x + noise (noise variance 0.01) for a few steps.
    "_template": {
        "final_loss": (0.0, 0.05),
        "learned_slope": (1.9, 2.1),
    },
    # Start here: environment check, a first look at an encoder's sentence similarities.
    "00-start-here": {
        # cosine similarity of two related sentences, clearly above that of two unrelated ones
        "encoder_similarity_related": all_of(between(0.3, 1.0), greater_than("encoder_similarity_unrelated", 0.1)),
        "encoder_similarity_unrelated": (-0.3, 0.6),
        "missing_pieces": equals(0),
        "chat_model_params_millions": (134.0, 135.0),  # SmolLM2-135M-Instruct: 134.5M
        "chat_load_seconds": (0.0, 40.0),  # first load converts the GGUF (about 20 s); later loads about 1 s
        "reply_tokens": (1, None),
        "tokens_per_second": (1.0, None),
    },
    # Tokenization: word/char/subword, byte-level BPE from scratch vs HF tokenizers and SentencePiece, real ones.
    "01-tokenization": {
        "word_vocab_size": (1000, 100_000),
        "char_vocab_size": (30, 300),
        "word_oov_count": (1, 11),  # "student", "Create", "Tokens" are not in Austen
        "bpe_vocab_size": (300, 100_000),
        "bpe_roundtrip_ok": equals(True),
        "bpe_tokens_per_word": (1.0, 3.0),
        "hf_tokens_per_word": (1.0, 3.0),
        "bpe_vs_hf_compression": (0.8, 1.25),
        "spm_bpe_tokens_per_word": (1.0, 3.5),
        "spm_unigram_tokens_per_word": (1.0, 3.5),
        "spm_roundtrip_exact": equals(False),  # SentencePiece collapses runs of whitespace
        "smollm2_vocab_size": equals(49152),
        "minilm_vocab_size": equals(30522),
        "tokens_per_word_bytes": all_of(between(3.0, 8.0), greater_than("tokens_per_word_largest_vocab", 1.0)),
        "tokens_per_word_largest_vocab": (1.0, 3.0),
        "train_seconds_ours": (0.0, 30.0),
        "train_seconds_hf": (0.0, 30.0),
        "bpe_train_time_ratio": (0.02, 30.0),
        # stem|ending boundaries of Persuasion words: unigram finds more than BPE even in smoke mode (0.94 vs 0.79)
        "spm_unigram_boundary_found": all_of(between(0.0, 1.0), greater_than("spm_bpe_boundary_found", 0.05)),
        "spm_bpe_boundary_found": (0.0, 1.0),
        "spm_unigram_cuts_on_boundary": all_of(between(0.0, 1.0), greater_than("spm_bpe_cuts_on_boundary")),
        "spm_bpe_cuts_on_boundary": (0.0, 1.0),
        "our_bpe_boundary_found": (0.0, 1.0),
        "our_bpe_cuts_on_boundary": (0.0, 1.0),
        "spm_unigram_pieces_per_word": (1.0, 6.0),
        "spm_bpe_pieces_per_word": (1.0, 6.0),
        "our_bpe_pieces_per_word": (1.0, 6.0),
    },
    # Embeddings and positions: lookup = one-hot product, MiniLM word similarities, sinusoidal properties, RoPE.
    "02-embeddings-and-positional-encoding": {
        "onehot_lookup_max_diff": (0.0, 1e-6),
        "cos_teacher_student": all_of(between(0.3, 1.0), greater_than("cos_teacher_banana", 0.1)),  # 0.66 vs 0.30
        "cos_teacher_banana": (-0.3, 0.6),
        "pca_explained_2d": (0.1, 1.0),
        "pe_loop_max_diff": (0.0, 1e-5),
        "pe_min_pairwise_distance": (0.1, None),  # every position distinct (1.47 for 128 positions, d = 64)
        "pe_rotation_max_error": (0.0, 1e-5),  # PE(pos + k) = M_k PE(pos) up to float32 rounding
        "pe_dot_offset_1": all_of(between(0.5, 1.0), greater_than("pe_dot_far_mean", 0.1)),
        "pe_dot_far_mean": (-1.0, 1.0),
        "minilm_max_positions": equals(512),
        "smollm2_rope_theta": equals(100000.0),
        "rope_vs_transformers_max_diff": (0.0, 1e-5),
        "rope_same_offset_max_spread": (0.0, 1e-4),
        # polysemy: one embedding-table row per word, contextual MiniLM vectors closer within a sense than across
        "polysemy_static_max_diff": equals(0.0),
        "polysemy_bank_same_sense": all_of(between(0.3, 1.0), greater_than("polysemy_bank_other_sense", 0.05)),
        "polysemy_bank_other_sense": (0.0, 1.0),
        "polysemy_bat_same_sense": greater_than("polysemy_bat_other_sense"),
        "polysemy_bat_other_sense": Rule(
            "bat's sense gap is smaller than bank's (the notebook says so)",
            lambda v, r: (
                r["polysemy_bat_same_sense"] - v < r["polysemy_bank_same_sense"] - r["polysemy_bank_other_sense"]
            ),
        ),
        # rows of MiniLM's embedding table (not mode-dependent): related 0.28, unrelated 0.05, a random table 0.00
        "row_cos_related": all_of(between(0.1, 1.0), greater_than("row_cos_unrelated", 0.1)),
        "row_cos_unrelated": (-0.2, 0.2),
        "row_cos_random_related": (-0.1, 0.1),
        "output_cos_related": greater_than("output_cos_unrelated", 0.1),  # the encoder's outputs: 0.53 vs 0.29
        "output_cos_unrelated": (-0.3, 0.6),
        "pca_school_separated": equals(True),
        "taught_nearest_is_teacher": equals(True),
    },
    # Self-attention: hand-made toy attention, softmax saturation, causal mask, multi-head vs torch, real maps.
    "03-self-attention": {
        "toy_taught_on_nouns": (0.7, 0.8),  # hand-made weights: 16 / 21 = 0.76
        "sdpa_max_diff": (0.0, 1e-5),
        "mha_max_diff": (0.0, 1e-5),
        "saturation_max_weight_unscaled": all_of(between(0.8, 1.0), greater_than("saturation_max_weight_scaled", 0.3)),
        "saturation_max_weight_scaled": (0.1, 0.5),
        "saturation_score_std_unscaled": (15.0, 35.0),  # about sqrt(512) = 22.6 in smoke mode
        "saturation_score_std_scaled": (0.8, 1.2),
        "causal_future_weight": equals(0),
        "permutation_max_diff": (0.0, 1e-5),
        "the_gap_with_positions": (0.01, None),
        "encoder_layers": equals(6),
        "encoder_heads": equals(12),
        "chat_future_attention": equals(0),
        "rnn_over_attention_mid": (1.0, None),  # n = 64 in smoke mode: the loop is several times slower
        "rnn_over_attention_longest": (0.0, None),
        # recall a symbol k tokens back (smoke: k = 2 and 24): both perfect near, the RNN at chance (1/8) far away
        "recall_rnn_shortest": (0.9, 1.0),
        "recall_attention_shortest": (0.9, 1.0),
        "recall_rnn_longest": (0.0, 0.5),
        "recall_attention_longest": all_of(between(0.5, 1.0), greater_than("recall_rnn_longest", 0.2)),
        "recall_rnn_loss_start": (1.8, 2.4),  # about ln 8 = 2.08
        "recall_attention_loss_end": less_than("recall_attention_loss_start", 0.5),
        # random two-head toy: head vs head differs about as much as init vs init (0.013 and 0.013)
        "toy_head_vs_head_distance": (0.001, 0.1),
        "toy_init_vs_init_distance": (0.001, 0.1),
        # real heads against uniform attention: MiniLM specials 0.12-0.88 (uniform 0.20), neighbours up to 0.87
        # (uniform 0.175); SmolLM2's first token 0.62 (uniform causal 0.25), 191 of 270 heads above one half
        "encoder_special_share_max": all_of(between(0.0, 1.0), greater_than("encoder_special_share_uniform", 0.3)),
        "encoder_special_share_min": (0.0, 1.0),
        "encoder_special_share_uniform": (0.19, 0.21),  # 2 / 10 tokens
        "encoder_neighbour_share_max": all_of(between(0.0, 1.0), greater_than("encoder_neighbour_share_uniform", 0.3)),
        "encoder_neighbour_share_uniform": (0.1, 0.25),
        "chat_first_token_share": all_of(between(0.0, 1.0), greater_than("chat_first_token_uniform", 0.1)),
        "chat_first_token_uniform": (0.1, 0.5),
        "chat_sink_heads": (0, 270),
    },
    # Transformer architectures: blocks, MLM / causal LM / span corruption on Austen, parameter counts, SmolLM2
    # weights in the from-scratch utils.LlamaDecoder.
    "04-transformer-architectures": {
        "decoder_block_future_change": (0.0, 1e-6),  # causal: earlier outputs ignore a change at the end
        "encoder_block_future_change": (1e-3, None),
        "n_sentences": (1000, 10_000),
        "mlm_loss_start": (6.0, 9.0),  # about ln(2000) = 7.6 at random init
        "mlm_loss_end": all_of(between(0.0, 8.0), less_than("mlm_loss_start", 0.3)),
        "clm_top1_prob": (0.2, 1.0),  # " Paris" after "The capital of France is"
        "clm_top10_mass": (0.5, 1.0),
        "t5_loss_start": (5.0, 9.0),
        "t5_loss_end": all_of(between(0.0, 8.0), less_than("t5_loss_start", 0.5)),
        "gpt2_small_params_m": (124.0, 125.0),
        "gpt2_xl_rule_ratio": (0.9, 1.0),
        "llama_max_logit_diff": (0.0, 1e-3),
        "greedy_tokens_agree": equals(True),
        # held-out sentences against the unigram baseline (smoke: 15 steps, too few to beat it; the full run must)
        "mlm_heldout_accuracy": (0.0, 1.0),
        "mlm_unigram_accuracy": (0.03, 0.2),  # always "." : 0.084
        "mlm_heldout_loss": (0.0, 9.0),
        "mlm_unigram_loss": (4.0, 8.0),  # 5.71
        "clm_loss_start": (6.0, 9.0),  # about ln(2000) = 7.6 at random init
        "clm_loss_end": all_of(between(0.0, 8.0), less_than("clm_loss_start", 0.3)),
        "clm_heldout_loss": (0.0, 9.0),
        "clm_unigram_loss": (4.0, 8.0),
    },
    # Decoding strategies: SmolLM2's next-token distribution, greedy / beam / sampling from scratch vs generate,
    # temperature / top-k / top-p reshaping, repetition (distinct-n, repeated 4-grams) per method.
    "05-decoding-strategies": {
        "top1_prob": (0.1, 0.8),  # " a" after "The cat is": 0.34
        "top10_mass": (0.3, 1.0),
        "next_token_entropy": (0.5, 8.0),
        "greedy_matches_generate": equals(True),
        "beam_matches_generate": equals(True),
        "sample_matches_generate": equals(True),  # same seed, same filters, same order
        "greedy_logprob_per_token": (-5.0, 0.0),
        "beam_logprob_per_token": (-5.0, 0.0),
        "top1_prob_t05": greater_than("top1_prob"),  # T < 1 sharpens
        "top1_prob_t15": less_than("top1_prob"),  # T > 1 flattens
        "top_p_09_kept": all_of(between(2, 49152), greater_than("top_p_05_kept")),
        "top_p_05_kept": (1, 49152),
        "greedy_logprob": all_of(between(-15.0, 0.0), greater_than("sampling_logprob")),
        "beam_logprob": all_of(between(-15.0, 0.0), greater_than("sampling_logprob")),  # search beats sampling
        "sampling_logprob": (-15.0, 0.0),
        "top_k_logprob": (-15.0, 0.0),
        "top_p_logprob": (-15.0, 0.0),
        # the beam-search picture: two beams find a likelier two-word continuation than greedy search
        "beam_tree_best_prob": all_of(between(0.0, 1.0), greater_than("beam_tree_greedy_prob")),
        "beam_tree_greedy_prob": (0.0, 1.0),
    },
    # Prompting: chat template, context window, zero/few-shot sentiment (label log-likelihood, parsed generation),
    # example order, ROUGE for a summarisation prompt, calibration exercise.
    "06-prompting-and-in-context-learning": {
        "template_tokens": (20, 120),
        "context_window": equals(8192),
        "long_prompt_tokens": (1000, None),
        "forward_ms_longest": (0.0, None),
        "few_shot_k": (1, 8),
        "few_shot_accuracy_mean": greater_than("worst_few_shot_draw", -1e-9),  # a mean is >= its worst draw
        "few_shot_accuracy_std": (0.0, 0.5),
        "order_positive_rate_gap": (-1.0, 1.0),
        # accuracy counts an unparsed answer as wrong: it cannot exceed the parsed share
        "generation_zero_shot_accuracy": Rule(
            "<= 1 - generation_zero_shot_unparsed", lambda v, r: v <= 1 - r["generation_zero_shot_unparsed"] + 1e-9
        ),
        # ROUGE-2 and ROUGE-L never exceed ROUGE-1: matched bigrams and the LCS are both bounded by matched unigrams
        "prompt_rouge2": less_than("prompt_rouge1", -1e-9),
        "prompt_rougeL": less_than("prompt_rouge1", -1e-9),
        "lead_rouge2": less_than("lead_rouge1", -1e-9),
        "lead_rougeL": less_than("lead_rouge1", -1e-9),
        "few_minus_zero_shot": (-1.0, 1.0),
        "best_few_shot_k": one_of(1, 2, 4, 8),
        "best_few_shot_accuracy_mean": greater_than("few_shot_accuracy_mean", -1e-9),  # the best k is at least k = 1
        "best_few_shot_accuracy_std": (0.0, 0.5),
        "zero_shot_accuracy_se": (0.0, 0.5),  # sqrt(p (1 - p) / n) <= 0.5 / sqrt(n)
        "zero_shot_label_bias": Rule(
            "|zero_shot_positive_rate - test_positive_rate|",
            lambda v, r: abs(v - abs(r["zero_shot_positive_rate"] - r["test_positive_rate"])) < 1e-9,
        ),
        "best_few_minus_zero_low": Rule(  # the paired interval's low end is below its mean, the accuracy gap
            "<= best_few_shot_accuracy_mean - zero_shot_accuracy",
            lambda v, r: v <= r["best_few_shot_accuracy_mean"] - r["zero_shot_accuracy"] + 1e-9,
        ),
        "tokens_per_shot": (5.0, 300.0),  # one "Classify this review: ...\nSentiment: label" block
        "generation_two_shot_unparsed": Rule(
            "<= 1 - generation_two_shot_accuracy", lambda v, r: v <= 1 - r["generation_two_shot_accuracy"] + 1e-9
        ),
        "generation_gain_two_shot": Rule(
            "two-shot minus zero-shot generation accuracy",
            lambda v, r: abs(v - (r["generation_two_shot_accuracy"] - r["generation_zero_shot_accuracy"])) < 1e-9,
        ),
        # the raw zero-shot prompt of the template comparison is section 3's zero-shot prompt
        "raw_zero_shot_accuracy": Rule("== zero_shot_accuracy", lambda v, r: abs(v - r["zero_shot_accuracy"]) < 1e-9),
        "chat_minus_raw_zero_shot_low": Rule(
            "<= chat - raw <= high",
            lambda v, r: (
                v - 1e-9
                <= r["chat_zero_shot_accuracy"] - r["raw_zero_shot_accuracy"]
                <= r["chat_minus_raw_zero_shot_high"] + 1e-9
            ),
        ),
        "chat_minus_raw_two_shot_low": Rule(
            "<= chat - raw <= high",
            lambda v, r: (
                v - 1e-9
                <= r["chat_two_shot_accuracy"] - r["raw_two_shot_accuracy"]
                <= r["chat_minus_raw_two_shot_high"] + 1e-9
            ),
        ),
    },
    # Pretraining a small GPT on Austen: BPE + windows, train_model, curves, samples, checkpoint, 6ND.
    "07-pretraining-a-small-gpt": {
        "vocab_size": (300, 4096),
        "train_tokens": (10_000, None),
        "chars_per_token": (1.5, 6.0),
        "n_params": (10_000, 10_000_000),
        "initial_val_loss": (5.0, 9.0),  # about ln(512) = 6.2 in smoke mode
        "final_val_loss": all_of(between(0.0, 9.0), less_than("initial_val_loss", 0.05)),
        "val_loss_drop": (0.05, None),  # full mode: at least 3 nats
        "val_perplexity": (1.0, 10_000.0),
        "tokens_per_second": (100.0, None),
        "train_seconds": (0.0, 60.0),
        "tokens_seen": (1000, None),
        "val_minus_train_gap": (-2.0, 2.0),
        "real_words_after": greater_than("real_words_before", -1e-9),  # training does not make samples less real
        "reload_max_logit_diff": equals(0.0),
        "our_flops": (1e9, None),
        "gflops_per_second": (0.01, None),
        "gpt3_years_here": (1.0, None),
        # n-gram baselines on the GPT's tokens and validation targets (smoke: 191, 42, 48, 24). How the GPT compares
        # is asserted in the notebook in full mode only (the smoke GPT trains for a second)
        "ngram_unigram_ppl": (10.0, 4096.0),
        "ngram_bigram_ppl": less_than("ngram_unigram_ppl"),
        "ngram_trigram_add_k_ppl": greater_than("ngram_bigram_ppl"),  # add-k: unseen trigrams get too little
        "ngram_trigram_interpolated_ppl": all_of(less_than("ngram_bigram_ppl"), less_than("ngram_trigram_add_k_ppl")),
        "gpt_all_val_ppl": (1.0, 10_000.0),
        "val_trigrams_seen": (0.2, 1.0),
        # split by whether the trigram was seen in training (full mode asserts the GPT wins on unseen ones, the
        # counts on seen ones, and that averaging the two beats both)
        "trigram_ppl_seen_trigrams": less_than("trigram_ppl_unseen_trigrams"),  # smoke: 6.6 vs 215
        "trigram_ppl_unseen_trigrams": (1.0, 100_000.0),
        "gpt_ppl_seen_trigrams": (1.0, 100_000.0),
        "gpt_ppl_unseen_trigrams": (1.0, 100_000.0),
        "mixture_ppl": (1.0, 10_000.0),
        "notebook_seconds": (0.0, 90.0),  # target 60 s; 90 s is the harness limit
    },
    # Fine-tuning for classification: majority / prompt baselines, metrics vs sklearn, linear probe on frozen
    # MiniLM embeddings, full fine-tuning of MiniLM with a new head, all on the same test snippets.
    "08-fine-tuning-for-classification": {
        "probe_vs_sklearn_accuracy_gap": (0.0, 0.1),  # same problem and penalty, two optimisers
        "probe_vs_sklearn_agreement": (0.8, 1.0),
        "probe_vs_sklearn_weight_cosine": (0.9, 1.0),
        "train_step_max_diff": (0.0, 1e-6),  # the step written out is train_model's
        "gpt_head_vs_transformers_max_diff": (0.0, 1e-4),  # the last-token head is AutoModelForSequenceClassification's
        # the film leak is a property of the data, whatever the mode: 0.720 vs 0.578 on the whole splits
        "test_movies_in_train_split": (1.0, 1.0),
        "movie_majority_accuracy_whole_split": greater_than("majority_accuracy_whole_split", 0.1),
        "movie_majority_accuracy": (0.0, 1.0),
        "probe_gain_first_doublings": (-1.0, 1.0),
        "probe_gain_last_doublings": (-1.0, 1.0),
        "finetune_val_loss_start": (0.3, 1.5),  # about ln 2 = 0.69 with an untrained head
        "finetune_val_loss_end": (0.0, 1.5),  # 16 validation snippets in smoke mode: too few to require a fall
        "finetune_train_loss_first_quarter": (0.3, 1.5),
        "finetune_train_loss_last_quarter": all_of(between(0.0, 1.5), less_than("finetune_train_loss_first_quarter")),
        "majority_accuracy": (0.2, 0.8),
        "majority_macro_f1": (0.1, 0.5),  # one class has F1 = 0
        "two_shot_accuracy": greater_than("majority_accuracy"),  # the prompt baseline beats guessing the majority
        "finetuned_errors": (0, 16),
        "gpt_start_agreement_with_zero_shot": (0.95, 1.0),  # the untrained GPT-style classifier is the prompt
        "finetuned_minus_probe": Rule(
            "the paired gain is the accuracy gap",
            lambda v, r: abs(v - (r["finetuned_accuracy"] - r["probe_accuracy"])) < 1e-9,
        ),
        "probe_curve_last": greater_than("probe_curve_first"),  # more labels help the probe even in smoke mode
        # fine-tuning on fewer labels (smoke: 16 snippets, 3 steps; full mode asserts that more labels help)
        "finetune_curve_smallest": (0.0, 1.0),
        "finetune_curve_largest": Rule(
            "the section 5 run's accuracy", lambda v, r: abs(v - r["finetuned_accuracy"]) < 1e-9
        ),
        "finetune_curve_seconds": (0.0, 60.0),
        "probe_at_smallest_curve_size": (0.0, 1.0),
        # the frozen encoder puts opposite verdicts close together, far from another topic (0.60 vs 0.05)
        "cos_brilliant_dull": greater_than("cos_brilliant_unrelated", 0.2),
        "cos_brilliant_plain": greater_than("cos_brilliant_unrelated", 0.2),
        # latency per test snippet: printed and recorded, never compared (a busy machine changes it)
        "zero_shot_ms_per_snippet": (0.0, None),
        "two_shot_ms_per_snippet": (0.0, None),
        "probe_ms_per_snippet": (0.0, None),
        "finetuned_ms_per_snippet": (0.0, None),
        "gpt_ms_per_snippet": (0.0, None),
        "fairness_pairs": (16, None),  # the 16 templated sentences, plus the test snippets with a gendered word
    },
    # Instruction fine-tuning: formats, the response-only loss vs TRL, SFT of SmolLM2 (a few steps in smoke mode),
    # forgetting with and without a multi-task mix, continued pretraining on Austen.
    "09-instruction-fine-tuning": {
        "chat_response_tokens": less_than("chat_prompt_tokens"),  # a definition is shorter than its chat prompt
        "sft_loss_vs_trl": (0.0, 1e-4),
        "sft_val_loss_end": less_than("sft_val_loss_start"),  # even two steps learn the answers' format
        "forgetting": Rule("inside its own interval", lambda v, r: r["forgetting_low"] <= v <= r["forgetting_high"]),
        "response_loss_vs_utils": (0.0, 1e-4),  # the loss written in the notebook is utils' sft_loss
        "masking_gain": Rule(
            "inside its own interval", lambda v, r: r["masking_gain_low"] <= v <= r["masking_gain_high"]
        ),
        "replay_vs_plain": Rule(
            "inside its own interval", lambda v, r: r["replay_vs_plain_low"] <= v <= r["replay_vs_plain_high"]
        ),
        "rouge_l_gain": Rule("after - before", lambda v, r: abs(v - (r["rouge_l_after"] - r["rouge_l_before"])) < 1e-9),
        "austen_ppl_after": less_than("austen_ppl_before"),  # one step on Austen already helps on Austen
    },
    # LoRA and PEFT: LoRA from scratch vs peft, costs vs full fine-tuning, notebook 09's task with LoRA, merging,
    # soft prompts, a rank sweep, two adapters switched on one base model.
    "10-lora-and-peft": {
        "peft_max_abs_diff": (0.0, 1e-5),  # the same weights give the same function
        "utils_max_abs_diff": (0.0, 1e-5),  # the LoRALinear written in the notebook = utils' add_lora
        "lora_trainable": Rule("== peft_trainable", lambda v, r: v == r["peft_trainable"]),
        "lora_trainable_share": (0.0, 0.02),  # r = 8 on q, k, v, o: 0.69%
        "lora_step_seconds": less_than("full_step_seconds"),
        "lora_peak_mib": less_than("full_peak_mib"),
        # full fine-tuning holds at least a gradient and two AdamW moments per weight (12 bytes each)
        "full_peak_mib": Rule(">= 0.9 * full_state_estimate_mib", lambda v, r: v >= 0.9 * r["full_state_estimate_mib"]),
        "lora_val_loss_end": less_than("lora_val_loss_start"),
        # B = 0 at the start: the base model's held-out loss is the LoRA run's validation loss at step 0
        "base_heldout_loss": Rule("== lora_val_loss_start", lambda v, r: abs(v - r["lora_val_loss_start"]) < 1e-4),
        "lora_heldout_loss": all_of(
            less_than("base_heldout_loss"),
            Rule("== lora_val_loss_end (adapter reloaded)", lambda v, r: abs(v - r["lora_val_loss_end"]) < 1e-4),
        ),
        "merge_max_abs_diff": (0.0, 5e-4),  # float32 rounding of W x + B A x vs (W + B A) x
        "peft_merge_max_abs_diff": (0.0, 5e-4),
        "merge_vs_peft_merge_max_abs_diff": (0.0, 1e-5),
        "merge_vs_utils_merge_max_abs_diff": (0.0, 1e-5),
        "soft_vs_utils_max_abs_diff": (0.0, 1e-5),  # the soft-prompt forward written in the notebook
        "soft_vs_peft_max_abs_diff": (0.0, 1e-4),
        "rslora_scaling_r16": equals(4.0),  # alpha / sqrt(r) = 16 / 4
        "peft_rslora_scaling_r16": equals(4.0),
        # section 8: ranks holding 90% of the energy of the full fine-tune's update, within the matrices' sizes
        "delta_rank90_q_median": (1, 576),
        "delta_rank90_v_median": (1, 192),
        "delta_share_r8_q_mean": (0.0, 1.0),
        "random_share_r8_q": (0.0, 0.2),  # a random 576 x 576 matrix: rank 8 keeps a few percent
        "soft_trainable": equals(16 * 576),  # 16 virtual tokens x SmolLM2's 576-d embeddings
        "peft_soft_trainable": Rule("== soft_trainable", lambda v, r: v == r["soft_trainable"]),
        "soft_val_loss_end": less_than("soft_val_loss_start"),
        "soft_heldout_loss": Rule("== soft_val_loss_end", lambda v, r: abs(v - r["soft_val_loss_end"]) < 1e-4),
        # a paired mean difference is the difference of the means
        "lora_minus_full_rougeL": Rule(
            "== lora_rougeL - full_rougeL", lambda v, r: abs(v - (r["lora_rougeL"] - r["full_rougeL"])) < 1e-9
        ),
        "sweep_loss_r1": less_than("sweep_base_loss"),
        "sweep_loss_r4": less_than("sweep_base_loss"),
        "sweep_rslora_loss_r4": less_than("sweep_base_loss"),  # the rank sweep under alpha / sqrt(r)
        "sweep_spread_rslora": (0.0, None),
        "loss_definition_adapter_on_definition": all_of(
            less_than("sweep_base_loss"),
            Rule("== sweep_loss_r4 (same adapter)", lambda v, r: abs(v - r["sweep_loss_r4"]) < 1e-4),
        ),
        "loss_example_adapter_on_example": all_of(
            less_than("example_base_loss"), less_than("loss_definition_adapter_on_example")
        ),
        # each adapter beats the other one on its own task (2.62 vs 3.06 and 2.64 vs 3.10 after two smoke steps)
        "loss_example_adapter_on_definition": greater_than("loss_definition_adapter_on_definition"),
        # the adapter file holds A and B only: its share of the model's bytes is its share of the parameters
        "adapter_share_of_model": Rule(
            "within 5% of sweep_r4_trainable_share",
            lambda v, r: abs(v / r["sweep_r4_trainable_share"] - 1) < 0.05,
        ),
        "notebook_seconds": (0.0, 90.0),  # target 60 s; 90 s is the harness limit
    },
    # Evaluating LLMs: ROUGE / BLEU from scratch vs rouge_score / sacrebleu, perplexity by hand, a definition
    # multiple-choice benchmark on every course model with Wilson intervals, LLM-as-judge position bias, bias
    # minimal pairs, adversarial edits of a sentiment probe.
    "11-evaluating-llms": {
        "rouge_max_diff": (0.0, 1e-6),
        "bleu_max_diff": (0.0, 1e-6),
        # matched bigrams and the LCS are both bounded by matched unigrams
        "rouge2_lead": less_than("rouge1_lead", -1e-9),
        "rougeL_lead": less_than("rouge1_lead", -1e-9),
        "bleu_reference_itself": (100.0 - 1e-9, 100.0 + 1e-9),
        # "the cat is on" vs "the cat is on the mat": every precision 100, BP = exp(1 - 6/4)
        "bleu_toy_brevity_penalty": Rule("== exp(-0.5)", lambda v, r: abs(v - math.exp(-0.5)) < 1e-9),
        "bleu_toy_score": Rule("== 100 * BP", lambda v, r: abs(v - 100 * r["bleu_toy_brevity_penalty"]) < 1e-6),
        # on the whole test split: a learned dictionary beats copying, which beats fluent English with the wrong meaning
        "bleu_word_by_word": greater_than("bleu_copy_source"),
        "bleu_copy_source": greater_than("bleu_wrong_reference"),
        "perplexity_hand_vs_loss_diff": (0.0, 1e-4),
        "perplexity_utils_vs_loss_rel_diff": (0.0, 1e-4),
        # bits per character: SmolLM2 beats the Austen GPT everywhere; the GPT is worse out of its domain
        "gpt_debian_bpc": all_of(
            greater_than("gpt_austen_bpc"),
            greater_than("smollm2_debian_bpc"),
            Rule(
                "loses more than SmolLM2 out of its domain",
                lambda v, r: v - r["gpt_austen_bpc"] > r["smollm2_debian_bpc"] - r["smollm2_austen_bpc"],
            ),
        ),
        "gpt_austen_bpc": greater_than("smollm2_austen_bpc"),
        "smollm2_debian_bpc": greater_than("smollm2_austen_bpc"),
        "leaderboard_rows": equals(7),  # chance, two trivial baselines, the Austen GPT, SmolLM2 x 3
        "mc_smollm2": greater_than("mc_chance"),  # the shipped chat model knows some definitions
        "mc_smollm2_low": Rule(
            "<= mc_smollm2 <= mc_smollm2_high", lambda v, r: v <= r["mc_smollm2"] <= r["mc_smollm2_high"]
        ),
        # the share of "A" verdicts follows from the two accuracies: (acc_A + 1 - acc_B) / 2
        "judge_says_a_rate": all_of(
            Rule(
                "== (acc_right_first + 1 - acc_right_second) / 2",
                lambda v, r: (
                    abs(v - (r["judge_accuracy_right_first"] + 1 - r["judge_accuracy_right_second"]) / 2) < 1e-9
                ),
            ),
            between(0.5, 1.0),  # SmolLM2-135M as a judge prefers "A"
        ),
        # occupations stereotyped as female are likelier after "woman" than the male-stereotyped ones
        "bias_gap_female_stereotyped": greater_than("bias_gap_male_stereotyped"),
        # a t-interval over the 3 smoke templates: it holds the mean (its sign is a full-mode claim)
        "stereotype_gap_low": less_than("stereotype_gap", -1e-9),
        "stereotype_gap_high": greater_than("stereotype_gap", -1e-9),
        "stereotype_n_templates": equals(3),
        "stereotype_gap_permutation_p": (0.0, 1.0),
        "negated_template_accuracy": less_than("template_accuracy"),  # the embedding probe misses negation
        # BLEU is case-sensitive: the paraphrase writes "computer", the reference "Computer"
        "paraphrase_sentence_bleu_lowercase": greater_than("paraphrase_sentence_bleu"),
        # question 0 scored by hand = multiple_choice_accuracy = transformers' loss with the question masked
        "mc_hand_max_diff": (0.0, 1e-4),
        "mc_hand_vs_transformers_diff": (0.0, 1e-4),
        "mc_letter_smollm2": (0.0, 1.0),
        "mc_letter_smollm2_low": Rule(
            "<= mc_letter_smollm2 <= mc_letter_smollm2_high",
            lambda v, r: v <= r["mc_letter_smollm2"] <= r["mc_letter_smollm2_high"],
        ),
        "mc_letter_minus_choice": (-1.0, 1.0),
        # the data files are the same in both modes: only the asked words are disjoint
        "wordnet_shared_words": equals(0),
        "wordnet_synonym_rows_naming_test_word": equals(67),
        "wordnet_test_definitions_in_train": equals(4),
        "judge_kappa": (-1.0, 1.0),
        "judge_consistent_accuracy": Rule(
            "None (no consistent pair) or in [0, 1]", lambda v, r: v is None or 0 <= v <= 1
        ),
        "duel_pairs": equals(1),
        "duel_consistency": (0.0, 1.0),
        "notebook_seconds": (0.0, 90.0),
    },
    # Reward models (filled by notebook 12's author).
    "12-reward-models": {
        "pairs_from_4": equals(6),  # a ranking of k completions gives k(k-1)/2 pairs
        "bt_loss_at_tie": (0.6931, 0.6932),  # log 2
        "accuracy_before": (0.0, 1.0),
        # the smoke run trains 6 tiny steps: only the bookkeeping is checked, the learning in full mode (asserts)
        "accuracy_after": (0.0, 1.0),
        "accuracy_after_low": all_of(between(0.0, 1.0), less_than("accuracy_after", -1e-9)),
        "accuracy_after_high": all_of(between(0.0, 1.0), greater_than("accuracy_after", -1e-9)),
        "train_loss_first": (0.5, 0.9),  # about log 2 at the start: the rewards of both sides are close
        "val_loss_first": (0.5, 0.9),
        "val_loss_last": (0.0, 1.0),
        "chosen_mean_reward": (-20.0, 20.0),
        "rejected_mean_reward": (-20.0, 20.0),
        "trl_loss_difference": (0.0, 1e-5),  # TRL's RewardTrainer.compute_loss = our Bradley-Terry loss
        "trl_accuracy": (0.0, 1.0),
        "trl_minus_ours_accuracy": (-1.0, 1.0),
        "hacks_above_median_share": (0.0, 1.0),
        "hacks_above_p90_share": all_of(between(0.0, 1.0), less_than("hacks_above_median_share", -1e-9)),
        "brilliant_repeated_best_reward": (-20.0, 20.0),
        "brilliant_repeated_best_share": (0.0, 1.0),
        # even after a few smoke steps the head has learned that "boring" is worse than "brilliant"
        "boring_repeated_best_reward": less_than("brilliant_repeated_best_reward"),
        "cache_difference": (0.0, 1e-5),  # load_reward_model gives back the model the notebook trained
        "forward_max_diff": (0.0, 1e-5),  # the reward head written in cells = RewardModel.forward
        "longest_pair_tokens": (10, 96),
        "val_accuracy_before": (0.0, 1.0),
        "val_accuracy_after": (0.0, 1.0),
        "accuracy_after_pair_low": all_of(between(0.0, 1.0), less_than("accuracy_after", -1e-9)),
        "accuracy_after_pair_high": all_of(between(0.0, 1.0), greater_than("accuracy_after", -1e-9)),
        "cluster_width_ratio": (0.2, 5.0),
        "accuracy_gain_low": (-1.0, 1.0),
        "trl_minus_ours_low": less_than("trl_minus_ours_accuracy", -1e-9),
        "trl_minus_ours_high": greater_than("trl_minus_ours_accuracy", -1e-9),
        "reward_spread_ratio": (0.0, None),
        "calibration_error": (0.0, 1.0),
        "mean_confidence": (0.5, 1.0),
        "prompt_effect": (-20.0, 20.0),
        "prompt_effect_low": less_than("prompt_effect", -1e-9),
        "prompt_effect_high": greater_than("prompt_effect", -1e-9),
        "prompt_effect_share_of_margin": (0.0, None),
        "hard_prompt_effect": (-20.0, 20.0),
        "hard_prompt_effect_low": less_than("hard_prompt_effect", -1e-9),
        "hard_accuracy": (0.0, 1.0),
        "hard_minus_ours_accuracy": (-1.0, 1.0),
        "hard_minus_ours_low": less_than("hard_minus_ours_accuracy", -1e-9),
        "hard_minus_ours_high": greater_than("hard_minus_ours_accuracy", -1e-9),
        "judge_accuracy": (0.0, 1.0),
        "judge_accuracy_low": less_than("judge_accuracy", -1e-9),
        "judge_agreement": (0.0, 1.0),
        "judge_agreement_low": less_than("judge_agreement", -1e-9),
        "judge_agreement_high": greater_than("judge_agreement", -1e-9),
        "judge_rank_correlation": (-1.0, 1.0),
        "judge_training_overlap": (0, 48),
        "judge_unseen_accuracy": (0.0, 1.0),
        "judge_hacks_above_median_share": (0.0, 1.0),
        "notebook_seconds": (0.0, 90.0),
    },
    # RLHF with PPO (filled by notebook 13's author).
    "13-rlhf-with-ppo": {
        # LoRA r = 8 on q_proj and v_proj of SmolLM2: 460,800 of 134.5M parameters
        "trainable_share": (0.0034, 0.0035),
        # the smoke run trains a tiny reward model and two-iteration runs: the learning is claimed in full mode
        # (scripts/notebook_claims.py), here only the bookkeeping
        "reward_pair_accuracy": (0.0, 1.0),
        "judge_pair_accuracy": (0.0, 1.0),
        "cut_off_share": (0.0, 1.0),
        "before_reward_mean": (-20.0, 20.0),
        "before_judge_mean": (0.0, 1.0),  # P(positive)
        "before_ended_share": (0.0, 1.0),
        "before_kl_mean": equals(0.0),  # a fresh adapter (B = 0) is the reference exactly
        "gae_max_abs_error": (0.0, 1e-6),
        "iteration_by_hand_max_diff": equals(0.0),  # the cells of section 7 are train_ppo's first iteration
        "ppo_kl_first": equals(0.0),  # the first rollout samples from the reference itself
        "ppo_score_first_half": (-20.0, 20.0),
        "ppo_kl_last": (-10.0, 10.0),
        "ppo_clip_fraction_max": (0.0, 1.0),
        "ppo_approx_kl_max": (0.0, None),
        "ppo_value_loss_first": (0.0, None),
        "negative_kl_token_share": (0.0, 1.0),
        "after_reward_mean": (-20.0, 20.0),
        "after_judge_mean": (0.0, 1.0),
        "after_kl_mean": (-10.0, 10.0),
        "judge_gain": (-1.0, 1.0),
        "judge_gain_low": Rule("<= judge_gain", lambda v, r: v <= r["judge_gain"] + 1e-12),
        "reward_gain": Rule(
            "== after_reward_mean - before_reward_mean",
            lambda v, r: abs(v - (r["after_reward_mean"] - r["before_reward_mean"])) < 1e-9,
        ),
        "reward_gain_low": Rule("<= reward_gain", lambda v, r: v <= r["reward_gain"] + 1e-12),
        "sweep_loose_kl": (-10.0, 10.0),
        "sweep_default_kl": Rule("== after_kl_mean", lambda v, r: v == r["after_kl_mean"]),  # the main run
        "sweep_loose_judge": (0.0, 1.0),
        "sweep_loose_reward": (-20.0, 20.0),
        **{
            f"{run}_{key}": bounds
            for run in ("ppo", "grpo")  # RLOO and the three switches run in full mode only
            for key, bounds in (("kl", (-10.0, 10.0)), ("judge_gain_low", (-1.0, 1.0)), ("ended", (0.0, 1.0)))
        },
        "grpo_reward_first": (-20.0, 20.0),
        "grpo_log_max_abs_diff": (0.0, 1e-4),  # TRL logged the mean and std of our reward function's scores
        "notebook_seconds": (0.0, 90.0),
    },
    # Direct preference optimization (filled by notebook 14's author).
    "14-direct-preference-optimization": {
        "optimal_policy_max_diff": (0.0, 1e-3),  # pi_ref exp(r / beta) / Z vs gradient ascent on the toy objective
        # the batch loss written in the notebook == utils' DPOLossFn == TRL DPOTrainer.compute_loss (sigmoid)
        "dpo_vs_trl_abs_diff": (0.0, 1e-5),
        "dpo_vs_utils_abs_diff": (0.0, 1e-6),
        "check_loss": Rule(
            "!= log 2 (the check's policy and reference differ)", lambda v, r: abs(v - math.log(2)) > 1e-7
        ),
        # logits_to_keep: the check batch computes logits from its first answer token on (smoke: 54 of 96)
        "check_logits_kept_share": Rule("in (0, 1): no logits at prompt positions", lambda v, r: 0.0 < v < 1.0),
        "ipo_vs_trl_abs_diff": (0.0, 1e-5),  # IPO (TRL's length-normalised form) == TRL's loss_type=["ipo"]
        "ipo_check_loss": (0.0, None),
        # B = 0: a fresh adapter is its own reference, so the loss starts at log 2 and every margin at 0
        "fresh_adapter_loss": Rule("== log 2", lambda v, r: abs(v - math.log(2)) < 1e-5),
        "dpo_val_loss_start": Rule("== log 2", lambda v, r: abs(v - math.log(2)) < 1e-5),
        "heldout_accuracy_before": equals(0.5),  # every margin 0: ties count 0.5
        "heldout_margin_before": equals(0.0),
        "dpo_val_loss_end": (0.0, 2.0),
        "likelihood_accuracy": (0.0, 1.0),
        "likelihood_accuracy_low": Rule("<= likelihood_accuracy", lambda v, r: v <= r["likelihood_accuracy"]),
        "train_chosen_logratio_late": (-100.0, 100.0),
        "train_rejected_logratio_late": (-100.0, 100.0),
        "train_steps_both_down_share": (0.0, 1.0),
        "heldout_accuracy_after": (0.0, 1.0),
        "heldout_accuracy_after_low": Rule("<= heldout_accuracy_after", lambda v, r: v <= r["heldout_accuracy_after"]),
        "heldout_accuracy_after_high": Rule(">= heldout_accuracy_after", lambda v, r: v >= r["heldout_accuracy_after"]),
        "heldout_movies": (2, None),  # the clusters of the bootstrap (smoke: 6 pairs of 6 movies)
        "rm_accuracy": (0.0, 1.0),
        "rm_accuracy_low": Rule("<= rm_accuracy", lambda v, r: v <= r["rm_accuracy"]),
        # a paired mean difference is the difference of the means (same pairs, ties 0.5 for every ranker)
        "dpo_minus_likelihood": Rule(
            "== heldout_accuracy_after - likelihood_accuracy",
            lambda v, r: abs(v - (r["heldout_accuracy_after"] - r["likelihood_accuracy"])) < 1e-6,
        ),
        "dpo_minus_likelihood_low": Rule("<= dpo_minus_likelihood", lambda v, r: v <= r["dpo_minus_likelihood"]),
        "dpo_minus_likelihood_high": Rule(">= dpo_minus_likelihood", lambda v, r: v >= r["dpo_minus_likelihood"]),
        "dpo_minus_rm": Rule(
            "== heldout_accuracy_after - rm_accuracy",
            lambda v, r: abs(v - (r["heldout_accuracy_after"] - r["rm_accuracy"])) < 1e-6,
        ),
        "dpo_minus_rm_low": Rule("<= dpo_minus_rm", lambda v, r: v <= r["dpo_minus_rm"]),
        "dpo_minus_rm_high": Rule(">= dpo_minus_rm", lambda v, r: v >= r["dpo_minus_rm"]),
        "heldout_margin_after": (-5.0, 5.0),
        "heldout_loss_after": (0.0, 2.0),
        "heldout_chosen_fell_share": (0.0, 1.0),
        "heldout_rejected_fell_share": (0.0, 1.0),
        "heldout_both_fell_share": Rule(
            "<= both single shares",
            lambda v, r: 0.0 <= v <= min(r["heldout_chosen_fell_share"], r["heldout_rejected_fell_share"]),
        ),
        "heldout_chosen_shift": (-100.0, 100.0),
        "heldout_rejected_shift": (-100.0, 100.0),
        "sweep_betas": equals([0.1]),  # smoke (the main run only); full (0.05, 0.1, 0.5)
        # the main recipe's point is the adapter trained above, not a second run
        "sweep_accuracy": Rule(
            "in [0, 1]; at RECIPE.beta == heldout_accuracy_after",
            lambda v, r: (
                all(0 <= a <= 1 for a in v) and abs(v[r["sweep_betas"].index(0.1)] - r["heldout_accuracy_after"]) < 1e-9
            ),
        ),
        "sweep_accuracy_low": Rule(
            "<= sweep_accuracy", lambda v, r: all(lo <= a for lo, a in zip(v, r["sweep_accuracy"], strict=True))
        ),
        "sweep_chosen_shift": Rule(
            "at RECIPE.beta == heldout_chosen_shift",
            lambda v, r: abs(v[r["sweep_betas"].index(0.1)] - r["heldout_chosen_shift"]) < 1e-4,
        ),
        "sweep_rejected_shift": Rule(
            "at RECIPE.beta == heldout_rejected_shift",
            lambda v, r: abs(v[r["sweep_betas"].index(0.1)] - r["heldout_rejected_shift"]) < 1e-4,
        ),
        "dpo_trainable": equals(460_800),  # r = 8 on q_proj and v_proj, as the PPO policy
        "dpo_train_seconds": (0.0, 60.0),
        "dpo_peak_mib": (0.0, None),
        "ppo_peak_mib": (0.0, None),
        "ppo_train_seconds": (0.0, None),
        # the reward-KL chart: every run judged on the same prompts and samples (smoke: PPO at two betas, GRPO's
        # one iteration, DPO at one beta = 4 points)
        "frontier_points": (4, None),
        "frontier_ppo_beta_0_kl": (-10.0, 10.0),
        "frontier_ppo_beta_0_judge_gain_low": (-1.0, 1.0),
        "frontier_dpo_beta_01_kl": (-10.0, 10.0),
        "frontier_dpo_beta_01_judge_gain_low": (-1.0, 1.0),
        "dpo_code_lines": less_than("ppo_code_lines"),
        "ppo_code_lines": (100, None),
        "notebook_seconds": (0.0, 90.0),  # target 60 s; 90 s is the harness limit
    },
    # Pipelines and the Gradio Q&A app (filled by notebook 15's author). The smoke run trains both small models for
    # a few steps only: their learning is asserted in full mode, here the bookkeeping and the exact checks.
    "15-pipelines-and-a-gradio-app": {
        "generation_pipeline_matches_chat_reply": equals(True),  # greedy pipeline = chat_reply
        "sentiment_val_loss_start": (0.5, 0.9),  # about log 2 with a fresh head
        "sentiment_val_loss_end": (0.0, 1.0),
        "sentiment_majority_accuracy": (0.0, 1.0),
        "sentiment_untrained_accuracy": (0.0, 1.0),
        "sentiment_accuracy": (0.0, 1.0),
        "sentiment_accuracy_subset": (0.0, 1.0),
        "sentiment_pipeline_agreement": equals(1.0),  # the pipeline = predict_classes on every snippet
        "feature_extraction_max_diff": (0.0, 1e-5),  # pipeline + mean pooling = embed_sentences
        "tagger_test_with_unseen_names": equals(0.5),  # half the test sentences hold a held-out name
        "tagger_val_loss_start": (0.5, 2.0),  # about log 3 with a fresh head
        "tagger_val_loss_end": less_than("tagger_val_loss_start"),
        "dictionary_precision": (0.0, 1.0),
        "dictionary_recall": (0.0, 1.0),
        "dictionary_f1": (0.0, 1.0),
        "dictionary_unseen_recall": equals(0.0),  # a lookup cannot find a name it was not given
        "tagger_precision": (0.0, 1.0),
        "tagger_recall": (0.0, 1.0),
        "tagger_f1": (0.0, 1.0),
        "tagger_unseen_recall": (0.0, 1.0),
        "tagger_false_positives": (0, None),
        "ner_pipeline_entities_simple": (0, None),
        "ner_pipeline_entities_first": (0, None),
        "retrieval_hit_rate": (0.0, 1.0),
        "streamed_equals_generate": equals(True),  # the streamed answer is the greedy generate answer
        "stream_updates": (2, None),  # it arrived in pieces
        "first_text_seconds": (0.0, None),
        "refused_inputs": equals(5),  # every bad input got a message
        "logged_answers": (1, None),
        "thumbs_up_rate": (0.0, 1.0),
        "median_answer_seconds": (0.0, None),
        "versions_seen": equals(2),  # one model version and one index version in the log
        "notebook_seconds": (0.0, 90.0),
    },
    # Inference and scale-out (filled by notebook 17's author). Wall-clock comparisons (speed-ups, tokens/s, DDP
    # times) are recorded and printed, never asserted: a loaded machine can invert them.
    "16-retrieval-and-tool-use": {
        "summary_word_overlap": (0.0, 1.0),
        "embedding_dim": equals(384),
        "n_documents": (50, 3000),
        "faiss_same_topk": (0.99, 1.0),  # IndexFlatIP = the torch matrix product + topk (up to float ties)
        "faiss_max_score_diff": (0.0, 1e-4),
        # smoke mode: a small index, recall is easy; the full run asserts MiniLM > BM25 at recall@5 in the notebook
        "dense_recall_at_1": all_of(between(0.0, 1.0), less_than("dense_recall_at_5", -1e-9)),
        "dense_recall_at_5": all_of(between(0.3, 1.0), less_than("dense_recall_at_10", -1e-9)),
        "dense_recall_at_10": (0.3, 1.0),
        "bm25_recall_at_1": all_of(between(0.0, 1.0), less_than("bm25_recall_at_5", -1e-9)),
        "bm25_recall_at_5": all_of(between(0.0, 1.0), less_than("bm25_recall_at_10", -1e-9)),
        "bm25_recall_at_10": (0.0, 1.0),
        "dense_mrr": (0.0, 1.0),
        "bm25_mrr": (0.0, 1.0),
        "closed_book_accuracy": (0.0, 1.0),
        "rag_accuracy": (0.0, 1.0),
        "rag_retrieved": (0.0, 1.0),
        "rag_cites_gold": (0.0, 1.0),
        "schema_agrees_with_jsonschema": equals(True),
        "tool_accuracy_without_tools": (0.0, 1.0),
        "tool_accuracy_few_shot": (0.0, 1.0),
        "tool_accuracy_guided": (0.0, 1.0),
        "definition_rouge_without_tools": (0.0, 1.0),
        "definition_rouge_guided": (0.0, 1.0),
        "valid_call_rate_zero_shot": (0.0, 1.0),
        "valid_call_rate_few_shot": (0.0, 1.0),
        "valid_call_rate_guided": (0.0, 1.0),
        "malformed_turns": (0, None),
        "notebook_seconds": (0.0, 90.0),
    },
    "17-inference-and-scale-out": {
        "kv_same_tokens": equals(True),  # the cache never changes a token
        "kv_longest_new_tokens": (1, 512),
        "kv_speedup_longest": (0.0, None),
        "smol_cached_equals_generate": equals(True),  # our cached LlamaDecoder = transformers generate on SmolLM2
        "smol_cache_speedup": (0.0, None),
        "smol_cache_bytes": (1, None),
        "batch_throughput_gain": (0.0, None),
        "padding_share_batch_8": (0.0, 1.0),
        "padding_share_batch_8_sorted": all_of(between(0.0, 1.0), less_than("padding_share_batch_8")),
        "int8_weight_error": (0.0, 0.02),  # per-channel int8 keeps the matrix to about a percent
        "int4_row_weight_error": (0.05, 0.5),
        "int4_group_weight_error": all_of(between(0.0, 0.5), less_than("int4_row_weight_error")),
        "size_mb_fp32": (530.0, 545.0),  # 134.5M fp32 parameters
        "size_mb_int8": all_of(between(150.0, 300.0), less_than("size_mb_fp32")),
        "size_mb_int4": less_than("size_mb_int8"),
        "size_mb_torchao_int8": (150.0, 300.0),
        "size_mb_dynamic_int8": (150.0, 300.0),  # int8 layers and an int8 copy of the head, fp32 embedding
        "perplexity_fp32": (1.0, 1000.0),
        # weight-only int8 keeps the perplexity (within 5%), dynamic activation quantisation does not
        "perplexity_int8": Rule("within 5% of fp32", lambda v, r: abs(v / r["perplexity_fp32"] - 1) < 0.05),
        "perplexity_torchao_int8": Rule("within 5% of fp32", lambda v, r: abs(v / r["perplexity_fp32"] - 1) < 0.05),
        "perplexity_int4": greater_than("perplexity_int8"),
        "perplexity_dynamic_int8": greater_than("perplexity_int4"),
        "tokens_per_s_fp32": (0.0, None),
        "tokens_per_s_int8": (0.0, None),
        "tokens_per_s_int4": (0.0, None),
        "tokens_per_s_torchao_int8": (0.0, None),
        "tokens_per_s_dynamic_int8": (0.0, None),
        "activation_outlier_ratio_max": (10.0, None),  # a few channels far above the median
        "median_channel_levels_min": (0.0, 20.0),
        "compile_ran": equals(False),  # smoke mode skips torch.compile
        "ddp_allreduce_result": equals([3.0, 30.0]),  # [1, 10] + [2, 20]
        "ddp_loss_first": (4.0, 7.0),  # about log 256 = 5.5 for random bytes
        "ddp_loss_1_process": less_than("ddp_loss_first"),
        "ddp_loss_2_processes": less_than("ddp_loss_first"),
        "ddp_final_loss_difference": (0.0, 1e-4),
        "ddp_seconds_1_process": (0.0, None),
        "ddp_seconds_2_processes": (0.0, None),
        "memory_7b_train_gib": (104.0, 104.5),  # 16 bytes per parameter
        "memory_7b_zero3_gib": (13.0, 13.1),
        "memory_gpt_predicted_mib": (1.0, None),
        "memory_gpt_measured_mib": Rule(
            "within 0.5x-4x of the prediction", lambda v, r: 0.5 <= v / r["memory_gpt_predicted_mib"] <= 4.0
        ),
        "fingerprint_reproducible": equals(True),
        "ab_latency_difference": (-10.0, 10.0),
        "ab_nll_difference": (-0.1, 0.1),
        "ab_nll_difference_low": less_than("ab_nll_difference", -1e-9),
        "ab_nll_difference_high": greater_than("ab_nll_difference", -1e-9),
        "notebook_seconds": (0.0, 90.0),
    },
}


def check_records(stem: str, records: Mapping[str, Any]) -> list[str]:
    """Problems with what notebook `stem` recorded in smoke mode; an empty list means every expectation holds."""
    return check_table(EXPECTATIONS, stem, records, where="EXPECTATIONS in tests/notebook_expectations.py")
