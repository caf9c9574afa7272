//! Policies, versions and attachments through the SDK: CRUD and every error path, versions
//! (limit, default, ids), attach/detach to thing groups and certificates, listings,
//! GetEffectivePolicies with inherited group policies, TestAuthorization.

use aws_sdk_iot::types::{ActionType, AuthDecision, AuthInfo};
use ferrocore_testkit::TestServer;

use crate::error_of;

const ARN: &str = "arn:aws:iot:us-east-1:000000000000";

fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

fn deny(action: &str, resource: &str) -> String {
    allow(action, resource).replace("Allow", "Deny")
}

async fn create(iot: &aws_sdk_iot::Client, name: &str, document: &str) {
    iot.create_policy().policy_name(name).policy_document(document).send().await.unwrap();
}

/// A registered, active certificate's ARN (CreateKeysAndCertificate).
pub(crate) async fn certificate(iot: &aws_sdk_iot::Client) -> String {
    let created = iot.create_keys_and_certificate().set_as_active(true).send().await.unwrap();
    created.certificate_arn().unwrap().to_owned()
}

async fn group(iot: &aws_sdk_iot::Client, name: &str, parent: Option<&str>) -> String {
    let created = iot
        .create_thing_group()
        .thing_group_name(name)
        .set_parent_group_name(parent.map(Into::into))
        .send()
        .await
        .unwrap();
    created.thing_group_arn().unwrap().to_owned()
}

