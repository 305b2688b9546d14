"""Hub detection is pure: stored repo states + a snapshot -> new states + events."""

from __future__ import annotations

from tracker.detect.hub import detect_repos
from tracker.observations import Gone, HubSnapshot, Renamed, RepoContents, RepoState

HUB = "https://hub.example"


def repo(repo_id: str = "lab/model", **fields) -> RepoState:
    values = {"sha": "a" * 40, "license": "apache-2.0"} | fields
    return RepoState(type="model", id=repo_id, **values)


def stored(state: RepoState, rev: int = 0, **changes) -> dict:
    return state.state() | {"status": "available", "rev": rev} | changes


def detect(previous: dict, *, listed=(), checked=None, baselined=True, author="lab"):
    snapshot = HubSnapshot(listed={r.key: r for r in listed}, checked=checked or {})
    return detect_repos(previous, snapshot, baselined=baselined, endpoint=HUB, author=author)


def test_nothing_changed_nothing_written() -> None:
    r = repo()
    detection = detect({r.key: stored(r)}, listed=[r])

    assert (detection.events, detection.upserts, detection.removals) == ([], {}, set())


def test_baseline_writes_states_without_events() -> None:
    detection = detect({}, listed=[repo("lab/a"), repo("lab/b")], baselined=False)

    assert detection.events == []
    assert set(detection.upserts) == {"model:lab/a", "model:lab/b"}


def test_every_transition_has_its_own_fingerprint() -> None:
    r = repo()
    gated = repo(gated="manual")
    first = detect({r.key: stored(r, rev=3)}, listed=[gated])
    again = detect({r.key: stored(r, rev=5)}, listed=[gated])

    assert first.events[0].kind == again.events[0].kind == "access.gated"
    assert first.events[0].key(1) != again.events[0].key(1)
    assert first.upserts[r.key]["rev"] == 4


def test_one_change_of_several_fields_yields_each_event() -> None:
    r = repo()
    changed = RepoState(type="model", id="lab/model", sha="b" * 40, license="other", gated="auto")

    kinds = {e.kind for e in detect({r.key: stored(r)}, listed=[changed]).events}

    assert kinds == {"access.gated", "license.changed", "repo.updated"}


def test_listed_but_private_or_disabled_counts_as_withdrawn() -> None:
    r = repo()
    (event,) = detect({r.key: stored(r)}, listed=[repo(disabled=True)]).events

    assert (event.kind, event.after) == (
        "repo.withdrawn",
        {"status": "withdrawn", "reason": "disabled"},
    )


def test_missing_and_unconfirmed_repo_is_left_alone() -> None:
    r = repo()

    detection = detect({r.key: stored(r)}, listed=[])

    assert (detection.events, detection.upserts) == ([], {})


def test_gone_after_withdrawn_is_not_reported_again() -> None:
    r = repo()
    previous = {r.key: stored(r, status="withdrawn", reason="not_found")}

    detection = detect(previous, checked={r.key: Gone("model", r.id, "not_found")})

    assert detection.events == []


def test_rename_moves_state_without_publish_or_withdrawal() -> None:
    old = repo("lab/old")
    new = repo("lab/new")

    detection = detect(
        {old.key: stored(old)}, listed=[new], checked={old.key: Renamed("model", "lab/old", new)}
    )

    assert [e.kind for e in detection.events] == ["repo.renamed"]
    assert detection.removals == {old.key}
    assert set(detection.upserts) == {new.key}


def test_transfer_to_another_owner_leaves_the_author_watch() -> None:
    old = repo("lab/model")
    moved = repo("elsewhere/model")

    detection = detect({old.key: stored(old)}, checked={old.key: Renamed("model", old.id, moved)})

    (event,) = detection.events
    assert event.kind == "repo.renamed"
    assert "now outside lab" in event.title
    assert detection.removals == {old.key}
    assert detection.upserts == {}


def test_case_only_rename_is_silent() -> None:
    old = repo("lab/Model")
    new = repo("lab/model")

    detection = detect({old.key: stored(old)}, checked={old.key: Renamed("model", old.id, new)})

    assert detection.events == []
    assert set(detection.upserts) == {new.key}


def test_license_name_and_link_appear_only_when_used() -> None:
    r = repo()
    (event,) = detect({r.key: stored(r)}, listed=[repo(license="mit")]).events

    assert (event.before, event.after) == ({"license": "apache-2.0"}, {"license": "mit"})


def test_a_repo_never_seen_is_unseen_not_withdrawn_then_published() -> None:
    r = repo("lab/awaited")

    missing = detect({}, checked={r.key: Gone("model", r.id, "not_found")}, author=None)
    arrived = detect(missing.upserts, checked={r.key: r}, author=None)

    assert missing.events == []
    assert missing.upserts[r.key]["status"] == "unseen"
    (event,) = arrived.events
    assert (event.kind, event.subject) == ("model.published", r.id)
    assert arrived.upserts[r.key]["status"] == "available"


def test_what_the_last_look_at_the_files_found_is_kept_without_a_write() -> None:
    r = repo()
    previous = {r.key: stored(r, content_files=3, files=5, storage=1000)}

    detection = detect(previous, listed=[r])

    assert (detection.events, detection.upserts) == ([], {})


def test_files_gone_at_the_new_head_are_content_withdrawn() -> None:
    r = repo(sha="b" * 40)
    previous = {r.key: stored(repo(), content_files=2, files=4)}
    snapshot = HubSnapshot(
        listed={r.key: r},
        contents={r.key: RepoContents(files=("README.md", "config.json"), storage=10)},
    )

    detection = detect_repos(previous, snapshot, baselined=True, endpoint=HUB, author="lab")

    withdrawn = [e for e in detection.events if e.kind == "content.withdrawn"]
    assert [(e.data["reason"], e.before, e.after) for e in withdrawn] == [
        ("files_removed", {"content_files": 2, "files": 4}, {"content_files": 0, "files": 2})
    ]
    assert detection.upserts[r.key]["content_files"] == 0
    assert detection.upserts[r.key]["storage"] == 10


def test_the_license_comparison_reads_the_license_fields() -> None:
    from tracker.detect.hub import LICENSE_FIELDS, _license_of

    assert _license_of({f: f.upper() for f in LICENSE_FIELDS}) == tuple(
        f.upper() for f in LICENSE_FIELDS
    )
