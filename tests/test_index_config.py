"""Config models of the index, uncertainty and waves: every documented error, with its message."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from allocator.errors import ConfigError
from allocator.index import IndexConfig, IndicatorSpec, UncertaintyConfig, validate_section
from allocator.waves import WavesConfig


def test_defaults_are_the_strategy_indicators() -> None:
    cfg = IndexConfig()
    assert [s.name for s in cfg.indicators] == [
        "drug_deaths_rate",
        "imd_score",
        "crime_score",
        "ocu_rate",
    ]
    assert all(s.direction == "higher_is_worse" for s in cfg.indicators)
    assert [s.required for s in cfg.indicators] == [True, True, True, False]
    assert (cfg.need_factor.low, cfg.need_factor.high) == (0.5, 1.5)


def test_unknown_indicator_lists_known_ones() -> None:
    with pytest.raises(ConfigError) as exc:
        validate_section(
            IndexConfig,
            {"indicators": [{"name": "heroin_seizures", "direction": "higher_is_worse"}]},
            section="index",
        )
    msg = str(exc.value)
    assert "index.indicators[0].name" in msg
    assert "unknown indicator 'heroin_seizures'" in msg
    assert ("drug_deaths_rate, imd_score, income_score, employment_score, crime_score, ocu_rate"
            in msg)


def test_missing_direction_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"missing required key 'index\.indicators\[0\]\.direction'"):
        validate_section(IndexConfig, {"indicators": [{"name": "imd_score"}]}, section="index")


def test_negative_weight_is_an_error() -> None:
    with pytest.raises(ValidationError, match="weight must be >= 0, got -1"):
        IndicatorSpec(name="imd_score", direction="higher_is_worse", weight=-1)


def test_weights_summing_to_zero_is_an_error() -> None:
    specs = [
        {"name": "imd_score", "direction": "higher_is_worse", "weight": 0},
        {"name": "crime_score", "direction": "higher_is_worse", "weight": 0},
    ]
    with pytest.raises(ConfigError, match="indicator weights sum to zero"):
        validate_section(IndexConfig, {"indicators": specs})
    # Equal weighting does not use the weights, so zeros are fine there.
    assert validate_section(IndexConfig, {"indicators": specs, "weighting": "equal"})


def test_duplicate_indicator_and_unknown_key() -> None:
    spec = {"name": "imd_score", "direction": "higher_is_worse"}
    with pytest.raises(ConfigError, match="indicator listed more than once: imd_score"):
        validate_section(IndexConfig, {"indicators": [spec, spec]})
    with pytest.raises(ConfigError, match="unknown key 'normalize'"):
        validate_section(IndexConfig, {"normalize": "zscore"})


def test_need_factor_bounds() -> None:
    with pytest.raises(ConfigError, match=r"need_factor.high \(0.2\) must be >= low \(0.5\)"):
        validate_section(IndexConfig, {"need_factor": {"low": 0.5, "high": 0.2}})
    with pytest.raises(ConfigError, match="need_factor.low"):
        validate_section(IndexConfig, {"need_factor": {"low": -0.1, "high": 1}})


def test_uncertainty_needs_a_seed_and_a_valid_band() -> None:
    with pytest.raises(ConfigError, match="missing required key '.*seed'"):
        validate_section(UncertaintyConfig, {})
    with pytest.raises(ConfigError, match="borderline band"):
        validate_section(UncertaintyConfig, {"seed": 1, "borderline": [0.9, 0.1]})
    with pytest.raises(ConfigError, match="choices listed more than once"):
        validate_section(UncertaintyConfig, {"seed": 1, "normalise_choices": ["rank", "rank"]})
    cfg = UncertaintyConfig(seed=7)
    assert (cfg.draws, cfg.relative_error, cfg.borderline) == (10_000, 0.05, (0.2, 0.8))


def test_waves_defaults() -> None:
    cfg = WavesConfig()
    assert cfg.sizes == [50, 50, "rest"]
    assert cfg.labels == ["2022-23", "2023-24", "2024-25"]
    assert cfg.resolve_sizes(152) == [50, 50, 52]
    assert [(k.column, k.order) for k in cfg.tie_break] == [
        ("drug_deaths_rate", "desc"),
        ("code", "asc"),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"sizes": [50, "rest", 50]}, "'rest' may appear only once, as the last wave size"),
        ({"sizes": [50, 0, "rest"]}, "wave size 0 must be a positive integer"),
        ({"sizes": [50, 50], "labels": ["a", "b", "c"]}, "2 wave sizes but 3 labels"),
        ({"labels": ["a", "a", "b"]}, "wave labels must be unique"),
        (
            {
                "locks": [
                    {"code": "E06000001", "wave": 1, "reason": "x"},
                    {"code": "E06000001", "wave": "2023-24", "reason": "y"},
                ]
            },
            "LA E06000001 is locked more than once (waves 1 and 2)",
        ),
        (
            {
                "locks": [{"code": "E06000001", "wave": 1, "reason": "x"}],
                "lock_out": [{"code": "E06000001", "wave": 3, "reason": "y"}],
            },
            "LA E06000001 is locked both in (wave 1) and out (wave 3)",
        ),
        (
            {
                "lock_out": [
                    {"code": "E06000002", "wave": w, "reason": "not ready"} for w in (1, 2, 3)
                ]
            },
            "LA E06000002 is locked out of every wave",
        ),
        ({"locks": [{"code": "E06000001", "wave": 4, "reason": "x"}]}, "wave 4 does not exist"),
        ({"locks": [{"code": "E06000001", "wave": "2030-31", "reason": "x"}]}, "unknown wave"),
        ({"locks": [{"code": "E06000001", "wave": 1, "reason": ""}]}, "reason"),
    ],
)
def test_waves_config_errors(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        validate_section(WavesConfig, data, section="waves")
    assert message in str(exc.value)


def test_wave_sizes_checked_against_number_of_las() -> None:
    with pytest.raises(ConfigError, match=r"wave sizes 50\+50\+rest need more than the 90 LAs"):
        WavesConfig().resolve_sizes(90)
    with pytest.raises(ConfigError, match="leaving none for 'rest'"):
        WavesConfig().resolve_sizes(100)
    with pytest.raises(ConfigError, match=r"wave sizes 50\+50 = 100 do not cover the 152 LAs"):
        WavesConfig(sizes=[50, 50], labels=["a", "b"]).resolve_sizes(152)
    assert WavesConfig(sizes=[2, 3], labels=["a", "b"]).resolve_sizes(5) == [2, 3]
