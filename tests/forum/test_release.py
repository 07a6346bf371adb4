"""Origin from the release itself: MyBB's own files by their hashes, plugins named by their folders, edited
MyBB files counted as the user's code, each file hashed once until its size or mtime changes."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from mybb_mcp.forum import release
from mybb_mcp.logs.parser import (
    ORIGIN_CORE,
    ORIGIN_EDITED,
    ORIGIN_YOURS,
    classify_origin,
    is_user_origin,
    parse_entry,
    path_origin,
)

CORE_FILES = {
    "index.php": "<?php // index\n",
    "inc/init.php": "<?php // init\n",
    "inc/class_core.php": '<?php class MyBB { public $version = "1.8.37"; }\n',
    "inc/functions.php": "<?php function f() {}\n",
    "inc/class_plugins.php": "<?php // hooks\n",
    "inc/tasks/dailycleanup.php": "<?php // task\n",
    "inc/languages/english/global.lang.php": "<?php // words\n",
    "admin/modules/config/plugins.php": "<?php // plugins page\n",
}
PLUGIN_FILES = {
    "admin/modules/newpoints/module_meta.php": "<?php // its module\n",
    "inc/plugins/newpoints.php": "<?php // the plugin\n",
    "inc/plugins/newpoints/core/hooks.php": "<?php // a sub-folder file\n",
    "inc/languages/english/newpoints.lang.php": "<?php // its words\n",
    "inc/languages/english/admin/newpoints.lang.php": "<?php // its admin words\n",
    "inc/tasks/newpoints.php": "<?php // its task\n",
    "mine.php": "<?php // the user's own script\n",
}


def make_archive(path: Path, version: str = "1.8.37") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in CORE_FILES.items():
            data = text.replace("1.8.37", version).encode()
            info = tarfile.TarInfo(f"mybb-mybb_1837/Upload/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def forum(tmp_path: Path) -> Path:
    root = tmp_path / "forum"
    for name, text in {**CORE_FILES, **PLUGIN_FILES}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_manifest_lists_the_release_files_relative_to_its_upload_folder(tmp_path: Path) -> None:
    version, files = release.build_manifest(make_archive(tmp_path / "mybb.tar.gz"))
    assert version == "1.8.37" and set(files) == set(CORE_FILES)


def test_origin_by_the_release_names_plugins_edited_files_and_core(forum: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    release.write_manifest(manifest, make_archive(tmp_path / "mybb.tar.gz"), "the archive init installed")
    release.register(forum, manifest)
    root = str(forum)
    for name in PLUGIN_FILES:
        expected = ORIGIN_YOURS if name == "mine.php" else "plugin newpoints"
        assert path_origin(f"{root}/{name}", root) == expected, name
    assert path_origin(f"{root}/inc/tasks/dailycleanup.php", root) == ORIGIN_CORE
    assert path_origin(f"{root}/admin/modules/config/plugins.php", root) == ORIGIN_CORE
    (forum / "inc/functions.php").write_text("<?php function f() { echo $x; }\n")  # the user edited it
    assert path_origin(f"{root}/inc/functions.php", root) == ORIGIN_EDITED
    assert is_user_origin(ORIGIN_EDITED)
    assert "hashes" in release.basis_of(root)


def test_a_warning_in_untouched_core_names_the_plugin_frame_that_caused_it(forum: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    release.write_manifest(manifest, make_archive(tmp_path / "mybb.tar.gz"), "init")
    release.register(forum, manifest)
    root = str(forum)
    entry = parse_entry(
        f"[Sun Nov 29 02:39:24 2026] PHP Fatal error:  Uncaught Error: boom in {root}/inc/functions.php:1\n"
        "Stack trace:\n"
        f"#0 {root}/admin/modules/newpoints/module_meta.php(43): f()\n"
        f"#1 {root}/inc/class_plugins.php(142): newpoints_meta()\n"
        "#2 {main}\n")
    classify_origin(entry, root)
    assert entry.origin == "plugin newpoints" and entry.place == "admin/modules/newpoints/module_meta.php:43"
    assert is_user_origin(entry.origin)


def test_each_file_is_hashed_once_until_its_size_or_mtime_changes(
    forum: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest = tmp_path / "manifest.json"
    release.write_manifest(manifest, make_archive(tmp_path / "mybb.tar.gz"), "init")
    release.register(forum, manifest)
    hashed: list[str] = []
    real = release._file_digest
    monkeypatch.setattr(release, "_file_digest", lambda path: hashed.append(path) or real(path))
    root = str(forum)
    for _ in range(5):
        assert path_origin(f"{root}/inc/init.php", root) == ORIGIN_CORE
    assert len(hashed) == 1
    init = forum / "inc/init.php"
    init.write_text("<?php // init, edited\n")
    os.utime(init, ns=(1, 1))
    assert path_origin(f"{root}/inc/init.php", root) == ORIGIN_EDITED
    assert len(hashed) == 2


def test_a_forum_init_did_not_make_uses_the_release_archive_of_its_version(forum: Path, tmp_path: Path) -> None:
    other = make_archive(tmp_path / "old.tar.gz", version="1.8.36")
    release.register(forum, tmp_path / "no-manifest.json", (other,))
    assert release.release_for(str(forum)) is None
    assert "by path only" in release.basis_of(str(forum))
    # By path only, an Admin CP module folder that is not MyBB's is still a plugin's.
    assert path_origin(f"{forum}/admin/modules/newpoints/module_meta.php", str(forum)) == "plugin newpoints"
    matching = make_archive(tmp_path / "mybb_1837.tar.gz")
    release.register(forum, tmp_path / "no-manifest.json", (other, matching))
    found = release.release_for(str(forum))
    assert found is not None and str(matching) in found.basis
    assert path_origin(f"{forum}/inc/tasks/newpoints.php", str(forum)) == "plugin newpoints"


def test_origin_names_the_plugins_codename_never_a_mybb_folder(forum: Path, tmp_path: Path) -> None:
    """config/NAME.php beside inc/plugins/NAME.php, a vendor folder a main file loads, a script a main file
    links to: the plugin's codename, with the release known and by path only; else "your code"."""
    files = {
        "inc/plugins/ougc_awards.php": "<?php require_once MYBB_ROOT.'inc/plugins/ougc/Awards/core.php';\n"
                                       "function ougc_awards_info() { return array(); }\n"
                                       "function ougc_awards_link() { return '<a href=\"medals.php\">x</a>'; }\n",
        "inc/plugins/ougc/Awards/core.php": "<?php // the vendor folder\n",
        "inc/plugins/ougc/Shared/util.php": "<?php // the same vendor's folder\n",
        "inc/plugins/lonely/x.php": "<?php // a folder no plugin loads\n",
        "admin/modules/config/ougc_awards.php": "<?php // its page in MyBB's config module\n",
        "admin/modules/config/loose.php": "<?php // no plugin of that name\n",
        "medals.php": "<?php // its script\n",
    }
    for name, text in files.items():
        (forum / name).parent.mkdir(parents=True, exist_ok=True)
        (forum / name).write_text(text)
    root = str(forum)
    expected = {
        "inc/plugins/ougc/Awards/core.php": "plugin ougc_awards",
        "admin/modules/config/ougc_awards.php": "plugin ougc_awards",
        "medals.php": "plugin ougc_awards",
        "inc/plugins/ougc/Shared/util.php": "plugin ougc_awards",  # the one plugin loading from ougc/
        "inc/plugins/lonely/x.php": ORIGIN_YOURS,
        "mine.php": ORIGIN_YOURS,
    }
    by_path = {name: path_origin(f"{root}/{name}", root) for name in expected}
    assert by_path == expected
    manifest = tmp_path / "manifest.json"
    release.write_manifest(manifest, make_archive(tmp_path / "mybb.tar.gz"), "the archive init installed")
    release.register(forum, manifest)
    expected["admin/modules/config/loose.php"] = ORIGIN_YOURS  # not MyBB's, and no plugin is tied to it
    assert {name: path_origin(f"{root}/{name}", root) for name in expected} == expected
