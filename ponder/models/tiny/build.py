"""The built-in tiny reasoner's tokenizer and architecture.

Tokenizer: character level over printable ASCII plus newline, built as a `tokenizers` BPE model
with no merges (so every character is one token) and saved in Hugging Face format, so
`AutoTokenizer.from_pretrained(folder)` loads it. The R1 tags `<think> </think> <answer>
</answer>` are single tokens, and so is `≠`. Its chat template renders a question as `<bos>QUESTION\\n`; the
model then writes `<think>...</think>\\n<answer>...</answer><eos>`.

Model: a standard `LlamaForCausalLM` from a config (a few layers, d=128, tied embeddings), so
every code path it exercises is the one a real Hugging Face model uses.
"""

from __future__ import annotations

import string

SPECIAL = ["<pad>", "<bos>", "<eos>", "<unk>"]
TAGS = ["<think>", "</think>", "<answer>", "</answer>"]
SYMBOLS = ["≠"]  # Countdown's verdict lines compare in writing: `=25≠3 no` (tiny-v1 lacks it)
CHARS = [c for c in string.printable if c not in "\t\r\x0b\x0c"]  # 95 printable + "\n"
CHAT_TEMPLATE = "{{ bos_token }}{% for message in messages %}{{ message['content'] }}\n{% endfor %}"


def build_tokenizer():
    """A character-level PreTrainedTokenizerFast with the R1 tags as single tokens."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL + CHARS)}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    core.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="left",
        model_input_names=["input_ids", "attention_mask"],  # transformers 4.x would add token_type_ids
    )
    tok.add_tokens(TAGS + SYMBOLS)  # normal (not special) tokens: they survive decode(skip_special_tokens=True)
    tok.chat_template = CHAT_TEMPLATE
    return tok


def tiny_config(vocab_size: int, **overrides):
    """LlamaConfig of the tiny reasoner; keyword overrides change any field."""
    from transformers import LlamaConfig

    kw = dict(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=512,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    kw.update(overrides)
    return LlamaConfig(**kw)


def build_model(tokenizer=None, seed: int = 0, **overrides):
    """A randomly initialised tiny Llama (and its tokenizer): for training from scratch and tests."""
    import torch
    from transformers import LlamaForCausalLM

    tok = tokenizer or build_tokenizer()
    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_config(len(tok), **overrides))
    return model, tok
