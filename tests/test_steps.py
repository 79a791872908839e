from hypothesis import given
from hypothesis import strategies as st

from ponder.steps import join_steps, parse_response, split_steps, think_steps


@given(st.text(alphabet="ab\n<>/", max_size=40))
def test_split_join_roundtrip(text):
    assert join_steps(split_steps(text)) == text


def test_parse_response():
    r = parse_response("<think>1+2=3\n3*4=12</think>\n<answer>12</answer>")
    assert r.think == "1+2=3\n3*4=12" and r.answer == "12"
    assert think_steps("<think>a\n\nb</think>") == ["a", "b"]
    assert parse_response("no tags").answer is None
    assert parse_response("<answer>1</answer> <answer> 2 </answer>").answer == "2"
