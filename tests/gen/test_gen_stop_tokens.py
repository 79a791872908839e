"""Stop strings as stop token ids (gen/stop_tokens.py): exact where it claims to be, None elsewhere."""

import random

import pytest
from transformers import AutoTokenizer

from ponder.gen.stop_tokens import stop_token_ids, token_pieces
from ponder.gen.text import decode
from ponder.models import TINY_DIR


@pytest.fixture(scope="module")
def tiny_tok():
    return AutoTokenizer.from_pretrained(str(TINY_DIR))


def _byte_level_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["café au lait\nnaïve résumé\n", "3 + 4 = 7\nso 7 * 2 = 14\n"] * 20, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok)


def test_pieces_are_tokens_decoded_alone(tiny_tok):
    pieces = token_pieces(tiny_tok)
    assert len(pieces) == len(tiny_tok)
    assert all(p == decode(tiny_tok, [i]) for i, p in enumerate(pieces))


def test_one_character_stop_maps_to_the_tokens_that_hold_it(tiny_tok):
    pieces = token_pieces(tiny_tok)
    ids = stop_token_ids(pieces, ("\n",))
    assert ids and all("\n" in pieces[i] for i in ids)
    assert [i for i, p in enumerate(pieces) if "\n" in p] == list(ids)
    assert stop_token_ids(pieces, ()) == ()
    assert stop_token_ids(pieces, ("\n", "no")) is None  # "no" can end across two tokens


@pytest.mark.parametrize("which", ["tiny", "byte_level"])
def test_stop_token_ids_end_rows_where_the_text_check_does(tiny_tok, which):
    """Random token rows: the first token in the stop set is the first token after which the
    decoded text contains a stop string (the text-based rule vLLM and the hf backend apply)."""
    tok = tiny_tok if which == "tiny" else _byte_level_tokenizer()
    pieces = token_pieces(tok)
    for stops in (("\n",), ("=", ",")):
        ids = set(stop_token_ids(pieces, stops))
        rng = random.Random(0)
        for _ in range(200):
            row = [rng.randrange(len(pieces)) for _ in range(30)]
            by_ids = next((k for k, t in enumerate(row) if t in ids), None)
            by_text = next((k for k in range(len(row)) if any(s in decode(tok, row[: k + 1]) for s in stops)), None)
            assert by_ids == by_text


def test_non_ascii_stop_with_byte_pieces_falls_back_to_text():
    tok = _byte_level_tokenizer()
    pieces = token_pieces(tok)
    assert any("\ufffd" in p for p in pieces)  # single bytes of "é" decode alone to U+FFFD
    assert stop_token_ids(pieces, ("é",)) is None
    ids = stop_token_ids(pieces, ("\n",))
    assert any(len(pieces[i]) > 1 for i in ids)  # merged tokens holding the newline stop rows too
