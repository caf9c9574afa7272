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
    let before = server.broker().subscription_count();
    let service = InternalClient::new(server.broker(), "echo-service");
    service.subscribe("echo/+/request", Q::AtLeastOnce).unwrap();
    let responder = tokio::spawn(async move {
        let request = service.recv().await;
        let device = request.message.topic.as_str().split('/').nth(1).unwrap().to_owned();
        let topic = TopicName::new(&format!("echo/{device}/response")).unwrap();
        let mut payload = b"echo:".to_vec();
        payload.extend_from_slice(&request.message.payload);
        service.publish(Message::new(topic, Bytes::from(payload), Q::AtLeastOnce, false));
        service
    });
    let mut device = server.v4("thing-1").await;
    device.subscribe("echo/thing-1/response", QoS::AtLeastOnce).await;
    device.client.publish("echo/thing-1/request", QoS::AtLeastOnce, false, "hi").await.unwrap();
    let answer = device.publish().await;
    assert_eq!(&answer.payload[..], b"echo:hi");
    let service = responder.await.unwrap();
    drop(service);
    assert_eq!(
        server.broker().subscription_count(),
        before + 1,
        "the service's subscription is gone; the device's remains"
    );
}
