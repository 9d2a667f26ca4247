"""The course's shared helpers. Notebooks do `from utils import ...`; each concept lives in its own module."""

from .attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention
from .chat import chat_reply
from .checks import check_answer, compare, is_correct
from .data import (
    DATASETS,
    data_dir,
    describe_datasets,
    load_austen,
    load_austen_text,
    load_package_summaries,
    load_preference_pairs,
    load_rotten_tomatoes,
    load_wordnet_instructions,
)
from .decoding import beam_search, greedy_decode, sample_next_token, top_k_filter, top_p_filter
from .device import get_device
from .embeddings import cosine_similarity, embed_sentences
from .gpt import GPT, DecoderBlock, EncoderBlock, GPTConfig
from .llama import LlamaDecoder
from .models import (
    AssetMissingError,
    asset_path,
    asset_status,
    cache_dir,
    chat_model_info,
    load_chat_model,
    load_encoder,
)
from .plotting import new_figure, plot_heatmap, plot_loss_curves
from .positional import sinusoidal_positional_encoding
from .reproducibility import set_seed
from .runtime import by_mode, read_records, record, smoke_mode
from .tokenization import BPETokenizer
from .training import (
    TokenWindowDataset,
    TrainingHistory,
    evaluate_loss,
    load_checkpoint,
    load_pretrained_gpt,
    lr_at,
    save_checkpoint,
    train_language_model,
)

__all__ = [
    "DATASETS",
    "GPT",
    "AssetMissingError",
    "BPETokenizer",
    "DecoderBlock",
    "EncoderBlock",
    "GPTConfig",
    "LlamaDecoder",
    "MultiHeadAttention",
    "TokenWindowDataset",
    "TrainingHistory",
    "asset_path",
    "asset_status",
    "beam_search",
    "by_mode",
    "cache_dir",
    "causal_mask",
    "chat_model_info",
    "chat_reply",
    "check_answer",
    "compare",
    "cosine_similarity",
    "data_dir",
    "describe_datasets",
    "embed_sentences",
    "evaluate_loss",
    "get_device",
    "greedy_decode",
    "is_correct",
    "load_austen",
    "load_austen_text",
    "load_chat_model",
    "load_checkpoint",
    "load_encoder",
    "load_package_summaries",
    "load_preference_pairs",
    "load_pretrained_gpt",
    "load_rotten_tomatoes",
    "load_wordnet_instructions",
    "lr_at",
    "new_figure",
    "plot_heatmap",
    "plot_loss_curves",
    "read_records",
    "record",
    "sample_next_token",
    "save_checkpoint",
    "scaled_dot_product_attention",
    "set_seed",
    "sinusoidal_positional_encoding",
    "smoke_mode",
    "top_k_filter",
    "top_p_filter",
    "train_language_model",
]
