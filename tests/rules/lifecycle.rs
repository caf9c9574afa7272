//! Rule changes take effect at once, without a restart, and rules survive one.

use ferrocore_testkit::TestServer;
use rumqttc::QoS;

use crate::error_of;
use crate::support::{create, payload, republish};

#[tokio::test]
async fn disable_enable_replace_and_delete_take_effect_at_once() {
    let server = TestServer::start().await;
    let client = server.iot_client();
    create(&server, "life", payload("SELECT * FROM 'life/in'", vec![republish("life/out")])).await;
    let mut sub = server.v4("sub").await;
    sub.subscribe("life/#", QoS::AtLeastOnce).await;
    let publisher = server.v4("p").await;
    let send = |text: &'static str| {
        let client = publisher.client.clone();
        async move { client.publish("life/in", QoS::AtLeastOnce, false, text).await.unwrap() }
    };
    send("1").await;
    let mut topics = vec![sub.publish().await.topic, sub.publish().await.topic];
    topics.sort();
    assert_eq!(topics, ["life/in", "life/out"]);

    client.disable_topic_rule().rule_name("life").send().await.unwrap();
    let rule = client.get_topic_rule().rule_name("life").send().await.unwrap();
    assert_eq!(rule.rule().unwrap().rule_disabled(), Some(true));
    send("2").await;
    assert_eq!(sub.publish().await.topic, "life/in");
    sub.no_publish().await;

    client.enable_topic_rule().rule_name("life").send().await.unwrap();
    send("3").await;
    let mut topics = vec![sub.publish().await.topic, sub.publish().await.topic];
    topics.sort();
    assert_eq!(topics, ["life/in", "life/out"]);

    client
        .replace_topic_rule()
        .rule_name("life")
        .topic_rule_payload(payload("SELECT * FROM 'life/in'", vec![republish("life/replaced")]))
        .send()
        .await
        .unwrap();
    send("4").await;
    let mut topics = vec![sub.publish().await.topic, sub.publish().await.topic];
    topics.sort();
    assert_eq!(topics, ["life/in", "life/replaced"]);

    client.delete_topic_rule().rule_name("life").send().await.unwrap();
    send("5").await;
    assert_eq!(sub.publish().await.topic, "life/in");
    sub.no_publish().await;
    let (code, status, _) = error_of(client.get_topic_rule().rule_name("life").send().await);
    assert_eq!((code.as_str(), status), ("UnauthorizedException", 401));
}

#[tokio::test]
async fn rules_survive_a_restart() {
    let server = TestServer::start().await;
    create(&server, "durable", payload("SELECT * FROM 'keep/in'", vec![republish("keep/out")]))
        .await;
    let disabled = aws_sdk_iot::types::TopicRulePayload::builder()
        .sql("SELECT * FROM 'keep/in'")
        .actions(republish("keep/disabled"))
        .rule_disabled(true)
        .build()
        .unwrap();
    create(&server, "sleeping", disabled).await;
    let dir = server.stop().await;
    let server = TestServer::start_in(dir, |_| {}).await;
    let rule = server.iot_client().get_topic_rule().rule_name("durable").send().await.unwrap();
    assert_eq!(rule.rule().unwrap().sql(), Some("SELECT * FROM 'keep/in'"));
    let mut sub = server.v4("sub").await;
    sub.subscribe("keep/+", QoS::AtLeastOnce).await;
    let publisher = server.v4("p").await;
    publisher.client.publish("keep/in", QoS::AtLeastOnce, false, "x").await.unwrap();
    let mut topics = vec![sub.publish().await.topic, sub.publish().await.topic];
    topics.sort();
    assert_eq!(topics, ["keep/in", "keep/out"], "the enabled rule runs, the disabled one does not");
    sub.no_publish().await;
}
