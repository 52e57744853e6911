"""Config resolution: extends chains, expert_x sections, -m overrides, and validation errors."""
import pytest

from neuro_trigger.config import for_expert, parse_overrides, parse_value, resolve
from neuro_trigger.configs import configs
from neuro_trigger.errors import UserError

NAMED = {
    **configs,
    "child": {"extends": "baseline_v2", "batch_size": 64, "dist": {"n_buckets": 4, "norm": {"mean": 0.0, "std": 0.5}},
              "expert_1": {"learning_rate": 0.5, "dist": {"n_buckets": 8}}},
    "grandchild": {"extends": "child", "act": "softsign", "dist": {"norm": {"std": 0.2}}},
    "loop_a": {"extends": "loop_b"}, "loop_b": {"extends": "loop_c"}, "loop_c": {"extends": "loop_a"},
}


def test_extends_chain_merges_nested_dicts_key_by_key():
    config = resolve("grandchild", named=NAMED)
    assert config["act"] == "softsign" and config["batch_size"] == 64 and config["model"] == "BaselineModel"
    assert config["dist"] == {"n_buckets": 4, "norm": {"mean": 0.0, "std": 0.2}}


def test_expert_sections_then_command_line_overrides():
    overrides = parse_overrides(["expert_2.batch_size=16", "act=tanh", "dist.n_buckets=21"])
    config = resolve("grandchild", overrides, named=NAMED)
    one, two = for_expert(config, 1), for_expert(config, 2)
    assert one["learning_rate"] == 0.5 and one["dist"] == {"n_buckets": 21, "norm": {"mean": 0.0, "std": 0.2}}
    assert two["batch_size"] == 16 and two["act"] == "tanh" and two["learning_rate"] == 0.02
    assert for_expert(config, 0)["batch_size"] == 64


def test_override_values_are_literals_or_strings_never_code():
    assert parse_value("16") == 16 and parse_value("1e-3") == 0.001 and parse_value("[0, 1]") == [0, 1]
    assert parse_value("true") is True and parse_value("null") is None and parse_value("None") is None
    assert parse_value("tanh/2") == "tanh/2"
    assert parse_value("__import__('os').system('touch PWNED')") == "__import__('os').system('touch PWNED')"


@pytest.mark.parametrize("name, overrides, message", [
    ("loop_a", [], "'extends' cycle: loop_a -> loop_b -> loop_c -> loop_a"),
    ("baseline_v2", ["bach_size=3"], "unknown key 'bach_size' (did you mean 'batch_size'?)"),
    ("baseline_v2", ["expert_1.lerning_rate=3"], "-m expert_1: unknown key 'lerning_rate' (did you mean 'learning_rate'?)"),
    ("baseline_v2", ["optim=Adamm"], "unknown optim 'Adamm' (did you mean 'Adam'?)"),
    ("baseline_v2", ["loss=MSE"], "unknown loss 'MSE'"),
    ("baseline_v2", ["model=Baseline"], "unknown model 'Baseline'"),
    ("baseline_v2", ["experts=[-1, 2]"], "'experts' must be distinct numbers of 0..4, or [-1]"),
    ("baseline_v2", ["out_size=3"], "'out_size' must be 1 (z) or 2"),
    ("baseline_v2", ["learning_rate=fast"], "key 'learning_rate' must be int or float, got 'fast'"),
    ("baseline_v2", ["filter=NoSuchFilter()"], "unknown filter 'NoSuchFilter'"),
    ("baseline_v2", ["expert_3.batch_size=0"], "expert_3: 'batch_size' must be >= 1"),
    ("baseline_v2", ["batch_size"], "expected KEY=VALUE"),
    ("baselin_v2", [], "unknown config 'baselin_v2' (did you mean 'baseline_v2'?)"),
])
def test_mistakes_are_named(name, overrides, message):
    with pytest.raises(UserError) as error:
        resolve(name, parse_overrides(overrides), named=NAMED)
    assert message in str(error.value)
