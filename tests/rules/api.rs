//! The topic rule and destination operations and their errors, as botocore's model names
//! them.

use aws_sdk_iot::types::{Action, LambdaAction, TopicRuleDestinationStatus, TopicRulePayload};
use ferrocore_testkit::TestServer;

use crate::error_of;
use crate::support::{
    Endpoint, confirmed_destination, create, create_destination, http, payload, republish,
};

#[tokio::test]
async fn create_get_and_list_topic_rules() {
    let server = TestServer::start().await;
    let client = server.iot_client();
    let with_description = TopicRulePayload::builder()
        .sql("SELECT * FROM 'a/+'")
        .description("first")
        .actions(republish("x"))
        .error_action(republish("errors"))
        .build()
        .unwrap();
    create(&server, "r_a", with_description).await;
    create(&server, "r_b", payload("SELECT * FROM 'b/#'", vec![republish("y")])).await;
    let disabled = TopicRulePayload::builder()
        .sql("SELECT * FROM 'a/+'")
        .actions(republish("z"))
        .rule_disabled(true)
        .build()
        .unwrap();
    create(&server, "r_c", disabled).await;

    let got = client.get_topic_rule().rule_name("r_a").send().await.unwrap();
    assert_eq!(got.rule_arn(), Some("arn:aws:iot:us-east-1:000000000000:rule/r_a"));
    let rule = got.rule().unwrap();
    assert_eq!(rule.rule_name(), Some("r_a"));
    assert_eq!(rule.description(), Some("first"));
    assert_eq!(rule.aws_iot_sql_version(), Some("2015-10-08"), "the default version");
    assert_eq!(rule.rule_disabled(), Some(false));
    assert!(rule.created_at().is_some());
    assert_eq!(rule.actions().len(), 1);
    assert_eq!(rule.actions()[0].republish().unwrap().topic(), "x");
    assert_eq!(rule.error_action().unwrap().republish().unwrap().topic(), "errors");

    let all = client.list_topic_rules().send().await.unwrap();
    let names: Vec<&str> = all.rules().iter().filter_map(|r| r.rule_name()).collect();
    assert_eq!(names, ["r_a", "r_b", "r_c"]);
    assert_eq!(all.rules()[1].topic_pattern(), Some("b/#"));
    let by_topic = client.list_topic_rules().topic("a/+").send().await.unwrap();
    assert_eq!(by_topic.rules().len(), 2);
    let only_disabled = client.list_topic_rules().rule_disabled(true).send().await.unwrap();
    let names: Vec<&str> = only_disabled.rules().iter().filter_map(|r| r.rule_name()).collect();
    assert_eq!(names, ["r_c"]);
    let first = client.list_topic_rules().max_results(2).send().await.unwrap();
    assert_eq!(first.rules().len(), 2);
    let token = first.next_token().unwrap();
    let second = client.list_topic_rules().max_results(2).next_token(token).send().await.unwrap();
    assert_eq!(second.rules()[0].rule_name(), Some("r_c"));
    assert_eq!(second.next_token(), None);
    let (code, status, _) = error_of(client.list_topic_rules().max_results(0).send().await);
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
}

#[tokio::test]
async fn rule_errors_have_aws_names_and_statuses() {
    let server = TestServer::start().await;
    let client = server.iot_client();
    let (code, status, message) =
        create_error(&client, "bad_sql", payload("SELECT * FORM 'a'", vec![])).await;
    assert_eq!((code.as_str(), status), ("SqlParseException", 400));
    assert!(message.contains("position"), "{message}");

    let lambda = Action::builder()
        .lambda(
            LambdaAction::builder()
                .function_arn("arn:aws:lambda:us-east-1:0:function:f")
                .build()
                .unwrap(),
        )
        .build();
    let (code, status, message) = create_error(
        &client,
        "uses_lambda",
        payload("SELECT * FROM 'a'", vec![republish("ok"), lambda]),
    )
    .await;
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
    assert!(message.contains("lambda"), "{message}");
    let (code, ..) = error_of(client.get_topic_rule().rule_name("uses_lambda").send().await);
    assert_eq!(code, "UnauthorizedException", "nothing was created");

    let (code, status, _) =
        create_error(&client, "bad-name", payload("SELECT * FROM 'a'", vec![])).await;
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));

    let (code, status, _) = create_error(
        &client,
        "jobs",
        payload("SELECT * FROM 'a'", vec![republish("$$aws/things/t/jobs/notify")]),
    )
    .await;
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));

    create(&server, "twice", payload("SELECT * FROM 'a'", vec![])).await;
    let (code, status, _) =
        create_error(&client, "twice", payload("SELECT * FROM 'a'", vec![])).await;
    assert_eq!((code.as_str(), status), ("ResourceAlreadyExistsException", 409));

    let (code, status, _) = error_of(
        client
            .replace_topic_rule()
            .rule_name("twice")
            .topic_rule_payload(payload("SELECT FROM", vec![]))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("SqlParseException", 400));
    for (code, status) in [
        error_of(
            client
                .replace_topic_rule()
                .rule_name("missing")
                .topic_rule_payload(payload("SELECT * FROM 'a'", vec![]))
                .send()
                .await,
        ),
        error_of(client.enable_topic_rule().rule_name("missing").send().await),
        error_of(client.disable_topic_rule().rule_name("missing").send().await),
        error_of(client.delete_topic_rule().rule_name("missing").send().await),
    ]
    .into_iter()
    .map(|(c, s, _)| (c, s))
    {
        assert_eq!((code.as_str(), status), ("UnauthorizedException", 401));
    }
}