#[tokio::test]
async fn policy_crud_and_its_errors() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let document = allow("iot:Connect", "*");
    let created = iot
        .create_policy()
        .policy_name("p-1")
        .policy_document(&document)
        .tags(aws_sdk_iot::types::Tag::builder().key("team").value("a").build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(created.policy_name(), Some("p-1"));
    assert_eq!(created.policy_arn(), Some(format!("{ARN}:policy/p-1").as_str()));
    assert_eq!(created.policy_version_id(), Some("1"));
    assert_eq!(created.policy_document(), Some(document.as_str()));

    let got = iot.get_policy().policy_name("p-1").send().await.unwrap();
    assert_eq!(got.default_version_id(), Some("1"));
    assert_eq!(got.policy_document(), Some(document.as_str()));
    assert!(got.creation_date().is_some() && got.last_modified_date().is_some());
    assert!(got.generation_id().is_some());

    let (code, status, _) =
        error_of(iot.create_policy().policy_name("p-1").policy_document(&document).send().await);
    assert_eq!((code.as_str(), status), ("ResourceAlreadyExistsException", 409));

    let (code, status, message) = error_of(
        iot.create_policy()
            .policy_name("bad")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"iot:Connect","Resource":"*"}]}"#)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("MalformedPolicyException", 400));
    assert!(message.contains("Effect"), "the fault is named: {message}");
    let (code, _, message) =
        error_of(iot.create_policy().policy_name("bad").policy_document("not json").send().await);
    assert_eq!(code, "MalformedPolicyException");
    assert!(message.contains("JSON"), "{message}");

    for bad_name in ["a b", "a/b", &"x".repeat(129)] {
        let (code, status, _) = error_of(
            iot.create_policy().policy_name(bad_name).policy_document(&document).send().await,
        );
        assert_eq!((code.as_str(), status), ("InvalidRequestException", 400), "{bad_name}");
    }
    iot.create_policy()
        .policy_name("a+b=c,d.e@f-g_h")
        .policy_document(&document)
        .send()
        .await
        .unwrap();

    let (code, status, _) = error_of(iot.get_policy().policy_name("ghost").send().await);
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
    let (code, _, _) = error_of(iot.delete_policy().policy_name("ghost").send().await);
    assert_eq!(code, "ResourceNotFoundException");

    let tags = iot
        .list_tags_for_resource()
        .resource_arn(format!("{ARN}:policy/p-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!((tags.tags()[0].key(), tags.tags()[0].value()), ("team", Some("a")));

    iot.delete_policy().policy_name("p-1").send().await.unwrap();
    let (code, _, _) = error_of(iot.get_policy().policy_name("p-1").send().await);
    // Its tags went with it.
    let (code_tags, _, _) = error_of(
        iot.list_tags_for_resource().resource_arn(format!("{ARN}:policy/p-1")).send().await,
    );
    assert_eq!(code_tags, "ResourceNotFoundException");
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn policies_list_with_markers_in_both_orders() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    for name in ["a", "b", "c"] {
        create(&iot, name, &allow("iot:Connect", "*")).await;
    }
    let first = iot.list_policies().page_size(2).send().await.unwrap();
    let names: Vec<_> = first.policies().iter().map(|p| p.policy_name().unwrap()).collect();
    assert_eq!(names, ["a", "b"]);
    let marker = first.next_marker().unwrap();
    let second = iot.list_policies().page_size(2).marker(marker).send().await.unwrap();
    let names: Vec<_> = second.policies().iter().map(|p| p.policy_name().unwrap()).collect();
    assert_eq!(names, ["c"]);
    assert_eq!(second.next_marker(), None);
    assert_eq!(second.policies()[0].policy_arn(), Some(format!("{ARN}:policy/c").as_str()));
    let descending = iot.list_policies().ascending_order(false).send().await.unwrap();
    let names: Vec<_> = descending.policies().iter().map(|p| p.policy_name().unwrap()).collect();
    assert_eq!(names, ["c", "b", "a"]);
    let (code, _, _) = error_of(iot.list_policies().page_size(0).send().await);
    assert_eq!(code, "InvalidRequestException");
    let (code, _, _) = error_of(iot.list_policies().marker("bm90IGEgbWFya2Vy").send().await);
    assert_eq!(code, "InvalidRequestException");
}

#[tokio::test]
async fn versions_are_limited_to_five_and_the_default_is_protected() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    create(&iot, "p", &allow("iot:Connect", "*")).await;
    for id in 2..=5 {
        let version = iot
            .create_policy_version()
            .policy_name("p")
            .policy_document(allow("iot:Publish", &format!("{ARN}:topic/v{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(version.policy_version_id(), Some(id.to_string().as_str()));
        assert!(!version.is_default_version());
    }
    let (code, status, _) = error_of(
        iot.create_policy_version()
            .policy_name("p")
            .policy_document(allow("iot:Connect", "*"))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("VersionsLimitExceededException", 409));

    let (code, status, _) =
        error_of(iot.delete_policy_version().policy_name("p").policy_version_id("1").send().await);
    assert_eq!((code.as_str(), status), ("DeleteConflictException", 409));
    let (code, status, message) = error_of(iot.delete_policy().policy_name("p").send().await);
    assert_eq!((code.as_str(), status), ("DeleteConflictException", 409), "{message}");

    iot.set_default_policy_version().policy_name("p").policy_version_id("3").send().await.unwrap();
    let policy = iot.get_policy().policy_name("p").send().await.unwrap();
    assert_eq!(policy.default_version_id(), Some("3"));
    assert!(policy.policy_document().unwrap().contains("topic/v3"));
    let version =
        iot.get_policy_version().policy_name("p").policy_version_id("3").send().await.unwrap();
    assert!(version.is_default_version());
    assert_eq!(version.policy_name(), Some("p"));
    assert!(version.creation_date().is_some() && version.generation_id().is_some());
    let version =
        iot.get_policy_version().policy_name("p").policy_version_id("1").send().await.unwrap();
    assert!(!version.is_default_version());

    // Ids are never reused: after deleting 5, the next version is 6.
    iot.delete_policy_version().policy_name("p").policy_version_id("5").send().await.unwrap();
    let sixth = iot
        .create_policy_version()
        .policy_name("p")
        .policy_document(allow("iot:Connect", "*"))
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    assert_eq!((sixth.policy_version_id(), sixth.is_default_version()), (Some("6"), true));
    let listed = iot.list_policy_versions().policy_name("p").send().await.unwrap();
    let ids: Vec<_> = listed.policy_versions().iter().map(|v| v.version_id().unwrap()).collect();
    assert_eq!(ids, ["6", "4", "3", "2", "1"]);
    let defaults: Vec<_> =
        listed.policy_versions().iter().filter(|v| v.is_default_version()).collect();
    assert_eq!(defaults.len(), 1);

    for (name, id, expected) in [
        ("p", "5", "ResourceNotFoundException"),
        ("ghost", "1", "ResourceNotFoundException"),
        ("p", "x", "InvalidRequestException"),
    ] {
        let (code, _, _) =
            error_of(iot.get_policy_version().policy_name(name).policy_version_id(id).send().await);
        assert_eq!(code, expected, "{name} {id}");
    }
    let (code, _, _) = error_of(
        iot.set_default_policy_version().policy_name("p").policy_version_id("5").send().await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) =
        error_of(iot.create_policy_version().policy_name("p").policy_document("{}").send().await);
    assert_eq!(code, "MalformedPolicyException");
    let (code, _, _) = error_of(
        iot.create_policy_version()
            .policy_name("ghost")
            .policy_document(allow("iot:Connect", "*"))
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) = error_of(iot.list_policy_versions().policy_name("ghost").send().await);
    assert_eq!(code, "ResourceNotFoundException");

    for id in ["1", "2", "3", "4"] {
        iot.delete_policy_version().policy_name("p").policy_version_id(id).send().await.unwrap();
    }
    iot.delete_policy().policy_name("p").send().await.unwrap();
}

#[tokio::test]
async fn attachments_to_thing_groups_are_listed_both_ways_and_block_deletion() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let root = group(&iot, "root", None).await;
    let child = group(&iot, "child", Some("root")).await;
    create(&iot, "on-root", &allow("iot:Connect", "*")).await;
    create(&iot, "on-child", &allow("iot:Publish", "*")).await;
    iot.attach_policy().policy_name("on-root").target(&root).send().await.unwrap();
    iot.attach_policy().policy_name("on-child").target(&child).send().await.unwrap();
    // Attaching again is fine.
    iot.attach_policy().policy_name("on-child").target(&child).send().await.unwrap();

    let direct = iot.list_attached_policies().target(&child).send().await.unwrap();
    let names: Vec<_> = direct.policies().iter().map(|p| p.policy_name().unwrap()).collect();
    assert_eq!(names, ["on-child"]);
    let recursive =
        iot.list_attached_policies().target(&child).recursive(true).send().await.unwrap();
    let names: Vec<_> = recursive.policies().iter().map(|p| p.policy_name().unwrap()).collect();
    assert_eq!(names, ["on-child", "on-root"]);
    let targets = iot.list_targets_for_policy().policy_name("on-root").send().await.unwrap();
    assert_eq!(targets.targets(), std::slice::from_ref(&root));

    let (code, status, message) = error_of(iot.delete_policy().policy_name("on-root").send().await);
    assert_eq!((code.as_str(), status), ("DeleteConflictException", 409));
    assert!(message.contains("attached"), "{message}");

    // Errors: unknown policy, unknown group, malformed target, too many policies.
    let (code, _, _) =
        error_of(iot.attach_policy().policy_name("ghost").target(&root).send().await);
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) = error_of(
        iot.attach_policy()
            .policy_name("on-root")
            .target(format!("{ARN}:thinggroup/ghost"))
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) = error_of(
        iot.attach_policy()
            .policy_name("on-root")
            .target(format!("{ARN}:cert/{}", "0".repeat(64)))
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) =
        error_of(iot.attach_policy().policy_name("on-root").target("nonsense").send().await);
    assert_eq!(code, "InvalidRequestException");
    let (code, _, _) = error_of(
        iot.list_attached_policies().target(format!("{ARN}:thinggroup/ghost")).send().await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) = error_of(iot.list_targets_for_policy().policy_name("ghost").send().await);
    assert_eq!(code, "ResourceNotFoundException");
    for i in 1..10 {
        let name = format!("extra-{i}");
        create(&iot, &name, &allow("iot:Connect", "*")).await;
        iot.attach_policy().policy_name(&name).target(&root).send().await.unwrap();
    }
    create(&iot, "eleventh", &allow("iot:Connect", "*")).await;
    let (code, status, _) =
        error_of(iot.attach_policy().policy_name("eleventh").target(&root).send().await);
    assert_eq!((code.as_str(), status), ("LimitExceededException", 410));
    let page = iot.list_attached_policies().target(&root).page_size(4).send().await.unwrap();
    assert_eq!(page.policies().len(), 4);
    let rest = iot
        .list_attached_policies()
        .target(&root)
        .marker(page.next_marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.policies().len(), 6);

    iot.detach_policy().policy_name("on-root").target(&root).send().await.unwrap();
    // Detaching what is not attached is fine.
    iot.detach_policy().policy_name("on-root").target(&root).send().await.unwrap();
    assert!(
        iot.list_targets_for_policy()
            .policy_name("on-root")
            .send()
            .await
            .unwrap()
            .targets()
            .is_empty()
    );
    iot.delete_policy().policy_name("on-root").send().await.unwrap();

    // A deleted group takes its attachments with it.
    iot.delete_thing_group().thing_group_name("child").send().await.unwrap();
    assert!(
        iot.list_targets_for_policy()
            .policy_name("on-child")
            .send()
            .await
            .unwrap()
            .targets()
            .is_empty()
    );
    iot.delete_policy().policy_name("on-child").send().await.unwrap();
}

#[tokio::test]
#[allow(deprecated)] // The deprecated operations are still served, as AWS does.
async fn attachments_to_certificates_and_the_deprecated_principal_operations() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let cert = certificate(&iot).await;
    create(&iot, "device", &allow("iot:Connect", "*")).await;
    create(&iot, "legacy", &allow("iot:Publish", "*")).await;
    iot.attach_policy().policy_name("device").target(&cert).send().await.unwrap();
    iot.attach_principal_policy().policy_name("legacy").principal(&cert).send().await.unwrap();

    let attached = iot.list_attached_policies().target(&cert).send().await.unwrap();
    let names: Vec<_> = attached.policies().iter().map(|p| p.policy_name().unwrap()).collect();
    assert_eq!(names, ["device", "legacy"]);
    let listed = iot.list_principal_policies().principal(&cert).send().await.unwrap();
    assert_eq!(listed.policies().len(), 2);
    let principals = iot.list_policy_principals().policy_name("legacy").send().await.unwrap();
    assert_eq!(principals.principals(), std::slice::from_ref(&cert));
    let targets = iot.list_targets_for_policy().policy_name("device").send().await.unwrap();
    assert_eq!(targets.targets(), std::slice::from_ref(&cert));

    let (code, _, _) = error_of(iot.delete_policy().policy_name("device").send().await);
    assert_eq!(code, "DeleteConflictException");
    iot.detach_principal_policy().policy_name("legacy").principal(&cert).send().await.unwrap();
    iot.detach_policy().policy_name("device").target(&cert).send().await.unwrap();
    assert!(iot.list_attached_policies().target(&cert).send().await.unwrap().policies().is_empty());
    iot.delete_policy().policy_name("device").send().await.unwrap();
    let (code, _, _) =
        error_of(iot.detach_principal_policy().policy_name("ghost").principal(&cert).send().await);
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn effective_policies_include_the_groups_of_the_thing_and_their_ancestors() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let cert = certificate(&iot).await;
    iot.create_thing().thing_name("dev-1").send().await.unwrap();
    iot.attach_thing_principal().thing_name("dev-1").principal(&cert).send().await.unwrap();
    let root = group(&iot, "fleet", None).await;
    group(&iot, "site", Some("fleet")).await;
    iot.add_thing_to_thing_group()
        .thing_group_name("site")
        .thing_name("dev-1")
        .send()
        .await
        .unwrap();
    create(&iot, "own", &allow("iot:Connect", "*")).await;
    create(&iot, "inherited", &allow("iot:Publish", "*")).await;
    create(&iot, "unrelated", &allow("iot:Receive", "*")).await;
    iot.attach_policy().policy_name("own").target(&cert).send().await.unwrap();
    iot.attach_policy().policy_name("inherited").target(&root).send().await.unwrap();

    let effective = iot.get_effective_policies().principal(&cert).send().await.unwrap();
    let names: Vec<_> =
        effective.effective_policies().iter().map(|p| p.policy_name().unwrap()).collect();
    assert_eq!(names, ["inherited", "own"]);
    let inherited = &effective.effective_policies()[0];
    assert_eq!(inherited.policy_arn(), Some(format!("{ARN}:policy/inherited").as_str()));
    assert_eq!(inherited.policy_document(), Some(allow("iot:Publish", "*").as_str()));

    let by_thing =
        iot.get_effective_policies().principal(&cert).thing_name("dev-1").send().await.unwrap();
    assert_eq!(by_thing.effective_policies().len(), 2);
    let recursive =
        iot.list_attached_policies().target(&cert).recursive(true).send().await.unwrap();
    assert_eq!(recursive.policies().len(), 2);

    // Leaving the group drops the inherited policy.
    iot.remove_thing_from_thing_group()
        .thing_group_name("site")
        .thing_name("dev-1")
        .send()
        .await
        .unwrap();
    let effective = iot.get_effective_policies().principal(&cert).send().await.unwrap();
    let names: Vec<_> =
        effective.effective_policies().iter().map(|p| p.policy_name().unwrap()).collect();
    assert_eq!(names, ["own"]);

    let (code, _, _) =
        error_of(iot.get_effective_policies().principal(&cert).thing_name("ghost").send().await);
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) = error_of(
        iot.get_effective_policies()
            .principal(format!("{ARN}:cert/{}", "1".repeat(64)))
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
}

