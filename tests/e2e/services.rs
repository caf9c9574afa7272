//! The internal-client handle: a service inside the process subscribes and publishes through
//! the broker like a device, without a network connection.

use bytes::Bytes;
use ferrocore_broker::{InternalClient, Message};
use ferrocore_mqtt::{QoS as Q, TopicName};
use ferrocore_testkit::TestServer;
use rumqttc::QoS;

#[tokio::test]
async fn a_service_answers_device_requests_through_the_broker() {
    let server = TestServer::start().await;
    let service = InternalClient::new(server.broker(), "echo-service");
    service.subscribe("$aws/things/+/shadow/get", Q::AtLeastOnce).unwrap();
    let responder = tokio::spawn(async move {
        let request = service.recv().await;
        let thing = request.message.topic.as_str().split('/').nth(2).unwrap().to_owned();
        let topic = TopicName::new(&format!("$aws/things/{thing}/shadow/get/accepted")).unwrap();
        service.publish(Message::new(
            topic,
            Bytes::from_static(b"{\"state\":{}}"),
            Q::AtLeastOnce,
            false,
        ));
        service
    });
    let mut device = server.v4("thing-1").await;
    device.subscribe("$aws/things/thing-1/shadow/get/accepted", QoS::AtLeastOnce).await;
    device
        .client
        .publish("$aws/things/thing-1/shadow/get", QoS::AtLeastOnce, false, "")
        .await
        .unwrap();
    let answer = device.publish().await;
    assert_eq!(&answer.payload[..], b"{\"state\":{}}");
    let service = responder.await.unwrap();
    drop(service);
    assert_eq!(server.broker().subscription_count(), 1, "the service's subscription is gone");
}
