"""Folders: only the owner's files move in and out; open folders take others' uploads, which then keep
the folder alive; deleting a folder frees its files and the links naming it."""

from __future__ import annotations

import pytest

from tests.conftest import count, fresh
from zipshort.errors import Conflict, Forbidden, NotFound, ValidationError
from zipshort.models import File, Folder, Link
from zipshort.services import folders


def test_create_with_files_then_list_count_and_read(user, make_file):
    one, two = make_file(user), make_file(user)
    folder = folders.create_folder(user, "  Holiday ", public=True, file_ids=[one.id])
    assert (folder.name, folder.public, folder.allow_uploads) == ("Holiday", True, False)
    assert [f.id for f in folders.list_folders(user)] == [folder.id]
    assert folders.file_counts(user) == {folder.id: 1}
    assert [f.id for f in folders.folder_files(folder)] == [one.id]
    assert fresh(File, two.id).folder_id is None


def test_someone_elses_files_or_folder_are_refused(user, make_user, make_file):
    bob = make_user("bob")
    theirs = make_file(bob)
    with pytest.raises(ValidationError, match="No files found"):
        folders.create_folder(user, "Mine", file_ids=[theirs.id])
    assert count(Folder) == 0  # the folder went with the refusal
    bobs = folders.create_folder(bob, "Bob's")
    for action in (lambda: folders.get_folder(user, bobs.id), lambda: folders.delete_folder(user, bobs.id),
                   lambda: folders.update_folder(user, bobs.id, folders.FolderChanges(name="x")),
                   lambda: folders.move_files(user, [], bobs.id)):
        with pytest.raises(NotFound):
            action()


def test_add_and_remove_a_file(user, make_file):
    item = make_file(user)
    folder = folders.create_folder(user, "A")
    folders.add_file(user, folder.id, item.id)
    with pytest.raises(ValidationError, match="already in folder"):
        folders.add_file(user, folder.id, item.id)
    folders.remove_file(user, folder.id, item.id)
    with pytest.raises(ValidationError, match="not in this folder"):
        folders.remove_file(user, folder.id, item.id)
    assert fresh(File, item.id).folder_id is None


def test_move_files_in_and_out(user, make_file):
    a, b = make_file(user), make_file(user)
    folder = folders.create_folder(user, "A")
    assert folders.move_files(user, [a.id, b.id], folder.id) == 2
    assert folders.file_counts(user) == {folder.id: 2}
    assert folders.move_files(user, [a.id], None) == 1
    assert folders.file_counts(user) == {folder.id: 1}


@pytest.mark.parametrize("changes", [folders.FolderChanges(name=""), folders.FolderChanges(name="x" * 256),
                                     folders.FolderChanges(public="yes"), folders.FolderChanges(allow_uploads=1)])
def test_bad_changes_are_refused_and_change_nothing(user, changes):
    folder = folders.create_folder(user, "Kept")
    with pytest.raises(ValidationError):
        folders.update_folder(user, folder.id, changes)
    row = fresh(Folder, folder.id)
    assert (row.name, row.public, row.allow_uploads) == ("Kept", False, False)


def test_only_an_open_folder_takes_someone_elses_upload(user, make_user):
    folder = folders.create_folder(user, "Drop box")
    bob = make_user("bob")
    assert folders.upload_target(user, folder.id).id == folder.id
    with pytest.raises(Forbidden):
        folders.upload_target(bob, folder.id)
    with pytest.raises(Forbidden):
        folders.upload_target(None, folder.id)
    folders.update_folder(user, folder.id, folders.FolderChanges(allow_uploads=True))
    assert folders.upload_target(None, folder.id).id == folder.id
    with pytest.raises(ValidationError):
        folders.upload_target(bob, "no-such-folder")


def test_public_folder_is_seen_only_when_public(user):
    folder = folders.create_folder(user, "Pub")
    with pytest.raises(NotFound):
        folders.public_folder(folder.id)
    folders.update_folder(user, folder.id, folders.FolderChanges(public=True))
    assert folders.public_folder(folder.id).id == folder.id
    with pytest.raises(NotFound):
        folders.public_folder(folder.id, for_uploads=True)


def test_delete_frees_its_files_and_the_links_naming_it(user, make_file, make_link):
    item = make_file(user)
    folder = folders.create_folder(user, "Gone", file_ids=[item.id])
    link = make_link(user, folder_id=folder.id)
    folders.delete_folder(user, folder.id)
    assert count(Folder) == 0 and fresh(File, item.id).folder_id is None and fresh(Link, link.id).folder_id is None


def test_delete_is_refused_while_others_uploads_are_inside(user, make_user, make_file):
    folder = folders.create_folder(user, "Drop box")
    make_file(make_user("bob"), folder_id=folder.id)
    with pytest.raises(Conflict):
        folders.delete_folder(user, folder.id)
    assert count(Folder) == 1


def test_the_default_folder_is_made_once(user):
    first = folders.default_folder(user)
    assert folders.default_folder(user).id == first.id and first.name == folders.DEFAULT_FOLDER_NAME
    assert count(Folder) == 1