fn auth_info(action: ActionType, resource: &str) -> AuthInfo {
    AuthInfo::builder().action_type(action).resources(resource).build().unwrap()
}

#[tokio::test]
async fn test_authorization_allows_denies_and_fills_variables() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let cert = certificate(&iot).await;
    iot.create_thing().thing_name("sensor-7").send().await.unwrap();
    iot.attach_thing_principal().thing_name("sensor-7").principal(&cert).send().await.unwrap();
    let connect =
        allow("iot:Connect", &format!("{ARN}:client/${{iot:Connection.Thing.ThingName}}"));
    create(&iot, "connect-as-thing", &connect).await;
    create(
        &iot,
        "publish-own",
        &allow("iot:Publish", &format!("{ARN}:topic/clients/${{iot:ClientId}}/*")),
    )
    .await;
    create(&iot, "no-secrets", &deny("iot:Publish", &format!("{ARN}:topic/clients/*/secret")))
        .await;
    create(&iot, "subscribe-all", &allow("iot:Subscribe", "*")).await;
    let by_cn =
        allow("iot:Receive", &format!("{ARN}:topic/cn/${{iot:Certificate.Subject.CommonName}}"));
    create(&iot, "receive-by-cn", &by_cn).await;
    for name in ["connect-as-thing", "publish-own", "no-secrets", "receive-by-cn"] {
        iot.attach_policy().policy_name(name).target(&cert).send().await.unwrap();
    }

    let result = iot
        .test_authorization()
        .principal(&cert)
        .client_id("sensor-7")
        .auth_infos(auth_info(ActionType::Connect, &format!("{ARN}:client/sensor-7")))
        .auth_infos(auth_info(ActionType::Publish, &format!("{ARN}:topic/clients/sensor-7/temp")))
        .auth_infos(auth_info(ActionType::Publish, &format!("{ARN}:topic/clients/sensor-7/secret")))
        .auth_infos(auth_info(ActionType::Publish, &format!("{ARN}:topic/clients/other/temp")))
        .auth_infos(auth_info(ActionType::Subscribe, &format!("{ARN}:topicfilter/a/#")))
        // The server's CA issues device certificates with CN "AWS IoT Certificate", as AWS does.
        .auth_infos(auth_info(ActionType::Receive, &format!("{ARN}:topic/cn/AWS IoT Certificate")))
        .send()
        .await
        .unwrap();
    let decisions: Vec<_> =
        result.auth_results().iter().map(|r| r.auth_decision().unwrap().clone()).collect();
    assert_eq!(
        decisions,
        [
            AuthDecision::Allowed,
            AuthDecision::Allowed,
            AuthDecision::ExplicitDeny,
            AuthDecision::ImplicitDeny,
            AuthDecision::ImplicitDeny,
            AuthDecision::Allowed,
        ]
    );
    let connect = &result.auth_results()[0];
    let allowed: Vec<_> =
        connect.allowed().unwrap().policies().iter().map(|p| p.policy_name().unwrap()).collect();
    assert_eq!(allowed, ["connect-as-thing"]);
    assert_eq!(connect.auth_info().unwrap().action_type(), Some(&ActionType::Connect));
    let denied = result.auth_results()[2].denied().unwrap();
    let explicit: Vec<_> = denied
        .explicit_deny()
        .unwrap()
        .policies()
        .iter()
        .map(|p| p.policy_name().unwrap())
        .collect();
    assert_eq!(explicit, ["no-secrets"]);
    let implicit = result.auth_results()[3].denied().unwrap().implicit_deny().unwrap();
    assert!(!implicit.policies().is_empty());

    // A client id that is not the attached thing fills no thing variables.
    let other = iot
        .test_authorization()
        .principal(&cert)
        .client_id("someone-else")
        .auth_infos(auth_info(ActionType::Connect, &format!("{ARN}:client/someone-else")))
        .send()
        .await
        .unwrap();
    let other = &other.auth_results()[0];
    assert_eq!(other.auth_decision(), Some(&AuthDecision::ImplicitDeny));
    assert_eq!(other.missing_context_values(), ["iot:Connection.Thing.ThingName"]);

    // policyNamesToAdd and policyNamesToSkip.
    let added = iot
        .test_authorization()
        .principal(&cert)
        .client_id("sensor-7")
        .policy_names_to_add("subscribe-all")
        .policy_names_to_skip("no-secrets")
        .auth_infos(auth_info(ActionType::Subscribe, &format!("{ARN}:topicfilter/a/#")))
        .auth_infos(auth_info(ActionType::Publish, &format!("{ARN}:topic/clients/sensor-7/secret")))
        .send()
        .await
        .unwrap();
    let decisions: Vec<_> =
        added.auth_results().iter().map(|r| r.auth_decision().unwrap().clone()).collect();
    assert_eq!(decisions, [AuthDecision::Allowed, AuthDecision::Allowed]);

    let (code, _, _) = error_of(
        iot.test_authorization()
            .principal(&cert)
            .policy_names_to_add("ghost")
            .auth_infos(auth_info(ActionType::Connect, &format!("{ARN}:client/x")))
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) = error_of(iot.test_authorization().principal(&cert).send().await);
    assert_eq!(code, "InvalidRequestException");
    let (code, _, _) = error_of(
        iot.test_authorization()
            .principal(format!("{ARN}:cert/{}", "2".repeat(64)))
            .auth_infos(auth_info(ActionType::Connect, &format!("{ARN}:client/x")))
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
}
