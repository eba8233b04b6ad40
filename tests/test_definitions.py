import pytest

from narratives.core.settings import default_set_path
from narratives.matching.sets import DefinitionError, dump_set, load_set, parse_set


def test_default_set_has_three_narratives_with_exemplars_in_each_language():
    nset = load_set(default_set_path())
    assert nset.id == "crocus-2024"
    assert nset.ids() == ["ukraine-involved", "isk-responsible", "western-blackmail"]
    for n in nset.narratives:
        for lang in ("en", "ru", "uk"):
            assert len(n.exemplars[lang]) >= 5, (n.id, lang)


def test_version_is_a_content_hash(data_dir, tmp_path):
    nset = load_set(data_dir / "mini-set.yaml")
    copy = dump_set(nset, tmp_path / "copy.yaml")
    assert load_set(copy).version == nset.version
    text = copy.read_text().replace("Kyiv planned", "Kyiv prepared")
    copy.write_text(text)
    changed = load_set(copy)
    assert changed.version != nset.version
    assert changed.get("isk-responsible").version == nset.get("isk-responsible").version
    assert changed.get("ukraine-involved").version != nset.get("ukraine-involved").version


@pytest.mark.parametrize(
    "mutate, where",
    [
        (lambda d: d["narratives"][1].update(threshold=1.5), "narratives[1].threshold"),
        (
            lambda d: d["narratives"][0]["exemplars"]["ru"].append(""),
            "narratives[0].exemplars.ru[2]",
        ),
        (lambda d: d["narratives"][0].update(id="Bad Id"), "narratives[0].id"),
        (lambda d: d["narratives"][0].update(tresh=0.5), "narratives[0]"),
        (lambda d: d["narratives"].append(dict(d["narratives"][0])), "narratives[2].id"),
        (lambda d: d.update(event_date="yesterday"), "event_date"),
    ],
)
def test_errors_name_the_file_and_field(data_dir, mutate, where):
    import yaml

    data = yaml.safe_load((data_dir / "mini-set.yaml").read_text())
    mutate(data)
    with pytest.raises(DefinitionError) as err:
        parse_set(data, "mini-set.yaml")
    assert err.value.where == where
    assert str(err.value).startswith("mini-set.yaml: " + where)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(DefinitionError, match="does not exist"):
        load_set(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nnarratives: [\n")
    with pytest.raises(DefinitionError, match="not valid YAML"):
        load_set(bad)
