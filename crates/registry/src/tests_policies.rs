//! Policies, versions and attachments against a real store: version ids and limits, delete
//! conflicts, group attachments and inherited (ancestor group) policies.

#![allow(clippy::unwrap_used)]

use ferrocore_store::{Durability, Store, StoreConfig};

use crate::*;

const ALLOW: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

fn registry(dir: &tempfile::TempDir) -> Registry {
    let config = StoreConfig {
        synchronous: Durability::Normal,
        ..StoreConfig::new(dir.path().join("r.db"))
    };
    let arns = Arns { region: "us-east-1".into(), account: "123456789012".into() };
    Registry::new(Store::open(config).unwrap(), arns)
}

fn group(name: &str, parent: Option<&str>) -> NewThingGroup {
    NewThingGroup { name: name.into(), parent: parent.map(Into::into), ..NewThingGroup::default() }
}

#[tokio::test]
async fn version_ids_increase_are_never_reused_and_are_limited_to_five() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    let epoch = registry.epoch();
    let policy = registry.create_policy("p", ALLOW, vec![]).await.unwrap();
    assert_eq!(policy.default_version, "1");
    assert_eq!(policy.arn, "arn:aws:iot:us-east-1:123456789012:policy/p");
    assert!(registry.epoch() > epoch, "a new policy is an authorization change");
    for expected in 2..=5 {
        let version = registry.create_policy_version("p", ALLOW, false).await.unwrap();
        assert_eq!(version.version_id, expected.to_string());
        assert!(!version.is_default);
    }
    let sixth = registry.create_policy_version("p", ALLOW, true).await;
    assert!(matches!(sixth, Err(RegistryError::VersionsLimitExceeded(_))), "{sixth:?}");
    registry.delete_policy_version("p", "5").await.unwrap();
    let next = registry.create_policy_version("p", ALLOW, true).await.unwrap();
    assert_eq!((next.version_id.as_str(), next.is_default), ("6", true));
    assert_eq!(registry.get_policy("p").unwrap().default_version, "6");
    let ids: Vec<_> =
        registry.list_policy_versions("p").unwrap().into_iter().map(|v| v.version_id).collect();
    assert_eq!(ids, ["6", "4", "3", "2", "1"]);
    let deleting_default = registry.delete_policy_version("p", "6").await;
    assert!(matches!(deleting_default, Err(RegistryError::DeleteConflict(_))));
    let with_versions = registry.delete_policy("p").await;
    assert!(matches!(with_versions, Err(RegistryError::DeleteConflict(_))));
    registry.set_default_policy_version("p", "2").await.unwrap();
    for id in ["1", "3", "4", "6"] {
        registry.delete_policy_version("p", id).await.unwrap();
    }
    registry.delete_policy("p").await.unwrap();
    assert!(matches!(registry.get_policy("p"), Err(RegistryError::NotFound(_))));
}

#[tokio::test]
async fn malformed_documents_and_duplicates_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    let malformed = registry.create_policy("p", "{}", vec![]).await;
    assert!(matches!(malformed, Err(RegistryError::MalformedPolicy(m)) if m.contains("Version")));
    registry.create_policy("p", ALLOW, vec![]).await.unwrap();
    let again = registry.create_policy("p", ALLOW, vec![]).await;
    assert!(matches!(again, Err(RegistryError::AlreadyExists { .. })), "{again:?}");
}

#[tokio::test]
async fn group_policies_apply_to_members_with_their_ancestors_and_block_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    registry.create_thing_group(group("root", None)).await.unwrap();
    let child = registry.create_thing_group(group("child", Some("root"))).await.unwrap();
    let root_arn = registry.describe_thing_group("root").unwrap().arn;
    registry.create_thing(NewThing { name: "t".into(), ..NewThing::default() }).await.unwrap();
    registry.add_thing_to_group("child", "t").await.unwrap();
    for name in ["on-root", "on-child"] {
        registry.create_policy(name, ALLOW, vec![]).await.unwrap();
    }
    registry.attach_policy("on-root", &root_arn).await.unwrap();
    registry.attach_policy("on-child", &child.arn).await.unwrap();
    registry.attach_policy("on-child", &child.arn).await.unwrap();

    let names = |policies: Vec<EffectivePolicy>| -> Vec<String> {
        policies.into_iter().map(|p| p.name).collect()
    };
    let effective = registry.effective_policies_for(None, Some("t")).unwrap();
    assert_eq!(names(effective), ["on-child", "on-root"]);
    let direct = registry.list_attached_policies(&child.arn, false, None, 10).unwrap();
    assert_eq!(direct.items.len(), 1);
    let inherited = registry.list_attached_policies(&child.arn, true, None, 10).unwrap();
    let inherited: Vec<_> = inherited.items.into_iter().map(|p| p.name).collect();
    assert_eq!(inherited, ["on-child", "on-root"]);
    let targets = registry.list_targets_for_policy("on-root", None, 10).unwrap();
    assert_eq!(targets.items, std::slice::from_ref(&root_arn));

    let attached = registry.delete_policy("on-root").await;
    assert!(matches!(attached, Err(RegistryError::DeleteConflict(_))), "{attached:?}");
    registry.detach_policy("on-root", &root_arn).await.unwrap();
    registry.delete_policy("on-root").await.unwrap();

    // A deleted group takes its attachments with it.
    registry.remove_thing_from_group("child", "t").await.unwrap();
    registry.delete_thing_group("child", None).await.unwrap();
    assert!(registry.list_targets_for_policy("on-child", None, 10).unwrap().items.is_empty());
    registry.delete_policy("on-child").await.unwrap();
}