#[tokio::test]
async fn destinations_are_confirmed_before_use() {
    let server = TestServer::start().await;
    let client = server.iot_client();
    let mut endpoint = Endpoint::start().await;
    let url = endpoint.url("/api");
    let (arn, message) = create_destination(&server, &mut endpoint, &url).await;
    assert!(arn.starts_with("arn:aws:iot:us-east-1:000000000000:ruledestination/http/"), "{arn}");
    assert_eq!(message["arn"], arn.as_str());
    assert_eq!(message["messageType"], "DestinationConfirmation");
    let token = message["confirmationToken"].as_str().unwrap().to_owned();
    assert_eq!(
        message["enableUrl"].as_str().unwrap(),
        format!("{}/confirmdestination/{token}", server.endpoint_url())
    );

    // Unconfirmed: an HTTP action is refused, and it cannot be enabled by update.
    let (code, status, message) = create_error(
        &client,
        "early",
        payload("SELECT * FROM 'a'", vec![http(&format!("{url}/x"))]),
    )
    .await;
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
    assert!(message.contains("not confirmed"), "{message}");
    let (code, ..) = error_of(
        client
            .update_topic_rule_destination()
            .arn(&arn)
            .status(TopicRuleDestinationStatus::Enabled)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidRequestException");
    // No destination at all: refused too.
    let (code, ..) = create_error(
        &client,
        "nowhere",
        payload("SELECT * FROM 'a'", vec![http("http://127.0.0.1:1/none")]),
    )
    .await;
    assert_eq!(code, "InvalidRequestException");

    let (code, ..) = error_of(
        client.confirm_topic_rule_destination().confirmation_token("not-a-token").send().await,
    );
    assert_eq!(code, "InvalidRequestException");
    client.confirm_topic_rule_destination().confirmation_token(&token).send().await.unwrap();
    let got = client.get_topic_rule_destination().arn(&arn).send().await.unwrap();
    let destination = got.topic_rule_destination().unwrap();
    assert_eq!(destination.status(), Some(&TopicRuleDestinationStatus::Enabled));
    assert_eq!(destination.http_url_properties().unwrap().confirmation_url(), Some(url.as_str()));
    create(&server, "later", payload("SELECT * FROM 'a'", vec![http(&format!("{url}/x"))])).await;

    client
        .update_topic_rule_destination()
        .arn(&arn)
        .status(TopicRuleDestinationStatus::Disabled)
        .send()
        .await
        .unwrap();
    let listed = client.list_topic_rule_destinations().send().await.unwrap();
    let summaries = listed.destination_summaries();
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].status(), Some(&TopicRuleDestinationStatus::Disabled));
    assert_eq!(summaries[0].http_url_summary().unwrap().confirmation_url(), Some(url.as_str()));

    // Same URL again: already exists.
    let (code, status, _) = error_of(
        client
            .create_topic_rule_destination()
            .destination_configuration(
                aws_sdk_iot::types::TopicRuleDestinationConfiguration::builder()
                    .http_url_configuration(
                        aws_sdk_iot::types::HttpUrlDestinationConfiguration::builder()
                            .confirmation_url(&url)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("ResourceAlreadyExistsException", 409));

    client.delete_topic_rule_destination().arn(&arn).send().await.unwrap();
    let (code, ..) = error_of(client.get_topic_rule_destination().arn(&arn).send().await);
    assert_eq!(code, "InvalidRequestException");
    let (code, ..) = error_of(client.delete_topic_rule_destination().arn(&arn).send().await);
    assert_eq!(code, "InvalidRequestException");
    assert!(
        client
            .list_topic_rule_destinations()
            .send()
            .await
            .unwrap()
            .destination_summaries()
            .is_empty()
    );
}

#[tokio::test]
async fn a_disabled_destination_stops_http_actions() {
    let server = TestServer::start_with(|config| config.rules.retries = 0).await;
    let client = server.iot_client();
    let mut endpoint = Endpoint::start().await;
    let url = endpoint.url("/d");
    let arn = confirmed_destination(&server, &mut endpoint, &url).await;
    create(&server, "to_d", payload("SELECT * FROM 'd/in'", vec![http(&url)])).await;
    let publisher = server.v4("p").await;
    publisher.client.publish("d/in", rumqttc::QoS::AtLeastOnce, false, "p1").await.unwrap();
    assert_eq!(endpoint.next().await.body, "p1");
    client
        .update_topic_rule_destination()
        .arn(&arn)
        .status(TopicRuleDestinationStatus::Disabled)
        .send()
        .await
        .unwrap();
    publisher.client.publish("d/in", rumqttc::QoS::AtLeastOnce, false, "p2").await.unwrap();
    tokio::time::sleep(ferrocore_testkit::QUIET).await;
    assert!(endpoint.received.try_recv().is_err(), "nothing sent to a disabled destination");
    client
        .update_topic_rule_destination()
        .arn(&arn)
        .status(TopicRuleDestinationStatus::Enabled)
        .send()
        .await
        .unwrap();
    publisher.client.publish("d/in", rumqttc::QoS::AtLeastOnce, false, "p3").await.unwrap();
    assert_eq!(endpoint.next().await.body, "p3");
}

/// CreateTopicRule that is expected to fail: its error code, HTTP status and message.
async fn create_error(
    client: &aws_sdk_iot::Client,
    name: &str,
    payload: TopicRulePayload,
) -> (String, u16, String) {
    error_of(client.create_topic_rule().rule_name(name).topic_rule_payload(payload).send().await)
}
