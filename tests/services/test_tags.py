"""Tags: names unique per user (case-insensitive), colours checked, files tagged only by their owner."""

from __future__ import annotations

import pytest

from tests.conftest import count, fresh
from zipshort.errors import NotFound, ValidationError
from zipshort.models import File, Tag
from zipshort.services import tags


def test_create_list_rename_recolour_delete(user):
    red = tags.create_tag(user, "  Red ", "#f00")
    tags.create_tag(user, "blue", "navy")
    assert [t.name for t in tags.list_tags(user)] == ["blue", "Red"]
    renamed = tags.update_tag(user, red.id, name="crimson", color="#dc143c")
    assert (renamed.name, renamed.name_key, renamed.color) == ("crimson", "crimson", "#dc143c")
    tags.delete_tag(user, red.id)
    assert [t.name for t in tags.list_tags(user)] == ["blue"]


def test_a_name_is_unique_per_user_whatever_its_case(user, make_user):
    tags.create_tag(user, "Red", "red")
    with pytest.raises(ValidationError, match="same name"):
        tags.create_tag(user, "RED", "red")
    blue = tags.create_tag(user, "blue", "blue")
    with pytest.raises(ValidationError, match="already exists"):
        tags.update_tag(user, blue.id, name="red")
    tags.create_tag(make_user("bob"), "red", "red")  # another user's namespace
    assert count(Tag) == 3


@pytest.mark.parametrize("name,color,field", [
    ("", "red", "name"), ("x" * 65, "red", "name"), ("a\nb", "red", "name"), (None, "red", "name"),
    ("ok", "", "color"), ("ok", "#12", "color"), ("ok", "rgb(1,2,3)", "color"), ("ok", 5, "color")])
def test_bad_names_and_colours_are_refused(user, name, color, field):
    with pytest.raises(ValidationError) as refused:
        tags.create_tag(user, name, color)
    assert refused.value.field == field and count(Tag) == 0


def test_someone_elses_tag_is_not_found(user, make_user):
    theirs = tags.create_tag(make_user("bob"), "theirs", "red")
    for action in (lambda: tags.update_tag(user, theirs.id, name="mine"), lambda: tags.delete_tag(user, theirs.id),
                   lambda: tags.tag_files(user, [], theirs.id)):
        with pytest.raises(NotFound):
            action()
    with pytest.raises(ValidationError, match="Unknown tag"):
        tags.resolve(user, [theirs.id])


def test_tag_files_adds_and_removes_once(user, make_file):
    tag = tags.create_tag(user, "red", "red")
    one, two = make_file(user), make_file(user)
    assert tags.tag_files(user, [one.id, two.id], tag.id) == 2
    assert tags.tag_files(user, [one.id], tag.id) == 1  # already tagged: nothing doubles
    assert [[t.id for t in fresh(File, f.id).tags] for f in (one, two)] == [[tag.id], [tag.id]]
    tags.tag_files(user, [one.id], tag.id, add=False)
    assert [[t.id for t in fresh(File, f.id).tags] for f in (one, two)] == [[], [tag.id]]
    assert count(File) == 2  # deleting or untagging never touches files
    tags.delete_tag(user, tag.id)
    assert count(File) == 2


def test_tag_files_refuses_someone_elses_file_and_changes_nothing(user, make_user, make_file):
    tag = tags.create_tag(user, "red", "red")
    mine, theirs = make_file(user), make_file(make_user("bob"))
    with pytest.raises(NotFound):
        tags.tag_files(user, [mine.id, theirs.id], tag.id)
    assert fresh(File, mine.id).tags == []


def test_resolve_checks_the_shape(user):
    with pytest.raises(ValidationError):
        tags.resolve(user, "not-a-list")
    assert tags.resolve(user, []) == []
