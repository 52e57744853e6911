"""Config resolution: extends chains, expert_x sections, -m overrides, and validation errors."""
import pytest

from neuro_trigger import models, names
from neuro_trigger.config import SCHEMA, Range, for_expert, parse_overrides, parse_value, resolve
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
    ("baseline_v2", ["out_size=3"], "'out_size' must be one of 1, 2, got 3"),
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


@pytest.mark.parametrize("override, message", [
    ("weight_decay=-1", "'weight_decay' must be >= 0 and <= 1, got -1"),
    ("in_size=5", "'in_size' must be 27, got 5"),
    ("seed=-1", "'seed' must be >= 0 and < 2**63, got -1"),
    ("seed=2**70", "key 'seed' must be int, got '2**70'"),
    (f"seed={2 ** 70}", "'seed' must be >= 0 and < 2**63"),
    ("learning_rate=1e300", "'learning_rate' must be > 0 and <= 10, got 1e+300"),
    ("learning_rate=nan", "key 'learning_rate' must be int or float, got 'nan'"),
    ("learning_rate=float('nan')", "must be int or float"),
    ("z_cut_cm=1e999", "'z_cut_cm' must be > 0 and <= 100, got inf"),
    ("experts=[True]", "'experts' must be distinct numbers of 0..4, or [-1], got [True]"),
    ("experts=[1.0]", "'experts' must be distinct numbers of 0..4"),
    ("epochs=True", "key 'epochs' must be int, got True"),
    ("batch_size=1.5", "key 'batch_size' must be int, got 1.5"),
    ("expert_1=3", "key 'expert_1' must be a dict of overrides, got 3"),
    ("expert_2.seed=-5", "expert_2: 'seed' must be >= 0"),
    ('dist={"n_buckets": 10**9, "norm": {}}', "must be dict or null"),
    (f'dist={{"n_buckets": {10 ** 9}, "norm": {{}}}}', "dist.n_buckets: expected an integer >= 1 and <= 10000"),
    ('dist={"n_buckets": 5, "norm": {"std": "wide"}}', "dist.norm.std: expected a finite number, got 'wide'"),
    ('dist={"n_buckets": 5, "norm": {}, "uniform": {}}', "either 'norm' or 'uniform', not both"),
    ('dist={"n_buckets": 5, "bogus": 1}', "dist: unknown key 'bogus'"),
    ("filter=" + "ConCatFilter([" * 400 + "]" * 400, "filter"),
    ("a..b=1", "expected KEY=VALUE"),
])
def test_late_validation_bug_values_are_refused_up_front(override, message):
    """Issue 13: these values used to pass validation and fail inside training, after the run folder existed."""
    with pytest.raises(UserError) as error:
        resolve("baseline_v2", parse_overrides([override]))
    assert message in str(error.value)


def test_deeply_nested_override_value_is_refused_without_recursion_error():
    with pytest.raises(UserError, match="nested more than 32 levels"):
        parse_overrides(["dist=" + "[" * 40 + "]" * 40])
    value = parse_value("[" * 1000 + "]" * 1000)  # too deep for the literal parsers: kept as text
    assert isinstance(value, str)
    with pytest.raises(UserError, match="must be dict or null"):
        resolve("baseline_v2", parse_overrides(["dist=" + "[" * 1000 + "]" * 1000]))


def test_ranges_read_as_the_docs_show_them():
    assert str(Range(0, 10, low_open=True)) == "> 0 and <= 10"
    assert str(Range(0, 2 ** 63, high_open=True)) == ">= 0 and < 2**63"
    assert str(Range(27, 27)) == "27" and str(Range(1)) == ">= 1"
    assert float("nan") not in Range(0) and float("inf") not in Range(0, 1) and 1 in Range(1, 1)


def test_every_range_accepts_the_default_and_refuses_its_bounds():
    for key, spec in SCHEMA.items():
        if isinstance(spec.allowed, Range) and spec.allowed.low is not None:
            below = spec.allowed.low if spec.allowed.low_open else spec.allowed.low - 1
            with pytest.raises(UserError, match=key):
                resolve("baseline_v2", {key: below})
    resolve("baseline_v2")


def test_registry_names_without_torch_match_the_model_classes():
    assert tuple(models.MODELS) == names.MODELS and tuple(models.ACTIVATIONS) == names.ACTIVATIONS
    assert tuple(models.LOSSES) == names.LOSSES and tuple(models.OPTIMIZERS) == names.OPTIMIZERS
