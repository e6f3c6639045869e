"""Which file owns a DAG id after a batch of DAG files was imported: the first definer keeps it, a
copy elsewhere is an import error, and a DAG moved between files follows its file."""

from __future__ import annotations

from tradewind.decisions.dag_ownership import ImportedFile, plan_ownership


def test_new_files_store_all_their_dags() -> None:
    plan = plan_ownership([ImportedFile("/d/a.py", ["a1", "a2"]), ImportedFile("/d/b.py", ["b"])], {}, {}, ())
    assert plan.stored == {"/d/a.py": ["a1", "a2"], "/d/b.py": ["b"]}
    assert plan.duplicates == {} and plan.deactivate == set()


def test_a_dag_id_defined_by_another_existing_file_is_a_duplicate_for_the_newcomer() -> None:
    plan = plan_ownership([ImportedFile("/d/b.py", ["shared", "b"])], {"shared": "/d/a.py"}, {}, {"/d/a.py"})
    assert plan.stored == {"/d/b.py": ["b"]}
    assert plan.duplicates == {"/d/b.py": [("shared", "/d/a.py")]}


def test_a_dag_id_whose_owner_file_is_gone_is_taken_over() -> None:
    plan = plan_ownership([ImportedFile("/d/b.py", ["shared"])], {"shared": "/d/a.py"}, {}, ())
    assert plan.stored == {"/d/b.py": ["shared"]} and plan.duplicates == {}


def test_two_files_of_one_batch_defining_the_same_id_the_first_keeps_it() -> None:
    plan = plan_ownership([ImportedFile("/d/a.py", ["x"]), ImportedFile("/d/b.py", ["x"])], {}, {}, ())
    assert plan.stored == {"/d/a.py": ["x"], "/d/b.py": []}
    assert plan.duplicates == {"/d/b.py": [("x", "/d/a.py")]}


def test_a_dag_no_longer_defined_becomes_inactive() -> None:
    plan = plan_ownership(
        [ImportedFile("/d/a.py", ["kept"])],
        {"kept": "/d/a.py", "dropped": "/d/a.py"},
        {"/d/a.py": ["kept", "dropped"]},
        (),
    )
    assert plan.stored == {"/d/a.py": ["kept"]} and plan.deactivate == {"dropped"}


def test_a_dag_moved_between_two_files_of_one_batch_lands_in_its_new_file_whichever_comes_first() -> None:
    for order in (["/d/new.py", "/d/old.py"], ["/d/old.py", "/d/new.py"]):
        files = {"/d/new.py": ImportedFile("/d/new.py", ["moved"]), "/d/old.py": ImportedFile("/d/old.py", [])}
        plan = plan_ownership(
            [files[name] for name in order], {"moved": "/d/old.py"}, {"/d/old.py": ["moved"]}, {"/d/old.py"}
        )
        assert plan.stored["/d/new.py"] == ["moved"] and plan.duplicates == {}
        assert plan.deactivate == set(), "the moved DAG stays active"


def test_a_file_that_failed_to_import_keeps_its_dags() -> None:
    plan = plan_ownership(
        [ImportedFile("/d/broken.py", None), ImportedFile("/d/b.py", ["mine"])],
        {"mine": "/d/broken.py"},
        {"/d/broken.py": ["mine"]},
        {"/d/broken.py"},
    )
    assert "/d/broken.py" not in plan.stored and plan.deactivate == set()
    assert plan.duplicates == {"/d/b.py": [("mine", "/d/broken.py")]}


def test_an_id_another_file_took_over_is_not_deactivated_by_its_old_file() -> None:
    plan = plan_ownership(
        [ImportedFile("/d/old.py", [])], {"moved": "/d/new.py"}, {"/d/old.py": ["moved"]}, {"/d/new.py"}
    )
    assert plan.deactivate == set()