#[tokio::test]
async fn attachments_need_an_existing_policy_and_target_and_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    let g = registry.create_thing_group(group("g", None)).await.unwrap();
    let missing_policy = registry.attach_policy("nope", &g.arn).await;
    assert!(matches!(missing_policy, Err(RegistryError::NotFound(_))));
    registry.create_policy("p0", ALLOW, vec![]).await.unwrap();
    let missing_group =
        registry.attach_policy("p0", "arn:aws:iot:us-east-1:123456789012:thinggroup/none").await;
    assert!(matches!(missing_group, Err(RegistryError::NotFound(_))));
    let cert = format!("arn:aws:iot:us-east-1:123456789012:cert/{}", "0".repeat(64));
    let missing_cert = registry.attach_policy("p0", &cert).await;
    assert!(matches!(missing_cert, Err(RegistryError::NotFound(_))));
    let bad_target = registry.attach_policy("p0", "not-an-arn").await;
    assert!(matches!(bad_target, Err(RegistryError::InvalidRequest(_))));
    for i in 0..10 {
        let name = format!("p{i}");
        if i > 0 {
            registry.create_policy(&name, ALLOW, vec![]).await.unwrap();
        }
        registry.attach_policy(&name, &g.arn).await.unwrap();
    }
    registry.create_policy("p10", ALLOW, vec![]).await.unwrap();
    let eleventh = registry.attach_policy("p10", &g.arn).await;
    assert!(matches!(eleventh, Err(RegistryError::LimitExceeded(_))), "{eleventh:?}");
    let page = registry.list_attached_policies(&g.arn, false, None, 4).unwrap();
    assert_eq!(page.items.len(), 4);
    let rest = registry.list_attached_policies(&g.arn, false, page.next.as_deref(), 10).unwrap();
    assert_eq!(rest.items.len(), 6);
    assert_eq!(rest.next, None);
}

#[tokio::test]
async fn policies_list_in_both_orders_with_pages() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    for name in ["a", "b", "c"] {
        registry.create_policy(name, ALLOW, vec![]).await.unwrap();
    }
    let first = registry.list_policies(None, 2, false).unwrap();
    assert_eq!(first.next.as_deref(), Some("b"));
    let second = registry.list_policies(first.next.as_deref(), 2, false).unwrap();
    assert_eq!(second.items.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["c"]);
    let descending = registry.list_policies(None, 10, true).unwrap();
    let names: Vec<_> = descending.items.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["c", "b", "a"]);
}

#[tokio::test]
async fn every_authorization_change_moves_the_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    let mut changes = registry.subscribe();
    let g = registry.create_thing_group(group("g", None)).await.unwrap();
    registry.create_thing(NewThing { name: "t".into(), ..NewThing::default() }).await.unwrap();
    registry.create_policy("p", ALLOW, vec![]).await.unwrap();
    let mut epoch = registry.epoch();
    let mut moved = |what: &str| {
        let now = registry.epoch();
        assert!(now > epoch, "{what} did not move the epoch");
        epoch = now;
    };
    registry.add_thing_to_group("g", "t").await.unwrap();
    moved("membership");
    let update = ThingUpdate {
        name: "t".into(),
        attributes: Some(([("k".to_owned(), "v".to_owned())].into(), true)),
        ..ThingUpdate::default()
    };
    registry.update_thing(update).await.unwrap();
    moved("thing attributes");
    registry.attach_policy("p", &g.arn).await.unwrap();
    moved("attach");
    registry.create_policy_version("p", ALLOW, true).await.unwrap();
    moved("new default version");
    registry.set_default_policy_version("p", "1").await.unwrap();
    moved("set default");
    registry.detach_policy("p", &g.arn).await.unwrap();
    moved("detach");
    registry.remove_thing_from_group("g", "t").await.unwrap();
    moved("leave group");
    assert_eq!(changes.try_recv().unwrap(), Change::Authorization);
}
