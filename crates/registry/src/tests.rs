//! Registry operations against a real store: version rules under concurrency, all-or-nothing
//! changes, and what deletes take with them.

#![allow(clippy::unwrap_used)]

use ferrocore_store::{Durability, Store, StoreConfig};

use crate::*;

fn registry(dir: &tempfile::TempDir) -> Registry {
    let config = StoreConfig {
        synchronous: Durability::Normal,
        ..StoreConfig::new(dir.path().join("r.db"))
    };
    let arns = Arns { region: "us-east-1".into(), account: "123456789012".into() };
    Registry::new(Store::open(config).unwrap(), arns)
}

fn new_thing(name: &str) -> NewThing {
    NewThing { name: name.into(), ..NewThing::default() }
}

#[tokio::test]
async fn concurrent_updates_with_the_same_expected_version_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    registry.create_thing(new_thing("t")).await.unwrap();
    let update = |value: &str| ThingUpdate {
        name: "t".into(),
        attributes: Some(([("k".to_owned(), value.to_owned())].into(), true)),
        expected_version: Some(1),
        ..ThingUpdate::default()
    };
    // Both are queued before either commits; the writer serializes them.
    let first = registry.update_thing(update("a"));
    let second = registry.update_thing(update("b"));
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.unwrap(), 2);
    assert!(matches!(second, Err(RegistryError::VersionConflict(_))), "{second:?}");
    let thing = registry.describe_thing("t").unwrap();
    assert_eq!((thing.version, thing.attributes["k"].as_str()), (2, "a"));
    assert_eq!(thing.arn, "arn:aws:iot:us-east-1:123456789012:thing/t");
}

#[tokio::test]
async fn a_failed_group_update_for_a_thing_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    registry.create_thing(new_thing("t")).await.unwrap();
    for name in ["a", "b"] {
        let group = NewThingGroup { name: name.into(), ..NewThingGroup::default() };
        registry.create_thing_group(group).await.unwrap();
    }
    let result =
        registry.update_groups_for_thing("t", vec!["a".into(), "missing".into()], vec![]).await;
    assert!(matches!(result, Err(RegistryError::NotFound(_))), "{result:?}");
    assert!(registry.list_groups_for_thing("t", None, 10).unwrap().items.is_empty());
}

#[tokio::test]
async fn deleting_a_thing_and_a_group_removes_memberships_and_tags() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    registry.create_thing(new_thing("t")).await.unwrap();
    let tags = vec![Tag { key: "k".into(), value: "v".into() }];
    let group = NewThingGroup { name: "g".into(), tags, ..NewThingGroup::default() };
    let group = registry.create_thing_group(group).await.unwrap();
    registry.add_thing_to_group("g", "t").await.unwrap();
    registry.delete_thing("t", None).await.unwrap();
    assert!(registry.list_things_in_group("g", false, None, 10).unwrap().items.is_empty());
    assert_eq!(registry.list_tags(&group.arn, None, 10).unwrap().items.len(), 1);
    registry.delete_thing_group("g", None).await.unwrap();
    registry
        .create_thing_group(NewThingGroup { name: "g".into(), ..NewThingGroup::default() })
        .await
        .unwrap();
    assert!(registry.list_tags(&group.arn, None, 10).unwrap().items.is_empty());
}

#[tokio::test]
async fn pages_resume_after_the_last_key() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    for i in 0..5 {
        registry.create_thing(new_thing(&format!("t{i}"))).await.unwrap();
    }
    let first = registry.list_things(&ThingFilter::default(), None, 2).unwrap();
    assert_eq!(first.next.as_deref(), Some("t1"));
    // A thing deleted between pages does not shift the next page.
    registry.delete_thing("t0", None).await.unwrap();
    let second = registry.list_things(&ThingFilter::default(), first.next.as_deref(), 2).unwrap();
    let names: Vec<_> = second.items.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["t2", "t3"]);
    let last = registry.list_things(&ThingFilter::default(), second.next.as_deref(), 2).unwrap();
    assert_eq!(last.items.len(), 1);
    assert_eq!(last.next, None);
}
